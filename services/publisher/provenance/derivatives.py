"""The published files made from one master render: sized JPEG and WebP, the shopping-feed square,
labelled copies for channels that want a visible "AI-generated" label, and the turntable clip.

Colour: every image is converted to sRGB (from the master's ICC profile when it has one, else the
master is taken as sRGB) and carries an embedded sRGB ICC profile, so browsers and Merchant Center
read the colours as rendered. Feed and e-commerce files never carry a visible label or any overlay.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageDraw, ImageFont, UnidentifiedImageError

CHANNELS = frozenset({"ecommerce", "social", "print", "ooh"})
# Channels whose files must stay free of overlays (Merchant Center rejects added text).
NEVER_LABELLED = frozenset({"ecommerce"})
WIDTHS = (2048, 1024, 512)
# Only made when the master is at least this wide; the smaller widths are always made.
LARGE_WIDTH = 2048
SQUARE_SIDE = 1500
JPEG_QUALITY = 90
WEBP_QUALITY = 90
LABEL_TEXT = "AI-generated"

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SRGB_ICC = _SRGB.tobytes()
_CONTENT_TYPES = {"jpg": "image/jpeg", "webp": "image/webp", "mp4": "video/mp4"}


class InvalidMaster(ValueError):
    """The master (or a turntable clip) cannot be read; the message names what is wrong."""


@dataclass(frozen=True)
class DerivativeImage:
    """One published file, before provenance is added. Mirrors ``events_pb2.Derivative``."""

    name: str  # e.g. "jpeg-1024", "webp-512", "square-1500", "social-1024", "turntable-mp4"
    extension: str  # "jpg", "webp", "mp4"
    width: int
    height: int
    channels: tuple[str, ...]
    visible_label: bool
    data: bytes

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.extension]

    def key(self, asset_id: str) -> str:
        """Where it is stored in the published bucket: the same name for every retry of an asset."""
        return derivative_key(asset_id, self.name, self.extension)


def derivative_key(asset_id: str, name: str, extension: str) -> str:
    return f"assets/{asset_id}/{name}.{extension}"


def make_derivatives(
    master: bytes,
    *,
    channels: Collection[str],
    labelled_channels: Collection[str] = (),
    turntable_webp: bytes | None = None,
    turntable_mp4: bytes | None = None,
) -> list[DerivativeImage]:
    """Every derivative of a master PNG (RGB or RGBA).

    ``channels``: where the asset is cleared. ``labelled_channels``: those that want the visible
    label (config ``TWINWEAR_LABELLED_CHANNELS``); never ``ecommerce``. Unlabelled files (JPEG and
    WebP at 2048 when the master is that wide, 1024 and 512; ``square-1500``; the turntable) are
    always made and list the cleared channels that want no label. Each cleared labelled channel
    gets labelled JPEGs ``<channel>-<width>`` at the same widths. The turntable clips are passed
    through as render encoded them (they carry no label, so they are for unlabelled channels).
    """
    _check_channels(channels, labelled_channels)
    image = _open_master(master)
    plain = tuple(sorted(set(channels) - set(labelled_channels)))
    widths = [w for w in WIDTHS if w != LARGE_WIDTH or image.width >= LARGE_WIDTH]
    derivatives: list[DerivativeImage] = []
    for width in widths:
        sized = _resize_to_width(image, width)
        derivatives.append(_encode(f"jpeg-{width}", "jpg", sized, plain, False))
        derivatives.append(_encode(f"webp-{width}", "webp", sized, plain, False))
        for channel in sorted(set(channels) & set(labelled_channels)):
            derivatives.append(_encode(f"{channel}-{width}", "jpg", _with_label(sized), (channel,), True))
    derivatives.append(_encode(f"square-{SQUARE_SIDE}", "jpg", _square(image, SQUARE_SIDE), plain, False))
    if turntable_webp is not None:
        width, height = _webp_size(turntable_webp)
        derivatives.append(DerivativeImage("turntable-webp", "webp", width, height, plain, False, turntable_webp))
    if turntable_mp4 is not None:
        width, height = mp4_video_size(turntable_mp4)
        derivatives.append(DerivativeImage("turntable-mp4", "mp4", width, height, plain, False, turntable_mp4))
    return derivatives


def parse_labelled_channels(raw: str) -> frozenset[str]:
    """``TWINWEAR_LABELLED_CHANNELS``, e.g. "social,ooh"; an unknown or never-labelled channel is
    a configuration error that names the variable."""
    found = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if unknown := found - CHANNELS:
        raise ValueError(f"TWINWEAR_LABELLED_CHANNELS: unknown channels {sorted(unknown)}; known: {sorted(CHANNELS)}")
    if forbidden := found & NEVER_LABELLED:
        raise ValueError(f"TWINWEAR_LABELLED_CHANNELS: {sorted(forbidden)} must never carry a visible label")
    return found


def _check_channels(channels: Collection[str], labelled_channels: Collection[str]) -> None:
    if unknown := (set(channels) | set(labelled_channels)) - CHANNELS:
        raise ValueError(f"unknown channels {sorted(unknown)}; known: {sorted(CHANNELS)}")
    if forbidden := set(labelled_channels) & NEVER_LABELLED:
        raise ValueError(f"labelled_channels: {sorted(forbidden)} must never carry a visible label")


def _open_master(master: bytes) -> Image.Image:
    """The master as sRGB RGB; transparency is flattened onto white (JPEG has no alpha)."""
    try:
        image = Image.open(io.BytesIO(master))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise InvalidMaster(f"master is not a readable image: {error}") from error
    if image.format != "PNG":
        raise InvalidMaster(f"master must be a PNG, not {image.format}")
    if icc := image.info.get("icc_profile"):
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGBA" if _has_alpha(image) else "RGB")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _resize_to_width(image: Image.Image, width: int) -> Image.Image:
    if image.width == width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _square(image: Image.Image, side: int) -> Image.Image:
    """The whole image scaled to fit ``side`` and centred on its own background colour: the
    garment is never cropped."""
    scale = side / max(image.size)
    fitted = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS
    )
    canvas = Image.new("RGB", (side, side), background_colour(image))
    canvas.paste(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2))
    return canvas


def background_colour(image: Image.Image) -> tuple[int, int, int]:
    """The median colour of the image's outermost pixels: the studio backdrop around the twin."""
    pixels = np.asarray(image.convert("RGB"))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    red, green, blue = (int(v) for v in np.median(border, axis=0))
    return red, green, blue


