"""Fitting anny to ISO 8559-1 measurements: the tape measures on the fitted mesh match the targets.

Levenberg-Marquardt (scipy.optimize.least_squares, method="lm") over anny's free phenotype controls (height,
weight, muscle, proportions, and cupsize for women) and its measure-* local changes. Sex and age are given, not
fitted. The controls are optimised through tanh so that they stay in anny's ranges (phenotypes 0..1, local
changes -1..1) without bounds, which plain LM does not take; a weak pull towards anny's average body keeps the
problem well posed (more controls than measures).

Speed: only the rest vertices the tape reads are computed (no skinning: the rest pose is what the tape
measures), from only the blend shapes the fitted controls move, in float32; the Jacobian is one batched
evaluation of all the perturbed bodies.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import least_squares

from twinwear_body.model import ANNY_TO_WORLD, PARTS, BodyModel
from twinwear_body.params import GENDER_OF_SEX, MEASURE_NAMES, PHENOTYPE_LABELS, BodyParams, Measurements, anny_age
from twinwear_body.tape import SHOULDER_POINT_VERTICES, WAIST_VERTICES, Tape
from twinwear_body.warm_start import initial_variables

if TYPE_CHECKING:
    import torch

# Accepted ranges (cm): adult bodies from well below the 1st to well above the 99th percentile of ISO 7250 /
# EN 13402-3 populations; anny cannot reach all of them, which fit() reports as residuals and a warning.
ACCEPTED_RANGES_CM: dict[str, tuple[float, float]] = {
    "stature_cm": (140.0, 210.0),
    "chest_girth_cm": (65.0, 170.0),
    "waist_girth_cm": (50.0, 170.0),
    "hip_girth_cm": (70.0, 180.0),
    "inside_leg_cm": (55.0, 100.0),
    "shoulder_width_cm": (28.0, 55.0),
}
AGE_RANGE_YEARS = (18.0, 70.0)
TOLERANCE_MM = 5.0

FITTED_PHENOTYPES = ("height", "weight", "muscle", "proportions")
FITTED_LOCAL_CHANGES = (
    "measure-bust-circ-incr",
    "measure-underbust-circ-incr",
    "measure-waist-circ-incr",
    "measure-hips-circ-incr",
    "measure-shoulder-dist-incr",
    "measure-upperleg-height-incr",
    "measure-lowerleg-height-incr",
    "measure-napetowaist-dist-incr",
    "measure-waisttohip-dist-incr",
)
_PRIOR_WEIGHT_MM = 0.3  # residual (mm) per unit of a control's distance from anny's average
_STEP = 1e-3  # finite-difference step in the optimised variables
# LM stops as soon as every measure is this close (a tenth of the tolerance), or when its steps stall.
_CLOSE_ENOUGH_MM = 0.5
_TOLERANCE = 1e-3


class _Converged(Exception):  # a signal out of scipy's LM loop, not an error
    def __init__(self, variables: np.ndarray) -> None:
        super().__init__("every measure within tolerance")
        self.variables = variables


class MeasurementError(ValueError):
    """A measurement no body has: names the field and the accepted range."""

    def __init__(self, field: str, accepted: str, value: object) -> None:
        super().__init__(f"{field}: {value!r} is outside the accepted range {accepted}")
        self.field = field
        self.accepted = accepted


def validate(targets: Measurements) -> None:
    """Raises MeasurementError for a missing, negative, out-of-range or impossible measure."""
    for name in MEASURE_NAMES:
        value = getattr(targets, name)
        low, high = ACCEPTED_RANGES_CM[name]
        if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
            raise MeasurementError(name, f"{low:g}..{high:g} cm", value)
    if targets.waist_girth_cm > 3 * targets.hip_girth_cm:
        raise MeasurementError("waist_girth_cm", "at most 3 x hip_girth_cm", targets.waist_girth_cm)
    if not 0.35 * targets.stature_cm <= targets.inside_leg_cm <= 0.55 * targets.stature_cm:
        raise MeasurementError("inside_leg_cm", "0.35..0.55 x stature_cm", targets.inside_leg_cm)


def _validate_person(sex: str, age_years: float) -> None:
    if sex not in GENDER_OF_SEX:
        raise MeasurementError("sex", " | ".join(GENDER_OF_SEX), sex)
    low, high = AGE_RANGE_YEARS
    if not isinstance(age_years, int | float) or not math.isfinite(age_years) or not low <= age_years <= high:
        raise MeasurementError("age_years", f"{low:g}..{high:g} years", age_years)


@dataclass(frozen=True)
class FitResult:
    params: BodyParams
    fitted: Measurements
    residuals_mm: dict[str, float]  # fitted - target per measure
    warnings: list[str]
    seconds: float


class _Problem:
    """One fit: the optimised variables, the bodies they make, and their tape measures."""

    def __init__(self, model: BodyModel, sex: str, age_years: float, targets: Measurements) -> None:
        torch = model.torch
        self.model, self.torch, self.anny = model, torch, model.anny
        self._select_vertices(model)
        self.phenotypes = FITTED_PHENOTYPES + (("cupsize",) if sex == "female" else ())
        self.fixed = {"gender": GENDER_OF_SEX[sex], "age": anny_age(age_years)}
        self.target = np.array([getattr(targets, n) for n in MEASURE_NAMES]) * 10.0  # mm
        self.phenotype_index = [PHENOTYPE_LABELS.index(p) for p in self.phenotypes]
        self.change_index = [model.local_change_labels.index(c) for c in FITTED_LOCAL_CHANGES]
        base = torch.full((1, len(PHENOTYPE_LABELS)), 0.5, dtype=self.anny.dtype)
        for label, value in self.fixed.items():
            base[0, PHENOTYPE_LABELS.index(label)] = value
        self.base_phenotypes = base
        self.size = len(self.phenotypes) + len(FITTED_LOCAL_CHANGES)
        self._select_blendshapes()

    def _select_vertices(self, model: BodyModel) -> None:
        """Only the vertices the tape reads: torso and thighs, the shoulder and waist points, and for stature the
        top 3 cm of the head and the bottom 2 cm of the feet (of anny's template; no body moves them further)."""
        template_height = model.anny.template_vertices[:, 2].numpy()  # anny's frame is +Z up
        keep = np.isin(model.parts, [PARTS[p] for p in ("torso", "pelvis", "thigh_l", "thigh_r")])
        keep |= template_height > template_height.max() - 0.03
        keep |= template_height < template_height.min() + 0.02
        keep[list(SHOULDER_POINT_VERTICES)] = True
        keep[list(WAIST_VERTICES)] = True
        index = np.full(len(keep), -1)
        index[keep] = np.arange(int(keep.sum()))
        faces = index[model.faces]
        self.vertex_subset = np.flatnonzero(keep)
        self.parts = model.parts[keep]
        self.tape = Tape.for_topology(faces[(faces >= 0).all(axis=1)], self.parts, index)

    def _select_blendshapes(self) -> None:
        """Only the blend shapes the fitted controls can switch on: the phenotype basis and the fitted changes."""
        torch, anny = self.torch, self.anny
        changes = len(self.model.local_change_labels)
        phenotype_columns = anny.blendshapes.shape[0] - 2 * changes
        columns = list(range(phenotype_columns)) + [
            phenotype_columns + 2 * i + side for i in self.change_index for side in (0, 1)
        ]
        self.columns = torch.tensor(columns)
        subset = torch.from_numpy(self.vertex_subset)
        self.blendshapes = anny.blendshapes[self.columns][:, subset].reshape(len(columns), -1).float()
        self.template = anny.template_vertices[subset].reshape(-1).float()
        self.root_blendshapes = anny.bone_heads_blendshapes[self.columns][:, 0].float()
        self.root_template = anny.template_bone_heads[0].float()

    def controls(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Phenotype values in 0..1 and local changes in -1..1 of variables u (..., size)."""
        t = np.tanh(u)
        n = len(self.phenotypes)
        return 0.5 + 0.5 * t[..., :n], t[..., n:]

    def blendshape_coefficients(self, phenotypes: torch.Tensor, changes: torch.Tensor) -> torch.Tensor:
        """The coefficients of the selected blend shapes: anny's _get_phenotype_blendshape_coefficients for the
        fitted local changes only (each an "incr" and a "decr" shape, weighted by its positive and negative
        part), without its loop over all of anny's local changes."""
        from anny.models.phenotype import phenotype_blendshape_weights

        anny = self.anny
        weights = phenotype_blendshape_weights(
            phenotypes,
            anny.phenotype_labels,
            anny.anchors,
            anny.stacked_phenotype_blend_shapes_mask,
            extrapolate=anny.extrapolate_phenotypes,
        )
        if anny.phenotype_blendshape_projection is not None:
            weights = weights @ anny.phenotype_blendshape_projection
        local = self.torch.stack([changes.clamp(min=0), (-changes).clamp(min=0)], dim=-1).reshape(len(changes), -1)
        return self.torch.cat([weights, local.to(weights.dtype)], dim=1)

    def rest_vertices(self, u: np.ndarray) -> np.ndarray:
        """(B, V, 3) rest vertices in the twinwear frame, feet on y = 0, the root over x = z = 0."""
        torch = self.torch
        phen_values, change_values = self.controls(np.atleast_2d(u))
        batch = len(phen_values)
        phenotypes = self.base_phenotypes.repeat(batch, 1)
        phenotypes[:, self.phenotype_index] = torch.from_numpy(phen_values)
        with torch.no_grad():
            coeffs = self.blendshape_coefficients(phenotypes, torch.from_numpy(change_values)).float()
            vertices = (self.template + coeffs @ self.blendshapes).reshape(batch, -1, 3).double().numpy()
            root = (self.root_template + coeffs @ self.root_blendshapes).double().numpy()
        vertices = vertices @ ANNY_TO_WORLD.T
        root = root @ ANNY_TO_WORLD.T
        root[:, 1] = vertices[:, :, 1].min(axis=1)
        return vertices - root[:, None, :]

    def measure(self, vertices: np.ndarray) -> np.ndarray:
        """The tape measures (mm) of one body."""
        measures, _ = self.tape.measure(vertices)
        return np.array([getattr(measures, n) for n in MEASURE_NAMES]) * 10.0

    def residuals(self, u: np.ndarray) -> np.ndarray:
        off_target = self.measure(self.rest_vertices(u)[0]) - self.target
        if np.abs(off_target).max() <= _CLOSE_ENOUGH_MM:
            raise _Converged(u.copy())
        return np.concatenate([off_target, _PRIOR_WEIGHT_MM * u])

    def jacobian(self, u: np.ndarray) -> np.ndarray:
        """Forward differences, all perturbed bodies in one batch."""
        bodies = self.rest_vertices(np.vstack([u[None, :], u[None, :] + _STEP * np.eye(self.size)]))
        base = self.measure(bodies[0])
        columns = [(self.measure(body) - base) / _STEP for body in bodies[1:]]
        return np.vstack([np.array(columns).T, _PRIOR_WEIGHT_MM * np.eye(self.size)])

    def params(self, u: np.ndarray) -> BodyParams:
        phen_values, change_values = self.controls(u)
        return BodyParams(
            phenotype={**self.fixed, **dict(zip(self.phenotypes, phen_values.tolist(), strict=True))},
            local_changes=dict(zip(FITTED_LOCAL_CHANGES, change_values.tolist(), strict=True)),
        )


_default_model: list[BodyModel] = []


def _shared_model() -> BodyModel:
    if not _default_model:
        _default_model.append(BodyModel())
    return _default_model[0]


def fit(targets: Measurements, sex: str, age_years: float, model: BodyModel | None = None) -> FitResult:
    """anny parameters whose tape measures match `targets`; residuals over 5 mm come back with a warning."""
    validate(targets)
    _validate_person(sex, age_years)
    started = time.perf_counter()
    problem = _Problem(model or _shared_model(), sex, age_years, targets)
    start = initial_variables(targets, sex, age_years, problem.size)
    try:
        solution = least_squares(
            problem.residuals, start, jac=problem.jacobian, method="lm", xtol=_TOLERANCE, ftol=_TOLERANCE
        ).x
    except _Converged as converged:
        solution = converged.variables
    residual_mm = problem.measure(problem.rest_vertices(solution)[0]) - problem.target
    residuals = {name: round(float(r), 2) for name, r in zip(MEASURE_NAMES, residual_mm, strict=True)}
    fitted = Measurements(**{name: float(getattr(targets, name)) + residuals[name] / 10.0 for name in MEASURE_NAMES})
    warnings = [
        f"{name}: {abs(r):.1f} mm {'over' if r > 0 else 'under'} the target; anny cannot reach it"
        for name, r in residuals.items()
        if abs(r) > TOLERANCE_MM
    ]
    return FitResult(problem.params(solution), fitted, residuals, warnings, time.perf_counter() - started)
