"""infra/lib.sh's start_daemon/stop_daemon leave no process behind, not even helpers that ignore
SIGTERM and outlive the daemon (like Triton's python backend stubs). Runs throwaway daemons in a
temporary stack directory; the real local stack is not touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The daemon: a helper in its session that ignores SIGTERM, one that ignores SIGTERM and moved to a
# session of its own, both recorded in helpers.pids; then it becomes a plain SIGTERM-able sleep.
DAEMON = r"""
(trap '' TERM; exec sleep 301) &
echo $! >>"$1/helpers.pids"
setsid bash -c 'trap "" TERM; exec sleep 302' &
echo $! >>"$1/helpers.pids"
exec sleep 303
"""


def lib(stack_dir: Path, script: str) -> subprocess.CompletedProcess:
    """Runs `script` in bash with infra/lib.sh sourced, as infra/stack.sh does."""
    env = {
        **os.environ,
        "ROOT": str(ROOT),
        "STACK_DIR": str(stack_dir),
        "CACHE_DIR": str(stack_dir / "cache"),
        "DATA_DIR": str(stack_dir / "data"),
        "LOG_DIR": str(stack_dir / "logs"),
        "RUN_DIR": str(stack_dir / "run"),
        "VENV": str(ROOT / ".venv"),
    }
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "$ROOT/infra/lib.sh"; {script}'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def stack_dir(tmp_path: Path):
    started: list[int] = []
    yield tmp_path
    # Whatever the test leaves running (a failed assertion) is ours to end, by pid.
    for pids in (tmp_path / "helpers.pids", tmp_path / "run" / "probe.pid"):
        if pids.exists():
            started.extend(int(p) for p in pids.read_text().split())
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def start_probe(stack_dir: Path) -> tuple[int, list[int]]:
    result = lib(stack_dir, f"start_daemon probe bash -c {_quote(DAEMON)} probe {_quote(str(stack_dir))}")
    assert result.returncode == 0, result.stderr
    pid = int((stack_dir / "run" / "probe.pid").read_text())
    helpers_file = stack_dir / "helpers.pids"
    assert wait_for(lambda: helpers_file.exists() and len(helpers_file.read_text().split()) == 2)
    helpers = [int(p) for p in helpers_file.read_text().split()]
    assert wait_for(lambda: all(alive(p) for p in [pid, *helpers]))
    return pid, helpers


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_stop_daemon_stops_helpers_that_ignore_sigterm(stack_dir):
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)  # not the stack's
    try:
        pid, helpers = start_probe(stack_dir)
        listed = lib(stack_dir, "daemon_processes probe")
        assert sorted(int(p) for p in listed.stdout.split()) == sorted([pid, *helpers]), listed.stderr

        result = lib(stack_dir, "stop_daemon probe")
        assert result.returncode == 0, result.stderr
        left = [p for p in [pid, *helpers] if alive(p)]
        assert not left, f"stop_daemon left {left} running; stdout: {result.stdout} stderr: {result.stderr}"
        assert "left behind" in result.stdout
        assert not (stack_dir / "run" / "probe.pid").exists()
        assert alive(bystander.pid), "stop_daemon must stop only the stack's processes"
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_daemon_cleans_up_after_a_daemon_that_already_died(stack_dir):
    pid, helpers = start_probe(stack_dir)
    os.kill(pid, signal.SIGKILL)  # the server crashed; its helpers live on
    assert wait_for(lambda: not alive(pid))
    assert all(alive(p) for p in helpers)

    result = lib(stack_dir, "stop_daemon probe")
    assert result.returncode == 0, result.stderr
    assert not [p for p in helpers if alive(p)], result.stdout + result.stderr
