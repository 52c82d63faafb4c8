"""Turntable encodings: 24 RGBA frames -> an animated WebP (Pillow) and an MP4 (H.264 by Debian's
ffmpeg, fed raw frames on stdin so nothing touches the read-only filesystem)."""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

FRAME_MS = 125  # 8 frames a second: 24 frames turn the twin once in 3 s


def encode_webp(frames: Sequence[np.ndarray]) -> bytes:
    images = [Image.fromarray(frame) for frame in frames]
    out = io.BytesIO()
    images[0].save(
        out, format="WEBP", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0, quality=85, method=4
    )
    return out.getvalue()


def encode_mp4(frames: Sequence[np.ndarray], ffmpeg: str = "ffmpeg") -> bytes:
    """H.264 (yuv420p, so every browser plays it), alpha flattened onto the frame's own backdrop."""
    height, width = frames[0].shape[:2]
    raw = b"".join(np.ascontiguousarray(frame[:, :, :3]).tobytes() for frame in frames)
    # MP4 needs a seekable output to write its index: a temporary file (in /tmp, an emptyDir in the chart).
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "turntable.mp4"
        command = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", str(1000 // FRAME_MS), "-i", "-",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(target),
        ]  # fmt: skip
        finished = subprocess.run(command, input=raw, capture_output=True, check=False)
        if finished.returncode != 0:
            raise RuntimeError(
                f"ffmpeg failed ({finished.returncode}): {finished.stderr.decode(errors='replace')[-500:]}"
            )
        return target.read_bytes()