def _with_label(image: Image.Image) -> Image.Image:
    """A copy with "AI-generated" in a dark box at the bottom left, sized to the image."""
    labelled = image.copy()
    draw = ImageDraw.Draw(labelled, "RGBA")
    font = ImageFont.load_default(size=max(10, image.width // 32))
    margin = max(4, image.width // 64)
    left, top, right, bottom = draw.textbbox((0, 0), LABEL_TEXT, font=font)
    padding = max(2, (bottom - top) // 3)
    box_height = bottom - top + 2 * padding
    box = (margin, image.height - margin - box_height, margin + right - left + 2 * padding, image.height - margin)
    draw.rounded_rectangle(box, radius=padding, fill=(0, 0, 0, 170))
    draw.text((box[0] + padding - left, box[1] + padding - top), LABEL_TEXT, font=font, fill=(255, 255, 255, 255))
    return labelled


def _encode(
    name: str, extension: str, image: Image.Image, channels: tuple[str, ...], visible_label: bool
) -> DerivativeImage:
    buffer = io.BytesIO()
    if extension == "jpg":
        # 4:4:4: chroma subsampling blurs the colour of thin garment details.
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True, icc_profile=_SRGB_ICC)
    else:
        # method 2: half the time of the default 4 for files as small on renders (measured).
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=2, icc_profile=_SRGB_ICC)
    return DerivativeImage(name, extension, image.width, image.height, channels, visible_label, buffer.getvalue())


def _webp_size(data: bytes) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as clip:
            if clip.format != "WEBP":
                raise InvalidMaster(f"turntable_webp is a {clip.format}, not a WebP")
            return clip.size
    except (UnidentifiedImageError, OSError) as error:
        raise InvalidMaster(f"turntable_webp is not a readable WebP: {error}") from error


def mp4_video_size(data: bytes) -> tuple[int, int]:
    """Width and height of the first video track (``moov/trak/tkhd``), without decoding."""
    for body in _boxes(data, b"moov"):
        for track in _boxes(body, b"trak"):
            for header in _boxes(track, b"tkhd"):
                # Version 1 headers have 64-bit times; width and height (16.16) end the box.
                if len(header) >= 84 and header[0] in (0, 1):
                    width, height = struct.unpack(">II", header[-8:])
                    if width >> 16 and height >> 16:
                        return width >> 16, height >> 16
    raise InvalidMaster("turntable_mp4 is not an MP4 with a video track (no moov/trak/tkhd with a size)")


def _boxes(data: bytes, wanted: bytes) -> list[bytes]:
    """The bodies of the ISO-BMFF boxes of type ``wanted`` at this level."""
    found, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1 and offset + 16 <= len(data):
            size, header = struct.unpack(">Q", data[offset + 8 : offset + 16])[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header:
            break
        if kind == wanted:
            found.append(data[offset + header : offset + size])
        offset += size
    return found
