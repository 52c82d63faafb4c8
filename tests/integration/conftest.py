"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.local_services import LocalService, start_services
from tests.integration.ingestion_service import ENV, GRPC_PORT, HTTP_PORT, OPS_PORT, IngestionUnderTest


@pytest.fixture(scope="session")
def ingestion(stack) -> Iterator[IngestionUnderTest]:
    """The ingestion service alone, as a process on the test ports, for the whole session."""
    running = start_services((LocalService("ingestion", OPS_PORT),), env=ENV)
    try:
        yield IngestionUnderTest(
            f"http://127.0.0.1:{HTTP_PORT}", f"127.0.0.1:{GRPC_PORT}", f"http://127.0.0.1:{OPS_PORT}", running
        )
    finally:
        assert running.stop("ingestion") == 0, "ingestion did not stop cleanly"
