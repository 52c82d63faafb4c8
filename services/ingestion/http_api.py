"""JSON over HTTP: ``POST /v1/products``. Errors are 4xx with a body that names the field."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

from services.ingestion.accept import Accepted
from services.ingestion.domain import (
    InvalidProduct,
    ProductSubmission,
    make_submission,
    parse_colour,
    parse_product_version,
)

MAX_BODY_BYTES = 30 * 1024 * 1024  # a 20 MiB image grows by a third in base64
log = structlog.get_logger()


def submission_from_json(body: bytes) -> ProductSubmission:
    """Parse the request body. Example::

    {"sku": "TW-TEE-001", "title": "Linen tee", "category": "tops", "colour": "#1f6feb",
     "flat_lay": {"data_base64": "<PNG or JPEG>"}, "source": "akeneo"}
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidProduct("body", f"is not valid JSON: {error}") from None
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


def start_http_api(
    port: int, accept: Callable[[ProductSubmission], Accepted], host: str = "0.0.0.0"
) -> ThreadingHTTPServer:
    class ProductsHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/products":
                self._json(HTTPStatus.NOT_FOUND, {"error": "not_found", "message": f"no route for POST {self.path}"})
                return
            length_header = self.headers.get("Content-Length") or "0"
            if not length_header.isdigit():
                self._json(HTTPStatus.BAD_REQUEST, {"error": "invalid_field", "field": "Content-Length"})
                return
            length = int(length_header)
            if length > MAX_BODY_BYTES:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "too_large", "field": "body"})
                return
            try:
                accepted = accept(submission_from_json(self.rfile.read(length)))
            except InvalidProduct as error:
                log.info("product rejected", field=error.field, reason=error.message)
                self._json(
                    HTTPStatus.BAD_REQUEST, {"error": "invalid_field", "field": error.field, "message": str(error)}
                )
                return
            except Exception:
                log.exception("product not accepted")
                self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "unavailable", "message": "try again later"})
                return
            self._json(HTTPStatus.ACCEPTED, dataclasses.asdict(accepted))

        def _json(self, status: HTTPStatus, document: dict[str, object]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - structlog logs the outcome
            return

    server = ThreadingHTTPServer((host, port), ProductsHandler)
    threading.Thread(target=server.serve_forever, name="http-api", daemon=True).start()
    return server
