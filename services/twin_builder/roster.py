"""Digital twins and the consent under which each may be used. Pure domain, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from twinwear_body.appearance import MONK_SKIN_TONES

CATALOGUE_IMAGERY = "catalogue-imagery"
# The one pose until the twins' pose library arrives.
DEFAULT_POSE = "front"


@dataclass(frozen=True)
class Consent:
    """What the person behind a twin agreed to: which uses, until when."""

    consent_id: str
    scopes: frozenset[str]
    valid_from: date
    valid_until: date
    revoked: bool = False

    def allows(self, scope: str, on: date) -> bool:
        return not self.revoked and scope in self.scopes and self.valid_from <= on <= self.valid_until


@dataclass(frozen=True)
class Body:
    """ISO 8559-1 measurements in centimetres."""

    stature_cm: float
    chest_girth_cm: float
    waist_girth_cm: float
    hip_girth_cm: float


@dataclass(frozen=True)
class Twin:
    twin_id: str
    display_name: str
    size_label: str
    monk_skin_tone: int
    body: Body
    consent: Consent
    # +1 per change of the twin (body, tone): a changed twin is a new render.
    version: int = 1

    def __post_init__(self) -> None:
        if self.monk_skin_tone not in MONK_SKIN_TONES:
            raise ValueError(f"twin {self.twin_id}: monk_skin_tone must be 1..10, got {self.monk_skin_tone}")

    @property
    def skin_rgb(self) -> tuple[int, int, int]:
        return MONK_SKIN_TONES[self.monk_skin_tone]


def _consent(twin: str) -> Consent:
    return Consent(f"consent-{twin}-2026", frozenset({CATALOGUE_IMAGERY}), date(2026, 1, 1), date(2028, 12, 31))


# The default roster until the consent ledger and ISO-fitted anny twins arrive: three twins of
# different sizes and skin tones, each consented to catalogue imagery.
DEFAULT_ROSTER: tuple[Twin, ...] = (
    Twin("twin-amara", "Amara", "M", 8, Body(170, 92, 74, 100), _consent("amara")),
    Twin("twin-jonas", "Jonas", "XL", 3, Body(186, 112, 98, 108), _consent("jonas")),
    Twin("twin-mei", "Mei", "XS", 4, Body(158, 80, 62, 86), _consent("mei")),
)
