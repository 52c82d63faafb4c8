"""Glue between Triton's python backend and the runners in services/render/inference.py: the
models' model.py files are a few lines around ``TritonModelBase``."""

from __future__ import annotations

import logging

import numpy as np

from services.render.inference import Batch, InvalidInput, Runner

# Imported inside Triton only (the stub provides it); the tests import the runners directly.
try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # pragma: no cover - outside Triton
    pb_utils = None

log = logging.getLogger(__name__)


def device(args: dict[str, str]) -> str:
    """The torch device of a model instance: cuda:<id> on a KIND_GPU instance, else cpu."""
    if args.get("model_instance_kind") == "GPU":
        return f"cuda:{args.get('model_instance_device_id', '0')}"
    return "cpu"


class TritonModelBase:
    """Subclasses set ``make_runner(args)``; execute() hands every request to the runner at once."""

    runner: Runner

    def make_runner(self, args: dict[str, str]) -> Runner:
        raise NotImplementedError

    def initialize(self, args: dict[str, str]) -> None:
        self.runner = self.make_runner(args)
        self.output_names = [spec.name for spec in self.runner.spec.outputs]

    def execute(self, requests: list) -> list:
        batches: list[Batch] = []
        for request in requests:
            batches.append({spec.name: _as_numpy(request, spec.name) for spec in self.runner.spec.inputs})
        responses = []
        for answer in self.runner.run(batches):
            if isinstance(answer, InvalidInput):
                error = pb_utils.TritonError(str(answer), pb_utils.TritonError.INVALID_ARG)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
            elif isinstance(answer, Exception):
                log.exception("%s failed", self.runner.spec.name, exc_info=answer)
                responses.append(
                    pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(repr(answer)))
                )
            else:
                tensors = [pb_utils.Tensor(name, answer[name]) for name in self.output_names]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses


def _as_numpy(request: pb_utils.InferenceRequest, name: str) -> np.ndarray:
    return pb_utils.get_input_tensor_by_name(request, name).as_numpy()
