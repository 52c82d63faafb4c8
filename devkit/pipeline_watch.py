"""Watching looks go through the pipeline: which renders the twin builder planned for them, and
which of those ended as a published asset or a failed render."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from devkit.topic_reader import TopicReader
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import ASSET_FEED, RENDER_REQUESTS, RENDER_RESULTS, asset_slot
from twinwear_runtime.events import EventRegistry, unwrap

_EVENTS = EventRegistry(event for topic in (RENDER_REQUESTS, RENDER_RESULTS, ASSET_FEED) for event in topic.events)


@dataclass
class Outcome:
    # Keyed by render id.
    planned: dict[str, events_pb2.RenderRequested] = field(default_factory=dict)
    rendered: dict[str, events_pb2.RenderCompleted] = field(default_factory=dict)
    failed: dict[str, events_pb2.RenderFailed] = field(default_factory=dict)
    # Keyed by asset slot: the newest asset of each slot, and how often the slot was published.
    assets: dict[str, events_pb2.AssetPublished] = field(default_factory=dict)
    published: Counter[str] = field(default_factory=Counter)
    complete: bool = False

    def open_renders(self) -> set[str]:
        """Planned renders with no result yet."""
        return set(self.planned) - set(self.rendered) - set(self.failed)

    def slots(self) -> set[str]:
        return {asset_slot(r.look_id, r.twin.twin_id, r.pose) for r in self.planned.values()}

    def unpublished_slots(self) -> set[str]:
        """Slots with a render but no asset: the publisher held it back (QA, consent) or is behind."""
        return self.slots() - set(self.assets)


class PipelineWatch:
    """Follows the render requests, render results and the feed for a set of looks."""

    def __init__(self, looks: Collection[str], from_beginning: bool = False) -> None:
        self.looks = set(looks)
        self.outcome = Outcome()
        # When each look's first asset was seen (time.monotonic()), for latency figures.
        self.first_asset_at: dict[str, float] = {}
        self._readers = [TopicReader(t.name, from_beginning) for t in (RENDER_REQUESTS, RENDER_RESULTS, ASSET_FEED)]

    def _take(self, payload: object) -> None:
        if isinstance(payload, events_pb2.RenderRequested) and payload.look_id in self.looks:
            self.outcome.planned[payload.render_id] = payload
        elif isinstance(payload, events_pb2.RenderCompleted) and payload.look_id in self.looks:
            self.outcome.rendered[payload.render_id] = payload
        elif isinstance(payload, events_pb2.RenderFailed) and payload.look_id in self.looks:
            self.outcome.failed[payload.render_id] = payload
        elif isinstance(payload, events_pb2.AssetPublished) and payload.look_id in self.looks:
            self.first_asset_at.setdefault(payload.look_id, time.monotonic())
            self.outcome.published[payload.slot] += 1
            newest = self.outcome.assets.get(payload.slot)
            if newest is None or newest.product_version <= payload.product_version:
                self.outcome.assets[payload.slot] = payload

    def wait(self, timeout: float, quiet: float = 15.0) -> Outcome:
        """Until every look has renders planned, every planned render has its result and every slot
        its asset, with nothing new for ``quiet`` seconds (planning may still be adding renders), or
        until ``timeout``. ``complete`` is set once nothing is open; slots the publisher held back
        (QA, consent) are in ``unpublished_slots``."""
        deadline = time.monotonic() + timeout
        last_news = time.monotonic()
        while time.monotonic() < deadline:
            news = False
            for reader in self._readers:
                for record in reader.records(0.3):
                    if record.value is not None:
                        self._take(unwrap(record.value, _EVENTS)[1])
                        news = True
            if news:
                last_news = time.monotonic()
            planned_looks = {r.look_id for r in self.outcome.planned.values()}
            settled = planned_looks >= self.looks and not self.outcome.open_renders()
            waited = time.monotonic() - last_news
            if settled and (waited > quiet * 4 or (waited > quiet and not self.outcome.unpublished_slots())):
                self.outcome.complete = True
                break
        return self.outcome

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
