"""The body model as the twin builder uses it: fitting measurements and meshing a twin in a pose.
A port (for domain code and tests) and its adapter over anny (twinwear_body), one model per
process, used by one thread at a time (torch on CPU already uses every core). A call waiting on it
goes before background work (a roster being fitted), so a roster never holds a call for minutes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from twinwear_body.fitting import FitResult, fit
from twinwear_body.gltf import export_glb
from twinwear_body.model import BodyModel
from twinwear_body.params import BodyParams, Measurements


class Bodies(Protocol):
    def fit(self, targets: Measurements, sex: str, age_years: float, background: bool = False) -> FitResult: ...

    def glb(self, params: BodyParams, pose: str) -> bytes: ...


class AnnyBodies:
    def __init__(self, device: str = "cpu") -> None:
        self._device = device
        self._model: BodyModel | None = None
        self._turn = threading.Condition()
        self._busy = False
        self._calls_waiting = 0

    @contextmanager
    def _model_for(self, background: bool) -> Iterator[BodyModel]:
        """The model, for this thread alone; background work waits while a call waits."""
        with self._turn:
            if not background:
                self._calls_waiting += 1
            while self._busy or (background and self._calls_waiting):
                self._turn.wait()
            if not background:
                self._calls_waiting -= 1
            self._busy = True
        try:
            if self._model is None:
                self._model = BodyModel(self._device)
            yield self._model
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()

    def fit(self, targets: Measurements, sex: str, age_years: float, background: bool = False) -> FitResult:
        with self._model_for(background) as model:
            return fit(targets, sex, age_years, model=model)

    def glb(self, params: BodyParams, pose: str) -> bytes:
        with self._model_for(background=False) as model:
            return export_glb(model.mesh(params, pose))
