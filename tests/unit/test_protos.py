"""The protos pass ``buf lint`` and the generated code is importable from gen/ only."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Installed by infra/bootstrap.sh, which pins the version.
BUF = next(
    (Path(os.environ.get("TWINWEAR_STACK_DIR", ROOT / ".stack")) / "cache").glob("buf-*/node_modules/.bin/buf"),
    Path("buf-not-installed"),
)


def test_buf_lint_passes():
    assert BUF.exists(), "buf is missing: run infra/bootstrap.sh"
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_comes_from_gen_only():
    from twinwear.v1 import events_pb2

    assert Path(events_pb2.__file__).is_relative_to(ROOT / "gen")
    committed = subprocess.run(
        ["git", "ls-files", "*_pb2.py", "*_pb2_grpc.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert committed.stdout == ""
