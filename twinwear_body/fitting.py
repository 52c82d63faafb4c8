"""Fitting anny to ISO 8559-1 measurements: the tape measures on the fitted mesh match the targets.

Levenberg-Marquardt (scipy.optimize.least_squares, method="lm") over anny's free phenotype controls (height,
weight, muscle, proportions, and cupsize for women) and its measure-* local changes. Sex and age are given, not
fitted. The controls are optimised through tanh so that they stay in anny's ranges (phenotypes 0..1, local
changes -1..1) without bounds, which plain LM does not take; a weak pull towards anny's average body keeps the
problem well posed (more controls than measures).

Speed: only rest vertices are computed (no skinning: the rest pose is what the tape measures), and the
Jacobian is one batched evaluation of all perturbed bodies whose girths are taken at the landmark heights of
the current body (exact for the waist's minimum and the hip's maximum girth by the envelope theorem).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from twinwear_body.model import ANNY_TO_WORLD, PARTS, BodyModel
from twinwear_body.params import GENDER_OF_SEX, MEASURE_NAMES, PHENOTYPE_LABELS, BodyParams, Measurements, anny_age
from twinwear_body.tape import SHOULDER_POINT_VERTICES, Tape

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
        self.levels: dict[str, float] = {}
        self.size = len(self.phenotypes) + len(FITTED_LOCAL_CHANGES)
        self._select_blendshapes()

    def _select_vertices(self, model: BodyModel) -> None:
        """Only the vertices the tape reads: the torso, hips and legs, head and feet (for stature)."""
        measured = ("head", "torso", "pelvis", "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r")
        keep = np.isin(model.parts, [PARTS[p] for p in measured])
        keep[list(SHOULDER_POINT_VERTICES)] = True
        index = np.full(len(keep), -1)
        index[keep] = np.arange(int(keep.sum()))
        faces = index[model.faces]
        self.vertex_subset = np.flatnonzero(keep)
        self.parts = model.parts[keep]
        shoulders = (int(index[SHOULDER_POINT_VERTICES[0]]), int(index[SHOULDER_POINT_VERTICES[1]]))
        self.tape = Tape.for_topology(faces[(faces >= 0).all(axis=1)], self.parts, shoulders)

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

    def rest_vertices(self, u: np.ndarray) -> np.ndarray:
        """(B, V, 3) rest vertices in the twinwear frame, feet on y = 0, the root over x = z = 0."""
        torch = self.torch
        phen_values, change_values = self.controls(np.atleast_2d(u))
        batch = len(phen_values)
        phenotypes = self.base_phenotypes.repeat(batch, 1)
        phenotypes[:, self.phenotype_index] = torch.from_numpy(phen_values)
        changes = torch.zeros((batch, len(self.model.local_change_labels)), dtype=self.anny.dtype)
        changes[:, self.change_index] = torch.from_numpy(change_values)
        with torch.no_grad():
            coeffs = self.anny._get_phenotype_blendshape_coefficients(
                phenotypes, changes, torch.zeros((batch, 0), dtype=self.anny.dtype)
            )
            coeffs = coeffs[:, self.columns].float()
            vertices = (self.template + coeffs @ self.blendshapes).reshape(batch, -1, 3).double().numpy()
            root = (self.root_template + coeffs @ self.root_blendshapes).double().numpy()
        vertices = vertices @ ANNY_TO_WORLD.T
        root = root @ ANNY_TO_WORLD.T
        root[:, 1] = vertices[:, :, 1].min(axis=1)
        return vertices - root[:, None, :]

    def measure(self, vertices: np.ndarray, levels: dict[str, float] | None) -> np.ndarray:
        """Measures (mm) of one body: full landmark search, or girths at given landmark heights."""
        if levels is None:
            levels = self.tape.landmarks(vertices, self.parts)
            self.levels = levels
        else:
            stature = float(vertices[:, 1].max())
            levels = {**levels, "stature": stature, "crotch": self.tape.crotch_height(vertices, stature)}
        measures = self.tape.measurements_of(levels, vertices)
        return np.array([getattr(measures, n) for n in MEASURE_NAMES]) * 10.0

    def residuals(self, u: np.ndarray) -> np.ndarray:
        measured = self.measure(self.rest_vertices(u)[0], None)
        return np.concatenate([measured - self.target, _PRIOR_WEIGHT_MM * u])

    def jacobian(self, u: np.ndarray) -> np.ndarray:
        levels = dict(self.levels)
        perturbed = u[None, :] + _STEP * np.eye(self.size)
        bodies = self.rest_vertices(np.vstack([u[None, :], perturbed]))
        base = self.measure(bodies[0], levels)
        columns = [(self.measure(body, levels) - base) / _STEP for body in bodies[1:]]
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
    solution = least_squares(
        problem.residuals, np.zeros(problem.size), jac=problem.jacobian, method="lm", xtol=1e-6, ftol=1e-6
    )
    residual_mm = problem.residuals(solution.x)[: len(MEASURE_NAMES)]
    residuals = {name: round(float(r), 2) for name, r in zip(MEASURE_NAMES, residual_mm, strict=True)}
    fitted = Measurements(**{name: float(getattr(targets, name)) + residuals[name] / 10.0 for name in MEASURE_NAMES})
    warnings = [
        f"{name}: {abs(r):.1f} mm {'over' if r > 0 else 'under'} the target; anny cannot reach it"
        for name, r in residuals.items()
        if abs(r) > TOLERANCE_MM
    ]
    return FitResult(problem.params(solution.x), fitted, residuals, warnings, time.perf_counter() - started)
