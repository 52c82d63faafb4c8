"""Triton Inference Server adapter (gRPC). Inference runs in Triton, on GPUs in production."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tritonclient.grpc as triton_grpc
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from twinwear_runtime.retry import PermanentError

# Triton answers these when the request itself is wrong; retrying the same request cannot help.
_REQUEST_ERRORS = ("StatusCode.INVALID_ARGUMENT", "StatusCode.NOT_FOUND", "StatusCode.UNIMPLEMENTED")


class TritonModel:
    def __init__(self, url: str, model_name: str, timeout_seconds: float = 60.0) -> None:
        self._client = triton_grpc.InferenceServerClient(url=url)
        self.model_name = model_name
        self._timeout = timeout_seconds

    def infer(self, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        """Run the model; a rejected request raises PermanentError, anything else propagates (retried)."""
        request = []
        for name, array in inputs.items():
            tensor = triton_grpc.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            request.append(tensor)
        outputs = [triton_grpc.InferRequestedOutput(name) for name in output_names]
        try:
            result = self._client.infer(self.model_name, request, outputs=outputs, client_timeout=self._timeout)
        except InferenceServerException as error:
            if error.status() in _REQUEST_ERRORS:
                raise PermanentError(f"{self.model_name} rejected the request: {error.message()}") from error
            raise
        return {name: result.as_numpy(name) for name in output_names}

    def close(self) -> None:
        self._client.close()
