"""IPTC XMP disclosure: ``Iptc4xmpExt:DigitalSourceType`` = trainedAlgorithmicMedia, the field
Google Merchant Center reads for AI-generated product images. Written with pyexiv2 (Exiv2 0.28),
so Debian's ``exiv2 -pX`` reads it back. MP4 is not writable by Exiv2 (BMFF is read-only there):
the turntable MP4 carries the same source type in its C2PA manifest only."""

from __future__ import annotations

import threading

import pyexiv2

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP_KEY = "Xmp.iptcExt.DigitalSourceType"
XMP_CONTENT_TYPES = frozenset({"image/jpeg", "image/webp"})
# Exiv2's XMP toolkit is thread-safe only when initialised with a lock function, and pyexiv2 has
# no way to pass one: one call at a time (each takes a few milliseconds).
_EXIV2 = threading.Lock()


def embed_iptc_xmp(data: bytes) -> bytes:
    """``data`` (a JPEG or WebP) with the IPTC digital source type in its XMP packet."""
    with _EXIV2:
        image = pyexiv2.ImageData(data)
        try:
            image.modify_xmp({XMP_KEY: DIGITAL_SOURCE_TYPE})
            return image.get_bytes()
        finally:
            image.close()


def read_digital_source_type(data: bytes) -> str | None:
    """The IPTC digital source type in ``data``'s XMP, or None when it has none (or no XMP)."""
    with _EXIV2:
        try:
            image = pyexiv2.ImageData(data)
        except RuntimeError:  # Exiv2 cannot parse the file at all
            return None
        try:
            return image.read_xmp().get(XMP_KEY)
        finally:
            image.close()
