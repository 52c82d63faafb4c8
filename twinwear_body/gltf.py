"""Binary glTF 2.0 (GLB) export of a body mesh: metres, +Y up, facing +Z (glTF's own conventions). Pure."""

from __future__ import annotations

import json
import struct

import numpy as np

_FLOAT, _UINT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def _padded(data: bytes, pad: bytes) -> bytes:
    return data + pad * (-len(data) % 4)


def export_glb(mesh) -> bytes:  # mesh: twinwear_body.model.BodyMesh
    """One mesh, one node: positions, normals, texture coordinates (when present) and triangles."""
    attributes = [("POSITION", mesh.vertices.astype(np.float32)), ("NORMAL", mesh.normals.astype(np.float32))]
    if mesh.uvs is not None:
        attributes.append(("TEXCOORD_0", mesh.uvs.astype(np.float32)))
    indices = mesh.faces.astype(np.uint32).ravel()
    blobs, views, accessors = [], [], []
    offset = 0
    for name, array in attributes:
        blob = array.tobytes()
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": _ARRAY_BUFFER})
        accessor = {"bufferView": len(views) - 1, "componentType": _FLOAT, "count": len(array)}
        accessor["type"] = "VEC3" if array.shape[1] == 3 else "VEC2"
        if name == "POSITION":  # glTF requires bounds on positions
            accessor.update(min=array.min(axis=0).tolist(), max=array.max(axis=0).tolist())
        accessors.append(accessor)
        blobs.append(blob)
        offset += len(blob)
    index_blob = indices.tobytes()
    views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(index_blob), "target": _ELEMENT_ARRAY_BUFFER})
    accessors.append({"bufferView": len(views) - 1, "componentType": _UINT, "count": len(indices), "type": "SCALAR"})
    binary = _padded(b"".join([*blobs, index_blob]), b"\0")
    document = {
        "asset": {"version": "2.0", "generator": "twinwear_body"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "body"}],
        "meshes": [
            {
                "name": "body",
                "primitives": [
                    {
                        "attributes": {name: i for i, (name, _) in enumerate(attributes)},
                        "indices": len(accessors) - 1,
                        "mode": 4,
                    }
                ],
            }
        ],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    json_chunk = _padded(json.dumps(document, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(json_chunk), b"JSON"),
            json_chunk,
            struct.pack("<I4s", len(binary), b"BIN\0"),
            binary,
        ]
    )
