"""Triton Inference Server adapter (gRPC). Inference runs in Triton, on GPUs in production."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tritonclient.grpc as triton_grpc
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from twinwear_runtime.faults import PermanentError, Unavailable

# Triton answers these when the request itself is wrong; retrying the same request cannot help.
_REQUEST_ERRORS = ("StatusCode.INVALID_ARGUMENT", "StatusCode.UNIMPLEMENTED", "StatusCode.OUT_OF_RANGE")
# A model failing inside (INTERNAL, UNKNOWN) is a bug to count; anything else means the server
# (or the model, while it loads) cannot serve now: NOT_FOUND too, since a service always asks for
# the same model and a restarting server has not loaded it yet.
_CODE_ERRORS = ("StatusCode.INTERNAL", "StatusCode.UNKNOWN")


class TritonModel:
    def __init__(self, url: str, model_name: str, timeout_seconds: float = 30.0) -> None:
        self._client = triton_grpc.InferenceServerClient(url=url)
        self.model_name = model_name
        self._timeout = timeout_seconds

    def infer(self, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        """Run the model. A rejected request raises PermanentError, a server that cannot serve
        Unavailable, and a model that fails inside an InferenceServerException."""
        request = []
        for name, array in inputs.items():
            tensor = triton_grpc.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            request.append(tensor)
        outputs = [triton_grpc.InferRequestedOutput(name) for name in output_names]
        try:
            result = self._client.infer(self.model_name, request, outputs=outputs, client_timeout=self._timeout)
        except InferenceServerException as error:
            status = error.status()
            if status in _REQUEST_ERRORS:
                raise PermanentError(f"{self.model_name} rejected the request: {error.message()}") from error
            if status in _CODE_ERRORS:
                raise
            raise Unavailable("triton", f"{status}: {error.message()}") from error
        return {name: result.as_numpy(name) for name in output_names}

    def version(self) -> str:
        """The newest ready version of the model: the one an unversioned request runs."""
        try:
            metadata = self._client.get_model_metadata(self.model_name, client_timeout=self._timeout)
        except InferenceServerException as error:
            raise Unavailable("triton", f"{error.status()}: {error.message()}") from error
        return max(metadata.versions, key=int)

    def close(self) -> None:
        self._client.close()
