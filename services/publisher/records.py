"""The publisher's durable bookkeeping, as JSON documents under deterministic keys in the state
bucket (``<service>/<kind>/...``): a retried write overwrites the same document, so a replayed
event never counts twice.

- ``review/<render_id>.json``: a quarantined render or a failed one, and the reviewer's decision.
- ``audit/<yyyy-mm-dd>/<cause event id>/<asset_id>.json``: one per withdrawal.
- ``ledger/<yyyy-mm>/<twin_id>/<slot id>/<channel>.json``: a slot published on a channel in a month.
- ``renders/<look_id>/<render_id>.json`` and ``campaigns/<campaign>/<look_id>.json``: what the
  sustainability report adds up.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from twinwear.v1 import events_pb2
from twinwear_runtime.storage import MissingObject, ObjectStore

Document = dict[str, Any]


class Records(Protocol):
    def put(self, key: str, document: Document) -> None: ...

    def get(self, key: str) -> Document | None: ...

    def list(self, prefix: str) -> list[Document]: ...


class StoredRecords:
    """Records in an object store bucket, under one root (the service's name)."""

    def __init__(self, store: ObjectStore, bucket: str, root: str) -> None:
        self._store = store
        self._bucket = bucket
        self._root = root.rstrip("/")

    def put(self, key: str, document: Document) -> None:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self._store.put(self._bucket, f"{self._root}/{key}", data, "application/json")

    def get(self, key: str) -> Document | None:
        try:
            data = self._store.get(events_pb2.ObjectRef(bucket=self._bucket, key=f"{self._root}/{key}"))
        except MissingObject:
            return None
        return json.loads(data)

    def list(self, prefix: str) -> list[Document]:
        """Every document under ``prefix``, in key order."""
        documents = []
        for full_key in sorted(self._store.list_keys(self._bucket, f"{self._root}/{prefix}")):
            try:
                data = self._store.get(events_pb2.ObjectRef(bucket=self._bucket, key=full_key))
            except MissingObject:  # removed since it was listed
                continue
            documents.append(json.loads(data))
        return documents
