"""In-memory stand-ins for the aggregator's ports, and a way to feed it deliveries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from services.ingestion.pim.aggregator import Aggregator, Ports
from services.ingestion.pim.canonical import StoredImage
from services.ingestion.pim.images import ImageRejected
from services.ingestion.pim.mapping import Mapping, load_mapping
from services.ingestion.pim.stores import IndexStore, LookStore, RejectionStore
from tests.pim_payloads import MAPPING_FILE
from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.storage import MissingObject, PreconditionFailed


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket, key, data, content_type, metadata=None):
        self.objects[(bucket, key)] = data
        return events_pb2.ObjectRef(bucket=bucket, key=key, content_type=content_type, size_bytes=len(data))

    def get(self, ref):
        if (ref.bucket, ref.key) not in self.objects:
            raise MissingObject(f"{ref.bucket}/{ref.key} does not exist")
        return self.objects[(ref.bucket, ref.key)]

    def exists(self, bucket, key):
        return (bucket, key) in self.objects

    def copy(self, source, bucket, key, metadata):
        raise NotImplementedError

    def get_versioned(self, bucket, key):
        data = self.objects.get((bucket, key))
        return None if data is None else (data, hashlib.md5(data).hexdigest())

    def put_if(self, bucket, key, data, content_type, etag):
        current = self.get_versioned(bucket, key)
        if (current[1] if current else None) != etag:
            raise PreconditionFailed(f"{bucket}/{key} changed since it was read")
        self.objects[(bucket, key)] = data

    def list_keys(self, bucket, prefix):
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))


@dataclass
class FakeImages:
    """Every URL is an image whose content and colour follow from the URL; URLs in ``broken`` are rejected."""

    broken: set[str] = field(default_factory=set)
    fetched: list[str] = field(default_factory=list)

    def get(self, role: str, url: str, deadline: float) -> StoredImage:
        self.fetched.append(url)
        if url in self.broken:
            raise ImageRejected(url, "HTTP 404")
        digest = hashlib.sha256(url.encode()).hexdigest()
        return StoredImage(
            role, url, "twinwear-flat-lays", f"originals/{digest}.png", "image/png", digest, 100, 64, 64, (20, 40, 80)
        )


class FakeFetcher:
    def __init__(self, products: dict[str, dict[str, object]]) -> None:
        self.products = products

    def get_product(self, uuid: str) -> dict[str, object]:
        return self.products[uuid]  # KeyError is a LookupError: deleted since

    def get_product_model(self, code: str) -> dict[str, object]:
        raise KeyError(code)


class Harness:
    """An aggregator over memory stores; ``feed`` hands it deliveries as inbox records."""

    def __init__(
        self, mapping: Mapping | None = None, fetcher: FakeFetcher | None = None, store: MemoryStore | None = None
    ) -> None:
        self.store = store or MemoryStore()
        self.images = FakeImages()
        self.rejections = RejectionStore(self.store)
        ports = Ports(LookStore(self.store), IndexStore(self.store), self.rejections, self.images, fetcher)
        self.aggregator = Aggregator(mapping or load_mapping(MAPPING_FILE), ports)
        self.offset = 0

    def feed(self, delivery: events_pb2.PimDelivery, offset: int | None = None) -> list[Outgoing]:
        if offset is None:
            self.offset += 1
            offset = self.offset
        envelope = envelope_pb2.EventEnvelope(event_id=f"inbox-{offset}", event_type="twinwear.v1.PimDelivery")
        return self.aggregator.handle(Incoming(envelope, delivery, "twinwear.pim-inbox.v1", 0, offset))

    def rejected(self) -> list[dict[str, object]]:
        return self.rejections.newest(100)


def upserts(outputs: list[Outgoing]) -> list[events_pb2.ProductUpserted]:
    return [o.payload for o in outputs if isinstance(o.payload, events_pb2.ProductUpserted)]


def retirements(outputs: list[Outgoing]) -> list[events_pb2.ProductRetired]:
    return [o.payload for o in outputs if isinstance(o.payload, events_pb2.ProductRetired)]
