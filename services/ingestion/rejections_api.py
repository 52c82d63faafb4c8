"""``GET /v1/rejections``: the PIM products the aggregator could not turn into looks, newest
first, each with its look, SKU, source event and the exact reason, so that a merchandiser can fix
the PIM data. Filters: ``look_id``, ``source_event_id``; ``limit`` (default 50, at most 500).
Bearer token as the rest of the API."""

from __future__ import annotations

from http import HTTPStatus

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.ingestion.http_api import UNAVAILABLE_RETRY_SECONDS, Refusal
from services.ingestion.pim.stores import RejectionStore
from twinwear_runtime.faults import Unavailable

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_LIMIT
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT else None


def rejection_routes(rejections: RejectionStore, refuse: Refusal) -> list[BaseRoute]:
    """The routes, behind ``refuse`` (the API's token check)."""

    async def list_rejections(request: Request) -> Response:
        if refused := refuse(request):
            return refused
        limit = _limit(request.query_params.get("limit"))
        if limit is None:
            message = f"limit: must be an integer from 1 to {MAX_LIMIT}"
            return JSONResponse(
                {"error": "invalid_field", "message": message, "field": "limit"}, status_code=HTTPStatus.BAD_REQUEST
            )
        try:
            found = await run_in_threadpool(
                rejections.newest,
                limit,
                request.query_params.get("look_id", ""),
                request.query_params.get("source_event_id", ""),
            )
        except Unavailable as error:
            message = f"{error.dependency} is unavailable, try again later"
            return JSONResponse(
                {"error": "unavailable", "message": message},
                status_code=HTTPStatus.SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
            )
        return JSONResponse({"rejections": found})

    return [Route("/v1/rejections", list_rejections, methods=["GET"])]
