"""Builds anny's model cache once (set-up step, about a minute and 1-2 GB); quick no-op when already built.

    python -m twinwear_body.warm_cache

The cache lives in ANNY_CACHE_DIR (default .stack/cache/anny under the repo root). A stamp file named after
anny's configuration records a finished build, so this checks it without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from twinwear_body.model import ANNY_CONFIG, configure_cache
from twinwear_body.params import ANNY_VERSION


def stamp_path(cache_dir: Path) -> Path:
    key = hashlib.sha256(json.dumps([ANNY_VERSION, ANNY_CONFIG], sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"twinwear-{key}.built"


def is_built() -> bool:
    return stamp_path(configure_cache()).exists()


def main() -> int:
    cache_dir = configure_cache()
    stamp = stamp_path(cache_dir)
    if stamp.exists():
        print(f"warm_cache: anny cache already built in {cache_dir}")
        return 0
    from twinwear_body.model import BodyModel

    started = time.monotonic()
    BodyModel()
    stamp.write_text(f"{ANNY_VERSION} {json.dumps(ANNY_CONFIG, sort_keys=True)}\n")
    print(f"warm_cache: built anny cache in {cache_dir} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
