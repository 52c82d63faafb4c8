"""What makes a twin read as a person beyond its body: skin tone swatches and the render's hairstyles. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Monk Skin Tone scale swatches (Monk 2019), tone 1 (lightest) to 10 (deepest), sRGB.
MONK_SKIN_TONES: Mapping[int, tuple[int, int, int]] = MappingProxyType(
    {
        1: (0xF6, 0xED, 0xE4),
        2: (0xF3, 0xE7, 0xDB),
        3: (0xF7, 0xEA, 0xD0),
        4: (0xEA, 0xDA, 0xBA),
        5: (0xD7, 0xBD, 0x96),
        6: (0xA0, 0x7E, 0x56),
        7: (0x82, 0x5C, 0x43),
        8: (0x60, 0x41, 0x34),
        9: (0x3A, 0x31, 0x2A),
        10: (0x29, 0x24, 0x20),
    }
)

# The hairstyles the renderer draws (names shared with proto Appearance.hairstyle).
HAIRSTYLES: tuple[str, ...] = (
    "bob",
    "long-straight",
    "curly-afro",
    "buzz",
    "bun",
    "ponytail",
    "wavy-medium",
)

# Natural hair and eye colours (sRGB) the roster draws from.
HAIR_COLOURS: Mapping[str, tuple[int, int, int]] = MappingProxyType(
    {
        "black": (0x1C, 0x17, 0x14),
        "dark-brown": (0x3B, 0x2A, 0x1E),
        "brown": (0x6A, 0x4B, 0x34),
        "auburn": (0x8A, 0x3B, 0x1F),
        "blonde": (0xC8, 0xA8, 0x6B),
        "grey": (0x9E, 0x9A, 0x96),
    }
)
EYE_COLOURS: Mapping[str, tuple[int, int, int]] = MappingProxyType(
    {
        "brown": (0x5A, 0x3A, 0x22),
        "dark-brown": (0x33, 0x22, 0x16),
        "hazel": (0x8E, 0x6B, 0x3A),
        "green": (0x4F, 0x6F, 0x46),
        "blue": (0x4A, 0x6E, 0x9C),
        "grey": (0x7D, 0x86, 0x8C),
    }
)
