"""Serve an ASGI app (the services' HTTP APIs) with uvicorn on a thread of the service process."""

from __future__ import annotations

import contextvars
import threading
import time

import uvicorn
from starlette.types import ASGIApp


class HttpServer:
    """The uvicorn server on its thread."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish, stop."""
        self._server.should_exit = True
        self._thread.join()


def start_http_server(
    app: ASGIApp, port: int, host: str, *, max_connections: int = 1024, graceful_seconds: int = 30
) -> HttpServer:
    """Serve ``app`` on a thread; return once it listens. Raises RuntimeError when it cannot.
    Past ``max_connections`` open connections uvicorn answers a bare 503 rather than resetting."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        lifespan="off",
        log_config=None,  # keep the service's logging; uvicorn logs through stdlib loggers
        access_log=False,
        backlog=2048,
        limit_concurrency=max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=graceful_seconds,
    )
    server = uvicorn.Server(config)
    # The copied context carries the log fields bound so far (the service name) into the server's thread.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), name="http-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the HTTP API could not listen on {host}:{port}")
        time.sleep(0.05)
    return HttpServer(server, thread)
