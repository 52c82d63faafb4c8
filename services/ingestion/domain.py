"""What a valid product submission is. Pure: no I/O, so it is tested without servers."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MIN_IMAGE_SIDE = 16
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 40_000_000
# Pillow checks its own budget when it reads the header; twice it raises DecompressionBombError.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# A full decode of a 40-megapixel image takes up to 160 MB: bound how many run at once.
DECODE_SLOTS = threading.BoundedSemaphore(4)
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


class InvalidProduct(ValueError):
    """A product submission with a bad field. ``field`` names it for the 400 / INVALID_ARGUMENT."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ProductSubmission:
    sku: str
    title: str
    category: str
    colour: tuple[int, int, int]
    flat_lay: bytes
    flat_lay_content_type: str
    source: str
    # The source's version (microseconds since the epoch); 0 when the source gave none.
    product_version: int = 0

    @property
    def revision(self) -> str:
        """Content hash: the same product content always has the same revision."""
        digest = hashlib.sha256()
        for part in (self.sku, self.title, self.category, "{:02x}{:02x}{:02x}".format(*self.colour)):
            digest.update(part.encode() + b"\x1f")
        digest.update(hashlib.sha256(self.flat_lay).digest())
        return digest.hexdigest()[:20]

    @property
    def imagery_digest(self) -> str:
        """Hash of what the imagery depends on; a title- or price-only change keeps it."""
        digest = hashlib.sha256()
        for part in (self.category, "{:02x}{:02x}{:02x}".format(*self.colour)):
            digest.update(part.encode() + b"\x1f")
        digest.update(hashlib.sha256(self.flat_lay).digest())
        return digest.hexdigest()[:20]

    @property
    def flat_lay_key(self) -> str:
        extension = "png" if self.flat_lay_content_type == "image/png" else "jpg"
        return f"{self.sku}/{self.revision}.{extension}"


def _text(field: str, value: object, max_length: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidProduct(field, "must be a string")
    try:
        value.encode()
    except UnicodeEncodeError:  # a JSON escape such as \ud800 gives a lone surrogate, which no event can carry
        raise InvalidProduct(field, "must be valid Unicode text") from None
    value = value.strip()
    if required and not value:
        raise InvalidProduct(field, "is required")
    if len(value) > max_length:
        raise InvalidProduct(field, f"must be at most {max_length} characters")
    return value


def parse_colour(value: object, field: str = "colour") -> tuple[int, int, int]:
    if not isinstance(value, str) or not _HEX_COLOUR.match(value):
        raise InvalidProduct(field, "must be a hex colour such as #1f6feb")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def check_flat_lay(data: bytes, field: str = "flat_lay") -> str:
    """Check the bytes are a whole PNG or JPEG of sane size; return its content type. The size is
    checked from the header before anything is decoded, then the pixels are decoded in full so
    that a truncated or corrupt file is refused here rather than by the renderer."""
    if not data:
        raise InvalidProduct(field, "is required")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidProduct(field, f"is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        # Only the two parsers we accept ever see the bytes.
        with Image.open(io.BytesIO(data), formats=list(_IMAGE_TYPES)) as image:
            _check_header(image.format, image.size, field)
            with DECODE_SLOTS:
                image.load()
            return _IMAGE_TYPES[image.format]
    except Image.DecompressionBombError:
        raise InvalidProduct(field, f"has more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels") from None
    except UnidentifiedImageError:
        raise InvalidProduct(field, "must be a PNG or JPEG image") from None
    except InvalidProduct:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ValueError...) on bad files
        raise InvalidProduct(field, "is not a readable PNG or JPEG image: truncated or corrupt") from None


def _check_header(image_format: str | None, size: tuple[int, int], field: str) -> None:
    if image_format not in _IMAGE_TYPES:
        raise InvalidProduct(field, f"must be PNG or JPEG, got {image_format}")
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidProduct(field, f"has more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels, got {width}x{height}")
    if max(size) > MAX_IMAGE_SIDE or min(size) < MIN_IMAGE_SIDE:
        raise InvalidProduct(
            field, f"must be between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels a side, got {width}x{height}"
        )


# Versions are microseconds since the epoch: from 2000-01-01 to 2200-01-01.
MIN_PRODUCT_VERSION = 946_684_800_000_000
MAX_PRODUCT_VERSION = 7_258_118_400_000_000


def parse_product_version(value: object, field: str = "product_version") -> int:
    """An optional version: 0 when absent, else microseconds since the epoch."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProduct(field, "must be an integer: microseconds since the epoch")
    if value == 0:
        return 0
    if not MIN_PRODUCT_VERSION <= value <= MAX_PRODUCT_VERSION:
        raise InvalidProduct(field, "must be microseconds since the epoch, between the years 2000 and 2200")
    return value


def parse_sku(value: object) -> str:
    sku = _text("sku", value, 64)
    if not _SKU.match(sku):
        raise InvalidProduct("sku", "may hold only letters, digits, '.', '_' and '-', starting with a letter or digit")
    return sku


def make_submission(
    *,
    sku: object,
    title: object,
    category: object,
    colour: tuple[int, int, int],
    flat_lay: bytes,
    source: object,
    product_version: int = 0,
) -> ProductSubmission:
    """Validate fields (in the order a person reads the form) and build the submission."""
    return ProductSubmission(
        sku=parse_sku(sku),
        title=_text("title", title, 200),
        category=_text("category", category, 64, required=False),
        colour=colour,
        flat_lay_content_type=check_flat_lay(flat_lay),
        flat_lay=flat_lay,
        source=_text("source", source, 64, required=False) or "unknown",
        product_version=product_version,
    )


def colour_from_rgb(r: int, g: int, b: int, field: str = "colour") -> tuple[int, int, int]:
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise InvalidProduct(field, "channels must be between 0 and 255")
    return r, g, b
