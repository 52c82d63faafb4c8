"""Flat-lay images that must be refused before or while decoding, built by hand."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG of about 60 bytes whose header claims ``width`` x ``height`` RGB pixels, with no pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def noise(size: tuple[int, int] = (64, 64), image_format: str = "PNG") -> bytes:
    """An image of random pixels, so that it compresses badly and its data spans the whole file."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    return data[: int(len(data) * fraction)]


def png_with_corrupt_idat() -> bytes:
    """A PNG whose IDAT is not a zlib stream, with a correct CRC so that only decoding finds it."""
    data = noise()
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    end = start + 12 + length
    return data[:start] + png_chunk(b"IDAT", b"\xff" * length) + data[end:]


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, format="PNG")
    return out.getvalue()


# Each must be refused with field flat_lay; ids for parametrised tests.
BAD_FLAT_LAYS = {
    "bomb-header-20000x20000": png_header_only(20000, 20000),
    "header-48-megapixels": png_header_only(8000, 6000),
    "header-side-too-long": png_header_only(9000, 16),
    "truncated-png": truncated(noise()),
    "corrupt-idat-png": png_with_corrupt_idat(),
    "jpeg-truncated-mid-scan": truncated(noise(image_format="JPEG")),
    "tiny-1x1": tiny_png(),
    "not-an-image": b"GIF89a not really",
}
