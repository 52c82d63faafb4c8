"""``POST /v1/webhooks/{akeneo,akeneo-event-platform,salsify,shopify}``: verify a PIM's delivery over
its raw body bytes, write its events to the inbox topic, and answer 200 only once they are durable
in Kafka.

Answers, in the order they are checked: 503 naming the variable when the endpoint's secret is not
configured; 415 for a Content-Type the PIM does not send; 429 with ``Retry-After`` past the
in-flight bound; 413 for a body (or one event) over the limit, 408 for one that trickles; 401 for a
delivery not proven to come from the PIM, never saying which part was wrong; 400 with a list of
field errors (``path``, ``message``) for malformed JSON or envelopes; 503 with ``Retry-After``
when Kafka does not acknowledge in time. Each refusal is counted
(``twinwear_webhook_rejections_total{source, reason}``) and logged."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Protocol

import structlog
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.ingestion.http_common import CLOSE, error_response, read_or_refuse
from services.ingestion.webhooks import InvalidDelivery, Unauthorized, WebhookSource
from twinwear.v1 import events_pb2
from twinwear_runtime.faults import as_unavailable

OVERLOADED_RETRY_SECONDS = 1
UNAVAILABLE_RETRY_SECONDS = 5
# Bodies larger than this are verified and split on a worker thread, not on the event loop.
_INLINE_BODY_BYTES = 256 * 1024
log = structlog.get_logger()

REJECTIONS = Counter(
    "twinwear_webhook_rejections_total", "PIM webhook deliveries refused, by source and reason.", ["source", "reason"]
)
ACCEPTED = Counter(
    "twinwear_webhook_events_accepted_total", "PIM events written to the inbox topic, by source.", ["source"]
)


@dataclasses.dataclass(frozen=True)
class WebhookLimits:
    # A whole delivery; the Events API sends up to 10 full products, Salsify lists of products.
    max_body_bytes: int = 4 * 1024 * 1024
    # One event as an inbox record: below Kafka's default 1 MB message limit with room for the envelope.
    max_event_bytes: int = 900_000
    # Deliveries read, verified or waiting for Kafka at once; each holds at most max_body_bytes.
    max_in_flight: int = 256
    body_timeout_seconds: float = 30.0


class Inbox(Protocol):
    async def write(self, deliveries: Sequence[events_pb2.PimDelivery]) -> None:
        """Return once every delivery is durable; raise Unavailable when it is not."""
        ...


class WebhooksApi:
    def __init__(
        self,
        sources: Sequence[WebhookSource],
        inbox: Inbox,
        limits: WebhookLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sources = sources
        self._inbox = inbox
        self._limits = limits or WebhookLimits()
        self._clock = clock
        # Only touched on the event loop's thread.
        self._in_flight = 0
        for source in sources:
            if problem := source.not_configured:
                log.warning("webhook endpoint not configured", source=source.source, problem=problem)

    def routes(self) -> list[Route]:
        return [
            Route(f"/v1/webhooks/{source.source}", self._endpoint(source), methods=["POST"]) for source in self._sources
        ]

    def _endpoint(self, source: WebhookSource) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            return await self._receive(request, source)

        return endpoint

    async def _receive(self, request: Request, source: WebhookSource) -> Response:
        if problem := source.not_configured:
            return _refused(source, "not_configured", HTTPStatus.SERVICE_UNAVAILABLE, problem, CLOSE)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in source.content_types:
            expected = " or ".join(sorted(source.content_types))
            message = f"Content-Type must be {expected}, got {media_type or 'none'}"
            return _refused(source, "unsupported_media_type", HTTPStatus.UNSUPPORTED_MEDIA_TYPE, message, CLOSE)
        if self._in_flight >= self._limits.max_in_flight:
            # 429, not 503: the Event Platform slows its delivery rate on 429.
            message = "too many deliveries in flight, try again later"
            headers = {"Retry-After": str(OVERLOADED_RETRY_SECONDS)}
            return _refused(source, "overloaded", HTTPStatus.TOO_MANY_REQUESTS, message, headers)
        self._in_flight += 1
        try:
            return await self._accept(request, source)
        finally:
            self._in_flight -= 1

    async def _accept(self, request: Request, source: WebhookSource) -> Response:
        received_at = self._clock()
        body = await read_or_refuse(request, self._limits.max_body_bytes, self._limits.body_timeout_seconds)
        if isinstance(body, Response):
            _count(source, "unreadable_body", body.status_code, "body not read")
            return body
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            if len(body) <= _INLINE_BODY_BYTES:
                deliveries = _verified(source, headers, bytes(body), received_at)
            else:
                deliveries = await run_in_threadpool(_verified, source, headers, bytes(body), received_at)
        except Unauthorized as error:
            # Only the metric and the log say why; the sender learns nothing about its guess.
            _count(source, error.reason, HTTPStatus.UNAUTHORIZED, "signature not verified")
            return JSONResponse({"error": "unauthorized"}, status_code=HTTPStatus.UNAUTHORIZED)
        except InvalidDelivery as error:
            _count(source, "invalid_delivery", HTTPStatus.BAD_REQUEST, str(error))
            errors = [{"path": e.path, "message": e.message} for e in error.errors]
            document = {"error": "invalid_delivery", "message": str(error), "errors": errors}
            return JSONResponse(document, status_code=HTTPStatus.BAD_REQUEST)
        too_large = [d.event_id for d in deliveries if len(d.body) > self._limits.max_event_bytes]
        if too_large:
            message = f"events {', '.join(too_large)} are larger than {self._limits.max_event_bytes} bytes each"
            return _refused(source, "event_too_large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message)
        try:
            await self._inbox.write(deliveries)
        except Exception as error:  # a bug must not take the server down; the caller sees 500
            unavailable = as_unavailable(error)
            if unavailable is None:
                log.exception("webhook delivery not written: unexpected error", source=source.source)
                _count(source, "internal", HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error")
                return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "unexpected error, reported")
            message = f"{unavailable.dependency} is unavailable, try again later"
            headers = {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)}
            return _refused(
                source, f"{unavailable.dependency}_unavailable", HTTPStatus.SERVICE_UNAVAILABLE, message, headers
            )
        ACCEPTED.labels(source.source).inc(len(deliveries))
        log.debug("webhook delivery accepted", source=source.source, events=len(deliveries))
        return JSONResponse({"accepted": len(deliveries), "event_ids": [d.event_id for d in deliveries]})


def _verified(
    source: WebhookSource, headers: dict[str, str], body: bytes, received_at: float
) -> list[events_pb2.PimDelivery]:
    """Verify the delivery, then split it (nothing unverified is parsed)."""
    source.verify(headers, body, received_at)
    return source.split(headers, body, int(received_at * 1_000_000))


def _count(source: WebhookSource, reason: str, status: int, detail: str) -> None:
    REJECTIONS.labels(source.source, reason).inc()
    log.info("webhook delivery rejected", source=source.source, reason=reason, status=int(status), detail=detail)


def _refused(
    source: WebhookSource, reason: str, status: HTTPStatus, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    _count(source, reason, status, message)
    return error_response(status, reason, message, headers=headers)
