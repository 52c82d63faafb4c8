"""The twin registry: every twin by id at its newest version. Pure domain, no I/O.

It is folded from the compacted twins topic (TwinUpserted, TwinDeleted and the tombstone after it):
the topic keeps the newest record per twin id, so reading it to its end gives the registry back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from twinwear.v1 import twins_pb2

KINDS = ("talent", "synthetic", "customer")


@dataclass
class TwinRegistry:
    _twins: dict[str, twins_pb2.Twin] = field(default_factory=dict)
    # The version a deleted twin had, so that an id used again continues after it.
    _deleted: dict[str, int] = field(default_factory=dict)

    def apply_upserted(self, event: twins_pb2.TwinUpserted) -> bool:
        """Take a twin's new version; False when it is not newer than what is held (a redelivery)."""
        twin = event.twin
        if twin.twin_version <= self.version_of(twin.twin_id):
            return False
        self._twins[twin.twin_id] = twin
        self._deleted.pop(twin.twin_id, None)
        return True

    def apply_deleted(self, event: twins_pb2.TwinDeleted) -> bool:
        current = self._twins.get(event.twin_id)
        if current is None or current.twin_version > event.twin_version:
            return False
        del self._twins[event.twin_id]
        self._deleted[event.twin_id] = event.twin_version
        return True

    def forget(self, twin_id: str) -> None:
        """A tombstone: the key is gone from the compacted topic."""
        self._twins.pop(twin_id, None)

    def get(self, twin_id: str) -> twins_pb2.Twin | None:
        return self._twins.get(twin_id)

    def version_of(self, twin_id: str) -> int:
        """The newest version this id had, live or deleted; 0 for a new id."""
        if twin := self._twins.get(twin_id):
            return twin.twin_version
        return self._deleted.get(twin_id, 0)

    def __iter__(self) -> Iterator[twins_pb2.Twin]:
        return iter(sorted(self._twins.values(), key=lambda t: t.twin_id))

    def __len__(self) -> int:
        return len(self._twins)
