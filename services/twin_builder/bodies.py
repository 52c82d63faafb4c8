"""The body model as the twin builder uses it: fitting measurements and meshing a twin in a pose.
A port (for domain code and tests) and its adapter over anny (twinwear_body), one model per
process, used by one thread at a time (torch on CPU already uses every core)."""

from __future__ import annotations

import threading
from typing import Protocol

from twinwear_body.fitting import FitResult, fit
from twinwear_body.gltf import export_glb
from twinwear_body.model import BodyModel
from twinwear_body.params import BodyParams, Measurements


class Bodies(Protocol):
    def fit(self, targets: Measurements, sex: str, age_years: float) -> FitResult: ...

    def glb(self, params: BodyParams, pose: str) -> bytes: ...


class AnnyBodies:
    def __init__(self, device: str = "cpu") -> None:
        self._device = device
        self._model: BodyModel | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> BodyModel:
        if self._model is None:
            self._model = BodyModel(self._device)
        return self._model

    def fit(self, targets: Measurements, sex: str, age_years: float) -> FitResult:
        with self._lock:
            return fit(targets, sex, age_years, model=self._loaded())

    def glb(self, params: BodyParams, pose: str) -> bytes:
        with self._lock:
            return export_glb(self._loaded().mesh(params, pose))
