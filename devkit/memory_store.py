"""An in-memory stand-in for MinIO (``ObjectStore``), for tests of handlers and in-process benchmarks."""

from __future__ import annotations

from twinwear.v1 import events_pb2
from twinwear_runtime.storage import MissingObject


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str, dict[str, str]]] = {}
        self.gets = 0

    def put(self, bucket, key, data, content_type, metadata=None):
        self.objects[(bucket, key)] = (data, content_type, dict(metadata or {}))
        return events_pb2.ObjectRef(bucket=bucket, key=key, content_type=content_type, size_bytes=len(data))

    def get(self, ref):
        self.gets += 1
        if (ref.bucket, ref.key) not in self.objects:
            raise MissingObject(f"{ref.bucket}/{ref.key} does not exist")
        return self.objects[(ref.bucket, ref.key)][0]

    def exists(self, bucket, key):
        return (bucket, key) in self.objects

    def copy(self, source, bucket, key, metadata):
        data, content_type, _ = self.objects[(source.bucket, source.key)]
        return self.put(bucket, key, data, content_type, metadata)

    def delete(self, bucket, key):
        self.objects.pop((bucket, key), None)

    def list_keys(self, bucket, prefix):
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))
