"""What each asset slot holds: the newest product version published to it. Pure domain state,
kept as pending until the consumer's transaction commits, so an aborted batch leaves no trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, order=True)
class SlotAsset:
    product_version: int
    asset_id: str


class SlotState(Protocol):
    def current(self, slot: str) -> SlotAsset | None: ...

    def publish(self, slot: str, asset: SlotAsset) -> None: ...


class SlotIndex:
    """Slot -> newest published asset. ``publish`` is pending until ``committed``; ``aborted``
    forgets it. Loaded from the feed topic at start (see ``feed_index``)."""

    def __init__(self) -> None:
        self._committed: dict[str, SlotAsset] = {}
        self._pending: dict[str, SlotAsset] = {}

    def current(self, slot: str) -> SlotAsset | None:
        return self._pending.get(slot) or self._committed.get(slot)

    def publish(self, slot: str, asset: SlotAsset) -> None:
        self._pending[slot] = asset

    def applied(self, slot: str, asset: SlotAsset | None) -> None:
        """A committed feed record (``None``: a tombstone) seen on the topic."""
        if asset is None:
            self._committed.pop(slot, None)
        elif (current := self._committed.get(slot)) is None or asset >= current:
            self._committed[slot] = asset

    def committed(self) -> None:
        for slot, asset in self._pending.items():
            self.applied(slot, asset)
        self._pending.clear()

    def aborted(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._committed)
