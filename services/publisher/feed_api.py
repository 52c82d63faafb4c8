"""The publisher's APIs over one ``FeedView`` and the ``Publisher``'s records.

HTTP JSON (Starlette), bearer ``TWINWEAR_API_TOKEN`` for feed reads:
  GET /v1/assets?sku=<variant SKU or look id>      the assets held now, and the feed's cursor
  GET /v1/assets/changes?cursor=<cursor>           changes since the cursor, and the next cursor
  GET /v1/feeds/merchant.tsv                       Google Merchant Center supplemental feed
Admin token (``TWINWEAR_ADMIN_TOKENS``):
  GET /v1/review[?status=pending]                  quarantined and failed renders
  POST /v1/review/{review_id}/approve | /reject    an approval publishes
  GET /v1/withdrawals[?date=YYYY-MM-DD]            the withdrawal audit log (of a day, UTC)
  GET /v1/ledger[?month=YYYY-MM]  GET /v1/ledger.csv[?month=]   talent usage and fees
  GET /v1/reports/sustainability?campaign=<tag>

gRPC ``twinwear.v1.AssetFeedService`` (bearer API token; reflection open).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import grpc
import structlog
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.publisher.feed_index import Cursor, FeedRecord, FeedView, InvalidCursor, decode_cursor, encode_cursor
from services.publisher.handlers import Publisher, ReviewError
from services.publisher.merchant import merchant_tsv
from services.publisher.sustainability import (
    RenderFact,
    SustainabilityConfig,
    report_as_dict,
    sustainability_report,
)
from services.publisher.talent_ledger import ConsentTerms, LedgerRow, Publication, ledger_csv, usage_ledger
from twinwear.v1 import asset_feed_pb2, asset_feed_pb2_grpc, events_pb2
from twinwear_runtime.auth import AdminTokens, ApiTokens, Verdict
from twinwear_runtime.faults import as_unavailable
from twinwear_runtime.grpc_server import start_grpc_server

SERVICE_NAME = asset_feed_pb2.DESCRIPTOR.services_by_name["AssetFeedService"].full_name
_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
log = structlog.get_logger()


def change_of(record: FeedRecord, after: Cursor) -> asset_feed_pb2.AssetChange:
    change = asset_feed_pb2.AssetChange(slot=record.slot, cursor=encode_cursor(after))
    if isinstance(record.event, events_pb2.AssetPublished):
        change.published.CopyFrom(record.event)
    elif isinstance(record.event, events_pb2.AssetWithdrawn):
        change.withdrawn.CopyFrom(record.event)
    else:
        change.removed = True
    return change


def changes_after(records: list[FeedRecord], cursor: Cursor) -> Iterator[asset_feed_pb2.AssetChange]:
    """Each change with the cursor just past it."""
    position = dict(cursor)
    for record in records:
        position[record.partition] = record.offset + 1
        yield change_of(record, position)


def _json(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def _error(status: HTTPStatus, error: str, message: str, field: str = "") -> JSONResponse:
    body = {"error": error, "message": message} | ({"field": field} if field else {})
    return JSONResponse(body, status_code=status)


class FeedHttpApi:
    def __init__(
        self,
        view: FeedView,
        publisher: Publisher,
        tokens: ApiTokens,
        admins: AdminTokens,
        sustainability: SustainabilityConfig,
    ) -> None:
        self._view = view
        self._publisher = publisher
        self._tokens = tokens
        self._admins = admins
        self._sustainability_config = sustainability

    def app(self) -> Starlette:
        feed, admin = self._feed, self._admin
        return Starlette(
            routes=[
                Route("/v1/assets", feed(self._assets)),
                Route("/v1/assets/changes", feed(self._changes)),
                Route("/v1/feeds/merchant.tsv", feed(self._merchant)),
                Route("/v1/review", admin(self._reviews)),
                Route("/v1/review/{review_id}/{decision:str}", admin(self._decide), methods=["POST"]),
                Route("/v1/withdrawals", admin(self._withdrawals)),
                Route("/v1/ledger", admin(self._ledger)),
                Route("/v1/ledger.csv", admin(self._ledger_csv)),
                Route("/v1/reports/sustainability", admin(self._sustainability)),
            ],
            exception_handlers={HTTPException: _no_route},
        )

    # -- auth: the token is checked before anything else happens --------------------------------

    def _feed(self, handle: Callable[[Request, str], Response]) -> Callable[[Request], Any]:
        return functools.partial(self._guarded, self._tokens, handle)

    def _admin(self, handle: Callable[[Request, str], Response]) -> Callable[[Request], Any]:
        return functools.partial(self._guarded, self._admins, handle)

    async def _guarded(
        self, tokens: ApiTokens, handle: Callable[[Request, str], Response], request: Request
    ) -> Response:
        authorization = request.headers.get("authorization")
        verdict = tokens.check(authorization)
        if verdict is Verdict.NOT_CONFIGURED:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "not_configured", tokens.not_configured_message)
        if verdict is Verdict.UNAUTHORIZED:
            return JSONResponse(
                {"error": "unauthorized"}, status_code=HTTPStatus.UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
            )
        holder = tokens.holder(authorization) or ""
        return await run_in_threadpool(self._answer, handle, request, holder)

    @staticmethod
    def _answer(handle: Callable[[Request, str], Response], request: Request, holder: str) -> Response:
        try:
            return handle(request, holder)
        except Exception as error:  # a bug must not take the server down; the caller sees 500
            unavailable = as_unavailable(error)
            if unavailable is None:
                log.exception("request failed: unexpected error", path=request.url.path)
                return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "unexpected error, reported")
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", f"{unavailable.dependency} is unavailable")

    # -- the feed ---------------------------------------------------------------------------------

    def _assets(self, request: Request, _holder: str) -> Response:
        key = request.query_params.get("sku", "").strip()
        if not key:
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "sku: give a variant SKU or a look id", "sku")
        assets = self._view.assets_for(key)
        return JSONResponse({"assets": [_json(a) for a in assets], "cursor": encode_cursor(self._view.cursor())})

    def _changes(self, request: Request, _holder: str) -> Response:
        try:
            cursor = decode_cursor(request.query_params.get("cursor", ""))
        except InvalidCursor as error:
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", f"cursor: {error}", "cursor")
        changes = list(changes_after(self._view.changes_since(cursor), cursor))
        following = changes[-1].cursor if changes else encode_cursor(cursor)
        return JSONResponse({"changes": [_json(c) for c in changes], "cursor": following})

    def _merchant(self, _request: Request, _holder: str) -> Response:
        return PlainTextResponse(
            merchant_tsv(self._view.assets()), media_type="text/tab-separated-values; charset=utf-8"
        )

    # -- review, audit, ledger, report ------------------------------------------------------------

    def _reviews(self, request: Request, _holder: str) -> Response:
        status = request.query_params.get("status", "")
        if status not in ("", "pending", "approved", "rejected"):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "status: pending, approved or rejected", "status")
        return JSONResponse({"reviews": self._publisher.reviews(status)})

    def _decide(self, request: Request, reviewer: str) -> Response:
        review_id, decision = request.path_params["review_id"], request.path_params["decision"]
        if decision not in ("approve", "reject"):
            return _error(HTTPStatus.NOT_FOUND, "no_route", f"no decision {decision!r}: approve or reject")
        if not _ID.match(review_id):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "review_id: letters, digits, . _ -", "review_id")
        try:
            if decision == "approve":
                return JSONResponse(
                    {"status": "approved", "asset": _json(self._publisher.approve(review_id, reviewer))}
                )
            return JSONResponse(self._publisher.reject(review_id, reviewer))
        except ReviewError as error:
            return _error(HTTPStatus(error.status), "review", str(error), "review_id")

    def _withdrawals(self, request: Request, _holder: str) -> Response:
        day = request.query_params.get("date", "")
        if day and not _DAY.match(day):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "date: YYYY-MM-DD", "date")
        return JSONResponse({"withdrawals": self._publisher.records.list(f"audit/{day}")})

    def _ledger_rows(self, request: Request) -> list[LedgerRow] | Response:
        """The ledger from the recorded publications (one per slot, channel and month)."""
        month = request.query_params.get("month", "")
        if month and not _MONTH.match(month):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "month: YYYY-MM", "month")
        facts = self._publisher.records.list(f"ledger/{month}")
        publications = [
            Publication(
                f["slot"], f["twin_id"], f["consent_id"], f["channel"], dt.datetime.fromisoformat(f["published_at"])
            )
            for f in facts
        ]
        terms = {f["consent_id"]: ConsentTerms(f["consent_id"], f["fee_per_image_minor"], f["currency"]) for f in facts}
        return usage_ledger(publications, terms)

    def _ledger(self, request: Request, _holder: str) -> Response:
        rows = self._ledger_rows(request)
        if isinstance(rows, Response):
            return rows
        return JSONResponse({"ledger": [dataclasses.asdict(row) for row in rows]})

    def _ledger_csv(self, request: Request, _holder: str) -> Response:
        rows = self._ledger_rows(request)
        return rows if isinstance(rows, Response) else PlainTextResponse(ledger_csv(rows), media_type="text/csv")

    def _sustainability(self, request: Request, _holder: str) -> Response:
        campaign = request.query_params.get("campaign", "")
        if not _ID.match(campaign):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_field", "campaign: a campaign tag is required", "campaign")
        records = self._publisher.records
        looks = sorted({c["look_id"] for c in records.list(f"campaigns/{campaign}/")})
        facts = [
            RenderFact(r["render_id"], r["slot"], (campaign,), r["compute_seconds"], r["cached"])
            for look in looks
            for r in records.list(f"renders/{look}/")
        ]
        reports = sustainability_report(facts, self._sustainability_config)
        if not reports:
            return _error(HTTPStatus.NOT_FOUND, "unknown_campaign", f"no renders of campaign {campaign!r}", "campaign")
        return JSONResponse(report_as_dict(reports[0]))


async def _no_route(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error(HTTPStatus(error.status_code), "no_route", f"no route for {request.method} {request.url.path}")


class AssetFeedServicer(asset_feed_pb2_grpc.AssetFeedServiceServicer):
    # How often a watch checks that its client is still there while the feed is quiet.
    WATCH_POLL_SECONDS = 1.0

    def __init__(self, view: FeedView) -> None:
        self._view = view

    def ListAssets(  # noqa: N802 - generated gRPC method name
        self, request: asset_feed_pb2.ListAssetsRequest, context: grpc.ServicerContext
    ) -> asset_feed_pb2.ListAssetsResponse:
        selector = request.WhichOneof("selector")
        if selector is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "selector: give look_id, sku or cursor")
        if selector == "cursor":
            cursor = self._cursor(request.cursor, context)
            changes = list(changes_after(self._view.changes_since(cursor), cursor))
            following = changes[-1].cursor if changes else encode_cursor(cursor)
            return asset_feed_pb2.ListAssetsResponse(changes=changes, cursor=following)
        key = request.look_id if selector == "look_id" else request.sku
        if not key.strip():
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{selector}: must not be empty")
        assets = self._view.assets_for(key)
        if selector == "look_id":
            assets = [a for a in assets if a.look_id == key]
        return asset_feed_pb2.ListAssetsResponse(assets=assets, cursor=encode_cursor(self._view.cursor()))

    def WatchAssets(  # noqa: N802 - generated gRPC method name
        self, request: asset_feed_pb2.WatchAssetsRequest, context: grpc.ServicerContext
    ) -> Iterator[asset_feed_pb2.WatchAssetsResponse]:
        cursor = self._cursor(request.cursor, context)
        while context.is_active():
            records = self._view.wait_for_changes(cursor, self.WATCH_POLL_SECONDS)
            for change in changes_after(records, cursor):
                if not request.look_id or _look_of(change) == request.look_id:
                    yield asset_feed_pb2.WatchAssetsResponse(change=change)
            for record in records:
                cursor[record.partition] = record.offset + 1

    def GetAsset(  # noqa: N802 - generated gRPC method name
        self, request: asset_feed_pb2.GetAssetRequest, context: grpc.ServicerContext
    ) -> asset_feed_pb2.GetAssetResponse:
        if not request.asset_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "asset_id: must not be empty")
        asset = self._view.asset(request.asset_id)
        if asset is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"asset_id: no published asset {request.asset_id!r}")
        return asset_feed_pb2.GetAssetResponse(asset=asset)

    @staticmethod
    def _cursor(token: str, context: grpc.ServicerContext) -> Cursor:
        try:
            return decode_cursor(token)
        except InvalidCursor as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cursor: {error}")
            raise  # abort raises; this keeps the type checker honest


def _look_of(change: asset_feed_pb2.AssetChange) -> str:
    if change.HasField("published"):
        return change.published.look_id
    if change.HasField("withdrawn"):
        return change.withdrawn.look_id
    return change.slot.split("/", 1)[0]


def start_grpc_feed(
    port: int, view: FeedView, tokens: ApiTokens, host: str = "0.0.0.0", max_in_flight: int = 32
) -> grpc.Server:
    """Serve on a pool of ``max_in_flight`` threads (each watch holds one)."""
    servicer = AssetFeedServicer(view)
    return start_grpc_server(
        lambda server: asset_feed_pb2_grpc.add_AssetFeedServiceServicer_to_server(servicer, server),
        [SERVICE_NAME],
        tokens,
        port,
        host,
        max_in_flight,
    )
