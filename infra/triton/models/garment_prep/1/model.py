"""Triton model garment_prep: a thin wrapper; the work is services.render.inference.GarmentPrepRunner."""

import sys
from pathlib import Path

# The repository (or image) holding this model repository holds the render package: import that
# copy, whatever else the Python path has.
sys.path.insert(0, str(Path(__file__).resolve().parents[5]))

from services.render.inference import GarmentPrepRunner
from services.render.triton_backend import TritonModelBase


class TritonPythonModel(TritonModelBase):
    def make_runner(self, args: dict[str, str]) -> GarmentPrepRunner:
        return GarmentPrepRunner()
