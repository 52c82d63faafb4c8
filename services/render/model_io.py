"""The input/output contract of the Triton model ``garment_on_twin``, defined once.

``infra/triton/models/garment_on_twin/config.pbtxt`` must declare exactly these tensors (a unit
test parses it and compares), and the render service builds its requests from them. Every tensor
has a leading batch dimension on the wire (the model's ``max_batch_size`` > 0): a request carries
``[n, *dims]`` with 1 <= n <= MAX_BATCH_SIZE; the render service sends n = 1 and Triton's dynamic
batcher groups concurrent requests into one model execution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODEL_NAME = "garment_on_twin"
MAX_BATCH_SIZE = 8
# Requests waiting in Triton's queue are held this long for others to batch with.
MAX_QUEUE_DELAY_US = 5000

# The flat-lay is letterboxed onto a square canvas of this side; the batcher only groups requests
# of identical shapes, so the garment input has a fixed size.
GARMENT_SIDE = 256
# The model treats pixels with every channel >= NEAR_WHITE as background, so the letterbox
# padding (PAD_RGB) never shows up as garment.
NEAR_WHITE = 230
PAD_RGB = (255, 255, 255)
OUT_H, OUT_W = 512, 384


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: type[np.generic]
    dims: tuple[int, ...]  # per batch row, without the batch dimension

    @property
    def triton_type(self) -> str:
        """The config.pbtxt data_type, e.g. TYPE_UINT8."""
        return {np.uint8: "TYPE_UINT8", np.float32: "TYPE_FP32"}[self.dtype]


GARMENT_IMAGE = TensorSpec("GARMENT_IMAGE", np.uint8, (GARMENT_SIDE, GARMENT_SIDE, 3))
GARMENT_RGB = TensorSpec("GARMENT_RGB", np.uint8, (3,))
# stature_cm, chest_girth_cm, waist_girth_cm, hip_girth_cm (ISO 8559-1), each 50..250.
BODY = TensorSpec("BODY", np.float32, (4,))
SKIN_RGB = TensorSpec("SKIN_RGB", np.uint8, (3,))
IMAGE = TensorSpec("IMAGE", np.uint8, (OUT_H, OUT_W, 3))

INPUTS = (GARMENT_IMAGE, GARMENT_RGB, BODY, SKIN_RGB)
OUTPUTS = (IMAGE,)
