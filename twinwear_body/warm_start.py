"""The fit's starting point: a linear regression from measurements and age to anny's fitted controls.

    python -m twinwear_body.warm_start   # rebuilds twinwear_body/warm_start.json (anny on CPU, ~1 min)

It samples random bodies per sex (controls ~ N(0, 0.7) in the fit's tanh variables, ages 18..70), takes their
tape measures as the fit does, and fits a ridge regression from (measures, age) back to the variables. Starting
LM there instead of at anny's average body saves iterations; the fit does not depend on it for accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from twinwear_body.params import MEASURE_NAMES, Measurements

WARM_START_FILE = Path(__file__).parent / "warm_start.json"
_SAMPLES_PER_SEX = 400
_BATCH = 40
_RIDGE = 1e-3


def features(targets: Measurements, age_years: float) -> np.ndarray:
    """Regression inputs: measures in metres, age in decades, and a constant."""
    return np.array([getattr(targets, n) / 100.0 for n in MEASURE_NAMES] + [age_years / 10.0, 1.0])


def initial_variables(targets: Measurements, sex: str, age_years: float, size: int) -> np.ndarray:
    """The regression's guess of the fit's variables, or anny's average body where there is none."""
    if not WARM_START_FILE.exists():
        return np.zeros(size)
    weights = np.array(json.loads(WARM_START_FILE.read_text())[sex])
    if weights.shape[0] != size:
        return np.zeros(size)
    return np.clip(weights @ features(targets, age_years), -2.0, 2.0)


def build() -> dict[str, list[list[float]]]:
    from twinwear_body.fitting import _Problem
    from twinwear_body.model import BodyModel

    model = BodyModel()
    rng = np.random.default_rng(8559)
    placeholder = Measurements(170.0, 90.0, 75.0, 100.0, 78.0, 38.0)
    table = {}
    for sex in ("female", "male"):
        inputs, outputs = [], []
        for _ in range(_SAMPLES_PER_SEX // _BATCH):
            age = float(rng.uniform(18, 70))
            problem = _Problem(model, sex, age, placeholder)
            variables = rng.normal(0.0, 0.7, size=(_BATCH, problem.size))
            for u, body in zip(variables, problem.rest_vertices(variables), strict=True):
                measured = problem.measure(body) / 10.0
                inputs.append(features(Measurements(*measured), age))
                outputs.append(u)
        x, y = np.array(inputs), np.array(outputs)
        weights = np.linalg.solve(x.T @ x + _RIDGE * np.eye(x.shape[1]), x.T @ y).T
        table[sex] = weights.round(6).tolist()
        print(f"warm_start: {sex}: rms error {np.sqrt(((x @ weights.T - y) ** 2).mean()):.3f} in the fit's variables")
    return table


if __name__ == "__main__":
    WARM_START_FILE.write_text(json.dumps(build(), indent=1) + "\n")
