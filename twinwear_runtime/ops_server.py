"""The ops HTTP endpoint of every service: /healthz, /readyz and /metrics for Kubernetes and Prometheus."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class Health:
    """Liveness is a heartbeat from the main loop; readiness is set once dependencies are reached."""

    def __init__(self, stall_after_seconds: float = 120.0) -> None:
        self._ready = threading.Event()
        self._last_beat = time.monotonic()
        self._stall_after = stall_after_seconds

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def set_ready(self, ready: bool = True) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def live(self) -> bool:
        return time.monotonic() - self._last_beat < self._stall_after


def start_ops_server(port: int, health: Health, host: str) -> ThreadingHTTPServer:
    """Serve the ops endpoints on a daemon thread and return the server (call ``shutdown`` to stop)."""

    class OpsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200 if health.live else 503, b"ok\n" if health.live else b"stalled\n")
            elif self.path == "/readyz":
                self._reply(200 if health.ready else 503, b"ready\n" if health.ready else b"not ready\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - probes every few seconds would flood the log
            return

    server = ThreadingHTTPServer((host, port), OpsHandler)
    threading.Thread(target=server.serve_forever, name="ops-server", daemon=True).start()
    return server
