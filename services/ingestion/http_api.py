"""JSON over HTTP: ``POST /v1/products`` and ``POST /v1/products/{sku}/retire``, a Starlette app
served by uvicorn on a thread.

Answers: 401 without a valid ``Authorization: Bearer <token>`` (checked before the body is read);
202 when the request made a new event, 200 when it changed nothing (a duplicate or a stale
version); 4xx with a body naming the ``field`` for a client's mistake, 404 for retiring an unknown
SKU; 503 with ``Retry-After`` when the service is saturated or Kafka or MinIO is down, and 503 when
no token is configured.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import dataclasses
import json
import threading
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.ingestion.accept import Accepted, Retired, UnknownProduct, failure_cause
from services.ingestion.domain import (
    InvalidProduct,
    ProductSubmission,
    make_submission,
    parse_colour,
    parse_product_version,
    parse_sku,
)
from twinwear_runtime.auth import NOT_CONFIGURED_MESSAGE, ApiTokens, Verdict

MAX_BODY_BYTES = 30 * 1024 * 1024  # a 20 MiB image grows by a third in base64
MAX_RETIRE_BODY_BYTES = 4096  # {"product_version": ...}
SOURCE = "http-json"
OVERLOADED_RETRY_SECONDS = 1
UNAVAILABLE_RETRY_SECONDS = 5
log = structlog.get_logger()
Retire = Callable[[str, int, str], Retired]


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    # Requests read, checked or accepted at once; each holds at most max_body_bytes of body.
    max_in_flight: int = 32
    # Time allowed for the whole body to arrive, against clients that trickle it.
    body_timeout_seconds: float = 30.0
    # Open connections uvicorn serves; past them it answers a bare 503 rather than resetting.
    max_connections: int = 1024
    max_body_bytes: int = MAX_BODY_BYTES


def submission_from_json(body: bytes | bytearray) -> ProductSubmission:
    """Parse the request body. Example::

    {"sku": "TW-TEE-001", "title": "Linen tee", "category": "tops", "colour": "#1f6feb",
     "flat_lay": {"data_base64": "<PNG or JPEG>"}, "source": "akeneo", "product_version": 1767225600000000}
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, an int too long, nesting too deep
        raise InvalidProduct("body", f"is not valid JSON: {type(error).__name__}") from None
    if not isinstance(document, dict):
        raise InvalidProduct("body", "must be a JSON object")
    flat_lay = document.get("flat_lay")
    if not isinstance(flat_lay, dict) or not isinstance(flat_lay.get("data_base64"), str):
        raise InvalidProduct("flat_lay.data_base64", "is required: the flat-lay image as base64")
    try:
        image = base64.b64decode(flat_lay["data_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidProduct("flat_lay.data_base64", "is not valid base64") from None
    return make_submission(
        sku=document.get("sku"),
        title=document.get("title"),
        category=document.get("category"),
        colour=parse_colour(document.get("colour")),
        flat_lay=image,
        source=document.get("source"),
        product_version=parse_product_version(document.get("product_version")),
    )


def retire_version_from_json(body: bytes | bytearray) -> int:
    """The optional body of a retirement: empty, or ``{"product_version": 1767225600000000}``."""
    if not body.strip():
        return 0
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidProduct("body", f"is not valid JSON: {type(error).__name__}") from None
    if not isinstance(document, dict):
        raise InvalidProduct("body", "must be a JSON object")
    return parse_product_version(document.get("product_version"))


def _error(
    status: HTTPStatus, error: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    document = {"error": error, "message": message} | ({"field": field} if field else {})
    return JSONResponse(document, status_code=status, headers=headers)


_CLOSE = {"Connection": "close"}


def _body_refused(status: HTTPStatus, error: str, message: str) -> JSONResponse:
    # The rest of the body is never read, so the connection cannot carry another request.
    return _error(status, error, f"body: {message}", field="body", headers={"Connection": "close"})


class TooLarge(Exception):
    pass


class ProductsApi:
    def __init__(
        self, accept: Callable[[ProductSubmission], Accepted], retire: Retire, tokens: ApiTokens, limits: HttpLimits
    ) -> None:
        self._accept = accept
        self._retire = retire
        self._tokens = tokens
        self._limits = limits
        # Only touched on the event loop's thread.
        self._in_flight = 0

    def _refused(self, request: Request) -> Response | None:
        """The answer to a request without a valid token, or None when it may go on. The body is
        not read yet: an unauthenticated client cannot make the server read it."""
        verdict = self._tokens.check(request.headers.get("authorization"))
        if verdict is Verdict.ALLOWED:
            return None
        # The unread body makes the connection unusable for another request.
        if verdict is Verdict.NOT_CONFIGURED:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "not_configured", NOT_CONFIGURED_MESSAGE, headers=_CLOSE)
        # Never says whether the header, the scheme or the token was wrong.
        headers = {"WWW-Authenticate": "Bearer"} | _CLOSE
        return JSONResponse({"error": "unauthorized"}, status_code=HTTPStatus.UNAUTHORIZED, headers=headers)

    async def post(self, request: Request) -> Response:
        return await self._bounded(request, self._post)

    async def retire(self, request: Request) -> Response:
        return await self._bounded(request, self._post_retirement)

    async def _bounded(self, request: Request, handle: Callable[[Request], Awaitable[Response]]) -> Response:
        """Check the token, then handle the request unless too many are in flight."""
        if refused := self._refused(request):
            return refused
        if self._in_flight >= self._limits.max_in_flight:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "overloaded",
                "too many requests in flight, try again later",
                headers={"Retry-After": str(OVERLOADED_RETRY_SECONDS)},
            )
        self._in_flight += 1
        try:
            return await handle(request)
        finally:
            self._in_flight -= 1

    async def _post_retirement(self, request: Request) -> Response:
        body = await self._read_or_refuse(request, MAX_RETIRE_BODY_BYTES)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(self._submit_retirement, request.path_params["sku"], body)

    async def _post(self, request: Request) -> Response:
        body = await self._read_or_refuse(request, self._limits.max_body_bytes)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(self._submit, body)

    async def _read_or_refuse(self, request: Request, limit: int) -> bytearray | Response:
        """The body, or the answer when it cannot be read."""
        try:
            return await self._read_body(request, limit)
        except TooLarge:
            size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
            return _body_refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", f"is larger than {size}")
        except TimeoutError:
            timeout = self._limits.body_timeout_seconds
            return _body_refused(HTTPStatus.REQUEST_TIMEOUT, "timeout", f"did not arrive within {timeout:g} s")
        except ClientDisconnect:
            return _body_refused(HTTPStatus.BAD_REQUEST, "incomplete", "the client went away before sending it")

    async def _read_body(self, request: Request, limit: int) -> bytearray:
        """The body, read chunk by chunk; raises TooLarge as soon as it passes the limit, whatever
        Content-Length claims, and TimeoutError when it has not all arrived in time."""
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        body = bytearray()
        async with asyncio.timeout(self._limits.body_timeout_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise TooLarge
        return body

    def _submit(self, body: bytearray) -> Response:
        """Parse and accept the product; blocking (image decode, MinIO, Kafka), so run on a worker thread."""
        try:
            accepted = self._accept(submission_from_json(body))
        except InvalidProduct as error:
            log.info("product rejected", field=error.field, reason=error.message)
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", str(error), field=error.field)
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down; the caller sees 500
            return _failed(error)
        status = HTTPStatus.ACCEPTED if accepted.created else HTTPStatus.OK
        return JSONResponse(dataclasses.asdict(accepted), status_code=status)

    def _submit_retirement(self, sku: str, body: bytearray) -> Response:
        """Retire the product; blocking (MinIO, Kafka), so run on a worker thread."""
        try:
            retired = self._retire(parse_sku(sku), retire_version_from_json(body), SOURCE)
        except InvalidProduct as error:
            log.info("retirement rejected", field=error.field, reason=error.message)
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", str(error), field=error.field)
        except UnknownProduct as error:
            return _error(HTTPStatus.NOT_FOUND, "unknown_sku", str(error), field="sku")
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down; the caller sees 500
            return _failed(error)
        status = HTTPStatus.ACCEPTED if retired.created else HTTPStatus.OK
        return JSONResponse(dataclasses.asdict(retired), status_code=status)


def _failed(error: Exception) -> Response:
    """503 with Retry-After when a dependency is down, 500 for a bug."""
    unavailable = failure_cause(error)
    if unavailable is None:
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "unexpected error, reported")
    return _error(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "unavailable",
        f"{unavailable.dependency} is unavailable, try again later",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
    )


async def _no_route(request: Request, error: Exception) -> Response:
    """404 and 405 as JSON, like every other answer."""
    assert isinstance(error, HTTPException)  # registered for HTTPException only
    message = f"no route for {request.method} {request.url.path}"
    return _error(HTTPStatus(error.status_code), "no_route", message, headers=error.headers)


def products_app(
    accept: Callable[[ProductSubmission], Accepted], retire: Retire, tokens: ApiTokens, limits: HttpLimits
) -> Starlette:
    api = ProductsApi(accept, retire, tokens, limits)
    return Starlette(
        routes=[
            Route("/v1/products", api.post, methods=["POST"]),
            Route("/v1/products/{sku}/retire", api.retire, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _no_route},
    )


class HttpApi:
    """The uvicorn server on its thread."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish (their events are then durable), stop."""
        self._server.should_exit = True
        self._thread.join()


def start_http_api(
    port: int,
    accept: Callable[[ProductSubmission], Accepted],
    retire: Retire,
    tokens: ApiTokens,
    host: str = "0.0.0.0",
    limits: HttpLimits | None = None,
) -> HttpApi:
    """Serve the API on a thread; return once it listens. Raises RuntimeError when it cannot."""
    limits = limits or HttpLimits()
    config = uvicorn.Config(
        products_app(accept, retire, tokens, limits),
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        lifespan="off",
        log_config=None,  # keep the service's logging; uvicorn logs through stdlib loggers
        access_log=False,
        backlog=2048,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(limits.body_timeout_seconds) + 30,
    )
    server = uvicorn.Server(config)
    # The copied context carries the log fields bound so far (the service name) into the server's thread.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), name="http-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the HTTP API could not listen on {host}:{port}")
        time.sleep(0.05)
    return HttpApi(server, thread)
