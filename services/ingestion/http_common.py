"""What the HTTP APIs share: JSON error answers and reading a bounded body."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

# The rest of an unread body makes the connection unusable for another request.
CLOSE = {"Connection": "close"}


def error_response(
    status: HTTPStatus, error: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    document = {"error": error, "message": message} | ({"field": field} if field else {})
    return JSONResponse(document, status_code=status, headers=headers)


def _body_refused(status: HTTPStatus, error: str, message: str) -> JSONResponse:
    return error_response(status, error, f"body: {message}", field="body", headers=CLOSE)


class TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int, timeout_seconds: float) -> bytearray:
    """The body, read chunk by chunk; raises TooLarge as soon as it passes the limit, whatever
    Content-Length claims, and TimeoutError when it has not all arrived in time."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async with asyncio.timeout(timeout_seconds):
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise TooLarge
    return body


async def read_or_refuse(request: Request, limit: int, timeout_seconds: float) -> bytearray | Response:
    """The body, or the answer (413, 408, 400) when it cannot be read."""
    try:
        return await _read_body(request, limit, timeout_seconds)
    except TooLarge:
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
        return _body_refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", f"is larger than {size}")
    except TimeoutError:
        return _body_refused(HTTPStatus.REQUEST_TIMEOUT, "timeout", f"did not arrive within {timeout_seconds:g} s")
    except ClientDisconnect:
        return _body_refused(HTTPStatus.BAD_REQUEST, "incomplete", "the client went away before sending it")
