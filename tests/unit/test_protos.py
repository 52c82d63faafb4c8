"""The protos pass ``buf lint``, evolve additively (``buf breaking`` against every earlier version
in git history) and the generated code is importable from gen/ only."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed (is {ROOT} a git checkout?): {result.stderr.strip()}", pytrace=False)
    return result.stdout.strip()


def proto_history() -> tuple[str, list[str]]:
    """The repository's git directory (for buf's git input; in a worktree, the common one) and the
    commits whose protos/ the current protos must stay compatible with: every commit that changed
    protos/, except HEAD itself unless protos/ has uncommitted changes."""
    if git("rev-parse", "--is-shallow-repository") == "true":
        pytest.fail(
            "git history is shallow, so earlier protos cannot be checked: clone with full history "
            "(git fetch --unshallow)",
            pytrace=False,
        )
    commits = git("log", "--format=%H", "HEAD", "--", "protos").split()
    if not commits:
        pytest.fail("no commit in git history changed protos/: the history is missing", pytrace=False)
    head = git("rev-parse", "HEAD")
    if not git("status", "--porcelain", "--", "protos"):
        commits = [c for c in commits if c != head]
    elif head not in commits:
        commits.insert(0, head)
    return git("rev-parse", "--path-format=absolute", "--git-common-dir"), commits


def buf_breaking(git_dir: str, commit: str, source: str = "protos") -> subprocess.CompletedProcess:
    """``buf breaking`` of `source` against protos/ at `commit` (rules from buf.yaml: FILE)."""
    return subprocess.run(
        [str(BUF), "breaking", source, "--against", f"{git_dir}#ref={commit},subdir=protos"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_protos_evolve_additively():
    assert BUF.exists(), "buf is missing: run infra/bootstrap.sh"
    git_dir, commits = proto_history()
    failures = []
    for commit in commits:
        result = buf_breaking(git_dir, commit)
        if result.returncode != 0:
            subject = git("log", "-1", "--format=%h %s", commit)
            failures.append(f"against {subject}:\n{result.stdout}{result.stderr}")
    assert not failures, "protos/ breaks compatibility with earlier versions:\n" + "\n".join(failures)


def test_buf_breaking_catches_a_deleted_field(tmp_path):
    """The check above compares against real protos: a removed field in a copy is reported."""
    assert BUF.exists(), "buf is missing: run infra/bootstrap.sh"
    git_dir, _ = proto_history()
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    envelope = tmp_path / "protos" / "twinwear" / "v1" / "envelope.proto"
    text = envelope.read_text()
    assert "  string producer = 4;\n" in text
    envelope.write_text(text.replace("  string producer = 4;\n", ""))
    result = buf_breaking(git_dir, git("log", "-1", "--format=%H", "HEAD", "--", "protos"), str(tmp_path / "protos"))
    assert result.returncode != 0
    assert "producer" in result.stdout, result.stdout + result.stderr


def test_generated_code_comes_from_gen_only():
    from twinwear.v1 import events_pb2

    assert Path(events_pb2.__file__).is_relative_to(ROOT / "gen")
    committed = subprocess.run(
        ["git", "ls-files", "*_pb2.py", "*_pb2_grpc.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert committed.stdout == ""
