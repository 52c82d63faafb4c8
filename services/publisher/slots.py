"""What each asset slot holds: the newest product version published to it. Pure domain state,
kept as pending until the consumer's transaction commits, so an abandoned batch leaves no trace."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SlotAsset:
    product_version: int
    asset_id: str


class SlotState(Protocol):
    def current(self, slot: str) -> SlotAsset | None: ...

    def publish(self, slot: str, asset: SlotAsset) -> None: ...


# The committed feed, oldest first, as (slot, asset) pairs; None is a withdrawal's tombstone.
FeedHistory = Callable[[], Iterable[tuple[str, SlotAsset | None]]]


class SlotIndex:
    """Slot -> the asset the feed holds for it. Read from the feed itself (``read_history``)
    whenever it may be behind: at start, after an abandoned transaction and when partitions move
    between replicas. ``publish`` stays pending until ``committed``; ``discard`` forgets it."""

    def __init__(self, read_history: FeedHistory) -> None:
        self._read_history = read_history
        self._committed: dict[str, SlotAsset] = {}
        self._pending: dict[str, SlotAsset] = {}
        self._stale = True

    def current(self, slot: str) -> SlotAsset | None:
        if self._stale:
            self._reload()
        return self._pending.get(slot) or self._committed.get(slot)

    def publish(self, slot: str, asset: SlotAsset) -> None:
        self._pending[slot] = asset

    def committed(self) -> None:
        self._committed.update(self._pending)
        self._pending.clear()

    def discard(self) -> None:
        self._pending.clear()
        self._stale = True

    def __len__(self) -> int:
        return len(self._committed)

    def _reload(self) -> None:
        committed: dict[str, SlotAsset] = {}
        for slot, asset in self._read_history():  # in feed order: the last record of a slot wins
            if asset is None:
                committed.pop(slot, None)
            else:
                committed[slot] = asset
        self._committed, self._stale = committed, False
