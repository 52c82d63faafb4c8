"""The publisher's handlers: render results in (QA gates, publish-time consent, the slot's
product-version order), withdrawals out (retired products, ended consent, deleted twins), and the
reviewer's decisions on quarantined renders."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from prometheus_client import Counter, Histogram

from services.publisher.consent import Clearance, NotPublishable, TwinRegistry, clearance, cleared_by_grants
from services.publisher.publishing import (
    AssetFiles,
    PublishSettings,
    asset_id_of,
    delete_files,
    narrowed,
    publish_files,
    slot_of,
)
from services.publisher.qa import GateFailure, QaThresholds, check_render
from services.publisher.records import Document, Records
from services.publisher.slots import SlotAsset, SlotState, skip_reason
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_contracts.buckets import RENDERS_BUCKET
from twinwear_contracts.topics import ASSET_FEED
from twinwear_runtime.events import Incoming, Outgoing, Tombstone, derive_id, wrap
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.kafka import EventSink
from twinwear_runtime.storage import ObjectStore

log = structlog.get_logger()
NOT_PUBLISHED = Counter(
    "twinwear_publisher_not_published_total",
    "Render results not published, by reason (stale: the slot holds a newer version; duplicate: it "
    "holds this asset at this version already; withdrawn: the slot was withdrawn at this version or "
    "later; quarantined: a QA gate failed; rejected: a reviewer rejected it; consent_ended, "
    "twin_deleted: no longer cleared; render_failed).",
    ["reason"],
)
QUARANTINED = Counter(
    "twinwear_publisher_quarantined_total", "Renders quarantined for review, by the QA gate they failed.", ["gate"]
)
PUBLISHED = Counter("twinwear_publisher_published_total", "Assets published, by how (consumer, review).", ["via"])
WITHDRAWAL_SECONDS = Histogram(
    "twinwear_publisher_withdrawal_seconds",
    "From the withdrawing event's occurred_at to the asset's objects deleted and its withdrawal "
    "produced (the goal is 60 s), by reason.",
    ["reason"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300),
)
WITHDRAWN = Counter(
    "twinwear_publisher_withdrawals_total",
    "Assets withdrawn (outcome withdrawn) or republished on fewer channels (narrowed), by reason.",
    ["reason", "outcome"],
)
Outputs = list[Outgoing | Tombstone]


class TwinSource(Protocol):
    def synced(self) -> TwinRegistry: ...


class ReviewError(Exception):
    """A review decision that cannot be made; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Publisher:
    """The handlers of the publisher's consumer and the reviewer's decisions, over its ports
    (bootstrap: ``__main__``). The consumer calls them one record at a time, in order."""

    store: ObjectStore
    slots: SlotState
    twins: TwinSource
    files: AssetFiles
    records: Records
    settings: PublishSettings
    thresholds: QaThresholds
    # Where a reviewer's approval is produced (outside the consumer's transactions).
    sink: EventSink | None = None
    service: str = "publisher"
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    # -- render results ---------------------------------------------------------------------------

    def render_completed(self, event: Incoming) -> Outputs:
        """Publish the render unless consent, the slot's order, a reviewer or a QA gate keeps it
        out. A render no planner could have made (unknown twin, a talent without consent, an image
        outside the renders bucket) is dead-lettered with the reason."""
        render = event.payload
        assert isinstance(render, events_pb2.RenderCompleted)
        _check_render_fields(render)
        try:
            cleared = self._clearance(render)
        except NotPublishable as refused:
            NOT_PUBLISHED.labels(refused.code).inc()
            log.info("render not published", render_id=render.render_id, code=refused.code, reason=str(refused))
            return []
        self._note_render(render)
        slot, asset_id = slot_of(render), asset_id_of(render.render_id)
        if reason := skip_reason(self.slots.current(slot), SlotAsset(render.product_version, asset_id)):
            NOT_PUBLISHED.labels(reason).inc()
            log.info("render result not published", slot=slot, reason=reason)
            return []
        review = self.records.get(_review_key(render.render_id))
        if review is not None and review["status"] == "rejected":
            NOT_PUBLISHED.labels("rejected").inc()
            return []
        master = self.store.get(render.image)
        approved = review is not None and review["status"] == "approved"
        if not approved and (failures := check_render(master, render, self.thresholds)):
            self._quarantine(render, failures, event)
            return []
        published = self._publish(render, master, cleared)
        PUBLISHED.labels("consumer").inc()
        return [Outgoing(ASSET_FEED.name, slot, published, f"{asset_id}@{render.product_version}")]

    def render_failed(self, event: Incoming) -> Outputs:
        """Listed for review, so a merchandiser can fix the product."""
        failed = event.payload
        assert isinstance(failed, events_pb2.RenderFailed)
        NOT_PUBLISHED.labels("render_failed").inc()
        log.warning("render failed", sku=failed.sku, twin_id=failed.twin_id, code=failed.code, reason=failed.reason)
        key = _review_key(failed.render_id or derive_id("render-failed", event.event_id))
        if self.records.get(key) is None:
            self.records.put(
                key,
                {
                    "review_id": key.removeprefix("review/").removesuffix(".json"),
                    "kind": "render_failed",
                    "status": "pending",
                    "code": failed.code,
                    "reasons": [failed.reason],
                    "look_id": failed.look_id or failed.sku,
                    "sku": failed.sku,
                    "twin_id": failed.twin_id,
                    "pose": failed.pose,
                    "product_version": failed.product_version,
                    "listed_at": _occurred_at(event).isoformat(),
                },
            )
        return []

    def product_upserted(self, event: Incoming) -> Outputs:
        """Remember the look's campaigns, for the sustainability report."""
        product = event.payload
        assert isinstance(product, events_pb2.ProductUpserted)
        look = product.look_id or product.sku
        for campaign in product.campaign_tags:
            self.records.put(f"campaigns/{campaign}/{look}.json", {"campaign": campaign, "look_id": look})
        return []

    # -- withdrawals ------------------------------------------------------------------------------

    def product_retired(self, event: Incoming) -> Outputs:
        """Withdraw the look's assets (a variant's retirement only drops that SKU from them)."""
        retired = event.payload
        assert isinstance(retired, events_pb2.ProductRetired)
        look = retired.look_id or retired.sku
        outputs: Outputs = []
        for slot, asset in self._held(lambda a: look in (a.look_id, a.sku)):
            if asset.product_version > retired.product_version:
                continue  # a newer version of the look came back after this retirement
            remaining = [s for s in asset.variant_skus if s != retired.variant_sku]
            if retired.variant_sku and remaining:
                if len(remaining) < len(asset.variant_skus):
                    kept = events_pb2.AssetPublished()
                    kept.CopyFrom(asset)
                    del kept.variant_skus[:]
                    kept.variant_skus.extend(remaining)
                    outputs += self._republish(event, slot, asset, kept, "product_retired")
                continue
            outputs += self._withdraw(event, slot, asset, "product_retired", retired.product_version)
        return outputs

    def consent_ended(self, event: Incoming) -> Outputs:
        """ConsentRevoked or ConsentExpired: each asset published under the grant is withdrawn, or
        republished on the channels another active grant of the twin still covers."""
        ended = event.payload
        assert isinstance(ended, twins_pb2.ConsentRevoked | twins_pb2.ConsentExpired)
        reason = "consent_revoked" if isinstance(ended, twins_pb2.ConsentRevoked) else "consent_expired"
        registry = self.twins.synced()
        outputs: Outputs = []
        matching = self._held(lambda a: a.twin_id == ended.twin_id and a.consent_id == ended.consent_id)
        for slot, asset in matching:
            try:
                cleared = cleared_by_grants(
                    registry.grants_of(asset.twin_id),
                    asset.brand,
                    tuple(asset.channels),
                    tuple(asset.markets),
                    self.now().date(),
                )
            except NotPublishable:
                outputs += self._withdraw(event, slot, asset, reason, asset.product_version)
                continue
            outputs += self._republish(event, slot, asset, narrowed(asset, cleared), reason)
        return outputs

    def twin_deleted(self, event: Incoming) -> Outputs:
        deleted = event.payload
        assert isinstance(deleted, twins_pb2.TwinDeleted)
        outputs: Outputs = []
        for slot, asset in self._held(lambda a: a.twin_id == deleted.twin_id):
            outputs += self._withdraw(event, slot, asset, "twin_deleted", asset.product_version)
        return outputs

    # -- review -----------------------------------------------------------------------------------

    def reviews(self, status: str = "") -> list[Document]:
        """The review list without the stored render bytes, oldest first."""
        listed = [{k: v for k, v in r.items() if k != "render"} for r in self.records.list("review/")]
        return sorted((r for r in listed if not status or r["status"] == status), key=lambda r: r["listed_at"])

    def approve(self, review_id: str, reviewer: str) -> events_pb2.AssetPublished:
        """Publish a quarantined render, consent and slot order permitting; the event is produced
        through ``sink`` (the consumer's slot index re-reads the feed before its next decision)."""
        record = self._pending_review(review_id)
        if record["kind"] != "quarantined":
            raise ReviewError(409, "a failed render has no image to approve; fix the product instead")
        render = events_pb2.RenderCompleted.FromString(base64.b64decode(record["render"]))
        try:
            cleared = self._clearance(render)
        except NotPublishable as refused:
            raise ReviewError(409, f"not publishable: {refused}") from refused
        slot, asset_id = slot_of(render), asset_id_of(render.render_id)
        if reason := skip_reason(self.slots.current(slot), SlotAsset(render.product_version, asset_id)):
            raise ReviewError(409, f"the slot {slot} does not take this render: {reason}")
        published = self._publish(render, self.store.get(render.image), cleared)
        assert self.sink is not None, "approvals need an event sink"
        envelope = wrap(
            published,
            producer=self.service,
            key=slot,
            event_id=derive_id("review-approved", review_id, str(render.product_version)),
            correlation_id=review_id,
        )
        self.sink.publish([(ASSET_FEED.name, envelope)])
        self.slots.invalidate()
        # Decided once published: a failure before leaves it pending, to approve again (the same
        # keys and event id, so a second try publishes the same asset).
        self._decide(record, "approved", reviewer)
        PUBLISHED.labels("review").inc()
        return published

    def reject(self, review_id: str, reviewer: str) -> Document:
        record = self._pending_review(review_id)
        self._decide(record, "rejected", reviewer)
        return {k: v for k, v in record.items() if k != "render"}

    # -- the steps --------------------------------------------------------------------------------

    def _clearance(self, render: events_pb2.RenderCompleted) -> Clearance:
        """Consent today; a forged render (no planner could have made it) is a PermanentError."""
        if render.twin_kind == "customer":
            raise PermanentError(f"twin {render.twin_id!r} is a customer avatar: never in the feed")
        try:
            return clearance(
                self.twins.synced(),
                twin_id=render.twin_id,
                consent_id=render.consent_id,
                brand=render.brand,
                channels=tuple(render.channels) or ("ecommerce",),
                markets=tuple(render.markets),
                today=self.now().date(),
            )
        except NotPublishable as refused:
            if refused.forged:
                raise PermanentError(f"{refused.code}: {refused}") from refused
            raise

    def _publish(
        self, render: events_pb2.RenderCompleted, master: bytes, cleared: Clearance
    ) -> events_pb2.AssetPublished:
        published = publish_files(render, master, cleared, self.store, self.files, self.settings)
        self._record_usage(published, cleared)
        self.slots.publish(published.slot, SlotAsset(render.product_version, published.asset_id, published=published))
        return published

    def _record_usage(self, asset: events_pb2.AssetPublished, cleared: Clearance) -> None:
        """A talent's ledger: one fact per slot, channel and month, however often it republishes."""
        if not cleared.consent_id:  # a synthetic twin: no person, no fee
            return
        month = self.now().strftime("%Y-%m")
        for channel in cleared.channels:
            key = f"ledger/{month}/{asset.twin_id}/{derive_id('slot', asset.slot)}/{channel}.json"
            if self.records.get(key) is None:
                self.records.put(
                    key,
                    {
                        "month": month,
                        "twin_id": asset.twin_id,
                        "consent_id": cleared.consent_id,
                        "channel": channel,
                        "slot": asset.slot,
                        "asset_id": asset.asset_id,
                        "look_id": asset.look_id,
                        "fee_per_image_minor": cleared.fee_per_image_minor,
                        "currency": cleared.currency,
                        "published_at": self.now().isoformat(),
                    },
                )

    def _note_render(self, render: events_pb2.RenderCompleted) -> None:
        look = render.look_id or render.sku
        self.records.put(
            f"renders/{look}/{render.render_id}.json",
            {
                "render_id": render.render_id,
                "look_id": look,
                "slot": slot_of(render),
                "compute_seconds": render.compute_seconds,
                "cached": render.cached,
            },
        )

    def _quarantine(self, render: events_pb2.RenderCompleted, failures: list[GateFailure], event: Incoming) -> None:
        for failure in failures:
            QUARANTINED.labels(failure.gate).inc()
        NOT_PUBLISHED.labels("quarantined").inc()
        log.warning("render quarantined", render_id=render.render_id, gates=[f.gate for f in failures])
        key = _review_key(render.render_id)
        if self.records.get(key) is not None:  # listed already, perhaps decided: a replay changes nothing
            return
        self.records.put(
            key,
            {
                "review_id": render.render_id,
                "kind": "quarantined",
                "status": "pending",
                "gates": [f.gate for f in failures],
                "reasons": [f.reason for f in failures],
                "look_id": render.look_id or render.sku,
                "sku": render.sku,
                "twin_id": render.twin_id,
                "pose": render.pose,
                "product_version": render.product_version,
                "asset_id": asset_id_of(render.render_id),
                "slot": slot_of(render),
                "listed_at": _occurred_at(event).isoformat(),
                "render": base64.b64encode(render.SerializeToString()).decode(),
            },
        )

    def _pending_review(self, review_id: str) -> Document:
        record = self.records.get(_review_key(review_id))
        if record is None:
            raise ReviewError(404, f"no review {review_id!r}")
        if record["status"] != "pending":
            raise ReviewError(409, f"review {review_id!r} was {record['status']} already")
        return record

    def _decide(self, record: Document, status: str, reviewer: str) -> None:
        record.update(status=status, decided_by=reviewer, decided_at=self.now().isoformat())
        self.records.put(_review_key(record["review_id"]), record)
        log.info("review decided", review_id=record["review_id"], status=status, reviewer=reviewer)

    def _held(
        self, matches: Callable[[events_pb2.AssetPublished], bool]
    ) -> list[tuple[str, events_pb2.AssetPublished]]:
        return [
            (slot, held.published)
            for slot, held in sorted(self.slots.held().items())
            if held.published is not None and matches(held.published)
        ]

    def _withdraw(
        self, event: Incoming, slot: str, asset: events_pb2.AssetPublished, reason: str, product_version: int
    ) -> Outputs:
        """Out of public reach (objects deleted), off the feed (AssetWithdrawn, then a tombstone),
        into the audit log."""
        deleted = delete_files(self.store, asset.derivatives)
        withdrawn = events_pb2.AssetWithdrawn(
            asset_id=asset.asset_id,
            slot=slot,
            look_id=asset.look_id,
            twin_id=asset.twin_id,
            reason=reason,
            cause_event_id=event.event_id,
            product_version=max(product_version, asset.product_version),
        )
        self.slots.publish(slot, SlotAsset(withdrawn.product_version, asset.asset_id, withdrawn=True))
        self._audit(event, asset, reason, "withdrawn", deleted, ())
        return [
            Outgoing(ASSET_FEED.name, slot, withdrawn, f"withdrawn:{asset.asset_id}"),
            Tombstone(ASSET_FEED.name, slot),
        ]

    def _republish(
        self,
        event: Incoming,
        slot: str,
        asset: events_pb2.AssetPublished,
        kept: events_pb2.AssetPublished,
        reason: str,
    ) -> Outputs:
        """The asset stays on the feed with less (fewer channels or variants)."""
        if kept == asset:
            return []
        keys = {d.object.key for d in kept.derivatives}
        deleted = delete_files(self.store, [d for d in asset.derivatives if d.object.key not in keys])
        self.slots.publish(slot, SlotAsset(kept.product_version, kept.asset_id, published=kept))
        self._audit(event, asset, reason, "narrowed", deleted, tuple(kept.channels))
        identity = f"{kept.asset_id}@{kept.product_version}:{','.join(kept.channels)}:{','.join(kept.variant_skus)}"
        return [Outgoing(ASSET_FEED.name, slot, kept, identity)]

    def _audit(
        self,
        event: Incoming,
        asset: events_pb2.AssetPublished,
        reason: str,
        outcome: str,
        deleted: int,
        channels_left: tuple[str, ...],
    ) -> None:
        occurred, now = _occurred_at(event), self.now()
        latency = max(0.0, (now - occurred).total_seconds())
        WITHDRAWAL_SECONDS.labels(reason).observe(latency)
        WITHDRAWN.labels(reason, outcome).inc()
        log.info("asset withdrawn", asset_id=asset.asset_id, reason=reason, outcome=outcome, seconds=round(latency, 3))
        self.records.put(
            f"audit/{now.date().isoformat()}/{event.event_id}/{asset.asset_id}.json",
            {
                "asset_id": asset.asset_id,
                "slot": asset.slot,
                "look_id": asset.look_id,
                "twin_id": asset.twin_id,
                "reason": reason,
                "outcome": outcome,
                "channels_left": list(channels_left),
                "objects_deleted": deleted,
                "cause_event_id": event.event_id,
                "cause_event_type": event.event_type,
                "event_occurred_at": occurred.isoformat(),
                "withdrawn_at": now.isoformat(),
                "latency_seconds": round(latency, 3),
            },
        )


def _check_render_fields(render: events_pb2.RenderCompleted) -> None:
    for name in ("render_id", "twin_id", "pose"):
        if not getattr(render, name):
            raise PermanentError(f"RenderCompleted.{name} is empty")
    if not render.image.key:
        raise PermanentError("RenderCompleted.image.key is empty")
    for name in ("image", "turntable_webp", "turntable_mp4"):
        ref = getattr(render, name)
        if (name == "image" or ref.key) and ref.bucket != RENDERS_BUCKET:
            raise PermanentError(f"RenderCompleted.{name} must be in {RENDERS_BUCKET}, not {ref.bucket!r}")
    if not (render.look_id or render.sku):
        raise PermanentError("RenderCompleted has neither look_id nor sku")


def _review_key(review_id: str) -> str:
    return f"review/{review_id}.json"


def _occurred_at(event: Incoming) -> dt.datetime:
    return event.envelope.occurred_at.ToDatetime(tzinfo=dt.UTC)
