"""QA gates every render passes before it is published: the image itself (decodes, is large
enough, is not blank or uniform) and the quality figures the render measured, against thresholds
from config. Pure: bytes and figures in, the failed gates out."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from twinwear.v1 import events_pb2


@dataclass(frozen=True)
class QaThresholds:
    min_width: int = 384
    min_height: int = 512
    # Standard deviation of the grey levels (0..255) below which an image is blank or uniform.
    min_grey_std: float = 4.0
    # CIEDE2000: about 2 is visible side by side, 10 reads as another colour.
    max_garment_delta_e: float = 10.0
    min_garment_coverage: float = 0.85
    max_skin_delta_e: float = 8.0
    max_body_through_garment: float = 0.02


@dataclass(frozen=True)
class GateFailure:
    """A gate the render did not pass; ``gate`` names it (a metric label), ``reason`` says why."""

    gate: str
    reason: str


def check_render(image: bytes, render: events_pb2.RenderCompleted, limits: QaThresholds) -> list[GateFailure]:
    """The gates ``render`` fails (none: it may be published). The quality gates apply when the
    render carries its figures (renders made before RenderQuality existed do not)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            decoded = Image.open(io.BytesIO(image))
            decoded.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return [GateFailure("corrupt", f"the image does not decode: {type(error).__name__}: {error}")]
    failures = []
    width, height = decoded.size
    if width < limits.min_width or height < limits.min_height:
        failures.append(GateFailure("resolution", f"{width}x{height} is below {limits.min_width}x{limits.min_height}"))
    grey_std = float(np.asarray(decoded.convert("L"), dtype=np.float32).std())
    if grey_std < limits.min_grey_std:
        failures.append(GateFailure("blank", f"the image is blank or uniform (grey std {grey_std:.2f})"))
    if render.HasField("quality"):
        failures.extend(_quality_failures(render.quality, limits))
    return failures


def _quality_failures(quality: events_pb2.RenderQuality, limits: QaThresholds) -> list[GateFailure]:
    checks = (
        ("garment_colour", quality.garment_delta_e2000 > limits.max_garment_delta_e,
         f"garment ΔE2000 {quality.garment_delta_e2000:.2f} > {limits.max_garment_delta_e:g}"),
        ("garment_coverage", quality.garment_coverage < limits.min_garment_coverage,
         f"garment coverage {quality.garment_coverage:.3f} < {limits.min_garment_coverage:g}"),
        ("skin_colour", quality.skin_delta_e2000 > limits.max_skin_delta_e,
         f"skin ΔE2000 {quality.skin_delta_e2000:.2f} > {limits.max_skin_delta_e:g}"),
        ("body_through_garment", quality.body_through_garment > limits.max_body_through_garment,
         f"body through garment {quality.body_through_garment:.3f} > {limits.max_body_through_garment:g}"),
    )  # fmt: skip
    return [GateFailure(gate, reason) for gate, failed, reason in checks if failed]
