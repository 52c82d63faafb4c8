"""Fixtures for tests that talk to the real local stack (infra/stack.sh up)."""

from __future__ import annotations

import socket

import pytest

from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.storage import MinioObjectStore

STACK_PORTS = {"Kafka": 9092, "MinIO": 9000, "Triton": 8001, "Prometheus": 9090}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Chaos tests restart the shared servers: run them after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("chaos") is not None)


@pytest.fixture(scope="session")
def stack() -> RuntimeConfig:
    """The local stack's settings; fails (not skips) when a server is down, so CI cannot pass by
    accident without the real servers."""
    down = [name for name, port in STACK_PORTS.items() if not _listening(port)]
    if down:
        pytest.fail(f"local stack is not up ({', '.join(down)} down): run infra/stack.sh up", pytrace=False)
    return load_config(RuntimeConfig)


@pytest.fixture(scope="session")
def store(stack: RuntimeConfig) -> MinioObjectStore:
    return MinioObjectStore.from_config(stack)
