import io
import json
import socket
import urllib.error
import urllib.request

import pytest
import structlog

from twinwear_runtime.logs import configure_logging
from twinwear_runtime.metrics import EVENTS_CONSUMED
from twinwear_runtime.ops_server import Health, start_ops_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_probes_follow_health_and_metrics_are_served():
    health, port = Health(stall_after_seconds=60), free_port()
    server = start_ops_server(port, health, host="127.0.0.1")
    try:
        assert get(port, "/healthz")[0] == 200
        assert get(port, "/readyz")[0] == 503
        health.set_ready()
        assert get(port, "/readyz")[0] == 200
        EVENTS_CONSUMED.labels("unit", "twinwear.v1.ProductUpserted").inc()
        status, text = get(port, "/metrics")
        assert status == 200
        assert 'twinwear_events_consumed_total{event_type="twinwear.v1.ProductUpserted",service="unit"}' in text
        assert get(port, "/nope")[0] == 404
    finally:
        server.shutdown()


def test_a_stalled_loop_fails_liveness():
    health = Health(stall_after_seconds=0.0)
    assert not health.live


def test_logs_are_json_with_bound_ids():
    out = io.StringIO()
    try:
        log = configure_logging("unit", "info", stream=out)
        with structlog.contextvars.bound_contextvars(event_id="e1", trace_id="t1"):
            log.info("event handled", produced=3)
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "event handled" and line["level"] == "info"
    assert (line["service"], line["event_id"], line["trace_id"], line["produced"]) == ("unit", "e1", "t1", 3)


def test_unknown_log_level_is_refused():
    with pytest.raises(ValueError, match="TWINWEAR_LOG_LEVEL"):
        configure_logging("unit", "chatty")
