"""What each asset slot holds: the newest product version published to it, or the withdrawal
that emptied it. Pure domain state, kept as pending until the consumer's transaction commits, so
an abandoned batch leaves no trace."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from twinwear.v1 import events_pb2


@dataclass(frozen=True)
class SlotAsset:
    product_version: int
    asset_id: str
    # A withdrawal: renders up to this product version stay out of the slot.
    withdrawn: bool = False
    # The feed's record of the asset, for withdrawals and republishing (not part of its identity).
    published: events_pb2.AssetPublished | None = field(default=None, compare=False)


class SlotState(Protocol):
    def current(self, slot: str) -> SlotAsset | None: ...

    def publish(self, slot: str, asset: SlotAsset) -> None: ...

    def held(self) -> dict[str, SlotAsset]: ...

    def invalidate(self) -> None:
        """Something outside the consumer wrote to the feed: read it again before deciding."""


def skip_reason(current: SlotAsset | None, incoming: SlotAsset) -> str | None:
    """Why ``incoming`` must not go into a slot holding ``current`` (None: it may): the slot holds
    a newer product version, this very asset already, or a withdrawal of this version or newer."""
    if current is None:
        return None
    if current.withdrawn and current.product_version >= incoming.product_version:
        return "withdrawn"
    if current.product_version > incoming.product_version:
        return "stale"
    if current == incoming:
        return "duplicate"
    return None


# The committed feed, oldest first, as (slot, asset) pairs; None is a tombstone.
FeedHistory = Callable[[], Iterable[tuple[str, SlotAsset | None]]]


class SlotIndex:
    """Slot -> what the feed holds for it. Read from the feed itself (``read_history``) whenever
    it may be behind: at start, after an abandoned transaction, when partitions move between
    replicas, and after a reviewer published outside the consumer (``invalidate``). ``publish``
    stays pending until ``committed``; ``discard`` forgets it."""

    def __init__(self, read_history: FeedHistory) -> None:
        self._read_history = read_history
        self._committed: dict[str, SlotAsset] = {}
        self._pending: dict[str, SlotAsset] = {}
        self._stale = True
        self._lock = threading.Lock()  # invalidate comes from API threads

    def current(self, slot: str) -> SlotAsset | None:
        self._reload_if_stale()
        return self._pending.get(slot) or self._committed.get(slot)

    def held(self) -> dict[str, SlotAsset]:
        """Every slot's asset, pending ones included, withdrawals left out."""
        self._reload_if_stale()
        merged = {**self._committed, **self._pending}
        return {slot: asset for slot, asset in merged.items() if not asset.withdrawn}

    def publish(self, slot: str, asset: SlotAsset) -> None:
        self._pending[slot] = asset

    def committed(self) -> None:
        self._committed.update(self._pending)
        self._pending.clear()

    def discard(self) -> None:
        self._pending.clear()
        self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._stale = True

    def __len__(self) -> int:
        return len(self._committed)

    def _reload_if_stale(self) -> None:
        with self._lock:
            if not self._stale:
                return
            self._stale = False
        try:
            history = list(self._read_history())
        except BaseException:
            self.invalidate()
            raise
        committed: dict[str, SlotAsset] = {}
        for slot, asset in history:  # in feed order: the last record of a slot wins
            if asset is None:  # a tombstone follows a withdrawal: keep the withdrawal's marker
                if slot in committed and not committed[slot].withdrawn:
                    committed.pop(slot)
            else:
                committed[slot] = asset
        self._committed = committed
