"""Benchmark of the publisher (not a test): assets published per second with derivatives and C2PA
signing, through Kafka and MinIO, against the same steps in-process (QA gates, consent, the
derivatives and their signing, stored in memory) in the same run, with the ratio; and withdrawal
latency p50/p95 from a ConsentRevoked being sent to its tombstone on the feed, and as the
publisher measured it (event occurred_at to objects deleted, from the audit log).

Expects the local stack to be up; starts its own publisher on ports 18611/18691/18653.

    .venv/bin/python benchmarks/publish.py --assets 40 --withdrawals 20
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image

from devkit.catalogue import draw_flat_lay
from devkit.memory_store import MemoryStore
from devkit.publisher_process import Ports, PublisherProcess
from devkit.topic_reader import TopicReader
from services.publisher.consent import TwinRegistry
from services.publisher.handlers import Publisher
from services.publisher.provenance import C2paSigner, parse_labelled_channels
from services.publisher.provenance.dev_ca import ensure_dev_ca
from services.publisher.publishing import ProvenanceFiles, PublishSettings
from services.publisher.qa import QaThresholds
from services.publisher.records import StoredRecords
from services.publisher.slots import SlotIndex
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_contracts.buckets import RENDERS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import ASSET_FEED, CONSENT, RENDER_RESULTS, TWINS
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.storage import MinioObjectStore

PORTS = Ports(ops=18611, http=18691, grpc=18653)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def master_png() -> bytes:
    """A 768x1024 master, from a sample flat-lay."""
    image = Image.open(io.BytesIO(draw_flat_lay("tee", "stripes", "#8e3b46"))).convert("RGB").resize((768, 1024))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def twin_events(run: str, count: int) -> list[tuple[str, object, object]]:
    """(twin id, TwinUpserted, ConsentGranted) for ``count`` talent twins."""
    events = []
    for i in range(count):
        twin_id, consent_id = f"bench-twin-{run}-{i}", f"bench-consent-{run}-{i}"
        twin = twins_pb2.TwinUpserted(twin=twins_pb2.Twin(twin_id=twin_id, twin_version=1, kind="talent"))
        grant = twins_pb2.ConsentGranted(
            grant=twins_pb2.ConsentGrant(
                consent_id=consent_id, twin_id=twin_id, brand="acme", channels=["ecommerce", "social"],
                markets=["DE"], start_date="2026-01-01", end_date="2099-12-31", fee_per_image_minor=100,
                currency="EUR",
            )
        )  # fmt: skip
        events.append((twin_id, twin, grant))
    return events


def render_of(run: str, i: int, image: events_pb2.ObjectRef) -> events_pb2.RenderCompleted:
    return events_pb2.RenderCompleted(
        render_id=f"bench-render-{run}-{i}", sku=f"BENCH-{run}-{i}", look_id=f"BENCH-{run}-{i}",
        twin_id=f"bench-twin-{run}-{i}", consent_id=f"bench-consent-{run}-{i}", image=image, width=768, height=1024,
        model="garment_on_twin", product_version=1, pose="front", twin_kind="talent", brand="acme",
        channels=["ecommerce", "social"], markets=["DE"],
    )  # fmt: skip


class Twins:
    def __init__(self, registry: TwinRegistry) -> None:
        self._registry = registry

    def synced(self) -> TwinRegistry:
        return self._registry


def in_process(count: int, master: bytes, signer: C2paSigner) -> float:
    """Assets per second: the publisher's handler on in-memory adapters, with real signing."""
    run = uuid.uuid4().hex[:8]
    registry = TwinRegistry()
    for _, twin, grant in twin_events(run, count):
        registry.apply(twin)
        registry.apply(grant)
    store = MemoryStore()
    publisher = Publisher(
        store=store,
        slots=SlotIndex(list),
        twins=Twins(registry),
        files=ProvenanceFiles(signer, parse_labelled_channels("social"), store),
        records=StoredRecords(store, STATE_BUCKET, "bench"),
        settings=PublishSettings("http://127.0.0.1:9000/twinwear-published"),
        thresholds=QaThresholds(),
    )
    image = store.put(RENDERS_BUCKET, "bench.png", master, "image/png")
    started = time.perf_counter()
    for i in range(count):
        render = render_of(run, i, image)
        envelope = wrap(render, producer="bench", key=render.look_id, event_id=f"{run}-{i}", correlation_id=run)
        assert len(publisher.render_completed(Incoming(envelope, render))) == 1
    return count / (time.perf_counter() - started)


def through_kafka(publisher: PublisherProcess, store: MinioObjectStore, count: int, master: bytes, withdrawals: int):
    run = uuid.uuid4().hex[:8]
    for twin_id, twin, grant in twin_events(run, count):
        publisher.send(TWINS.name, twin_id, twin)
        publisher.send(CONSENT.name, twin_id, grant)
    image = store.put(RENDERS_BUCKET, f"bench/{run}.png", master, "image/png")
    feed = TopicReader(ASSET_FEED.name, bootstrap=publisher.bootstrap)
    started = time.perf_counter()
    for i in range(count):
        render = render_of(run, i, image)
        publisher.send(RENDER_RESULTS.name, render.look_id, render)
    seen = set()
    for asset in feed.assets(timeout=600):
        if asset.look_id.startswith(f"BENCH-{run}-"):
            seen.add(asset.look_id)
            if len(seen) == count:
                break
    rate = len(seen) / (time.perf_counter() - started)
    # Withdrawals: revoke each grant, time until its slot's tombstone is on the feed.
    sent: dict[str, float] = {}
    for i in range(min(withdrawals, count)):
        twin_id = f"bench-twin-{run}-{i}"
        revoked = twins_pb2.ConsentRevoked(consent_id=f"bench-consent-{run}-{i}", twin_id=twin_id)
        sent[f"BENCH-{run}-{i}/{twin_id}/front"] = time.perf_counter()
        publisher.send(CONSENT.name, twin_id, revoked)
    latencies = []
    for record in feed.records(timeout=300):
        slot = record.key.decode() if record.key else ""
        if record.value is None and slot in sent:
            latencies.append(time.perf_counter() - sent.pop(slot))
            if not sent:
                break
    feed.close()
    return rate, latencies, run


def mean_handler_seconds(publisher: PublisherProcess) -> float:
    """The publisher's own mean time per RenderCompleted, from its metrics."""
    metrics = httpx.get(f"http://127.0.0.1:{publisher.ports.ops}/metrics").text
    values = {}
    for line in metrics.splitlines():
        if line.startswith("twinwear_handler_duration_seconds_") and "RenderCompleted" in line:
            name, value = line.split("{", 1)[0], float(line.rsplit(" ", 1)[1])
            values[name.rsplit("_", 1)[1]] = value
    return values["sum"] / values["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--withdrawals", type=int, default=20)
    args = parser.parse_args()
    config = load_config(RuntimeConfig)
    master = master_png()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        credentials = ensure_dev_ca(workdir / "ca")
        signer = C2paSigner.from_files(credentials.signer_chain_pem, credentials.signer_key_pem)
        local_rate = in_process(args.assets, master, signer)
        publisher = PublisherProcess(config.kafka_bootstrap, workdir, PORTS)
        publisher.start()
        try:
            rate, latencies, run = through_kafka(
                publisher, MinioObjectStore.from_config(config), args.assets, master, args.withdrawals
            )
            handler_mean = mean_handler_seconds(publisher)
            audit = [
                a["latency_seconds"]
                for a in publisher.get("/v1/withdrawals", admin=True).json()["withdrawals"]
                if a["look_id"].startswith(f"BENCH-{run}-")
            ]
        finally:
            publisher.close()
    print(
        f"published assets/s, Kafka + MinIO: {rate:.2f}  in-process: {local_rate:.2f}  ratio: {rate / local_rate:.2f}"
    )
    print(f"publisher's RenderCompleted handler, mean: {handler_mean:.3f} s (in-process: {1 / local_rate:.3f} s)")
    if latencies:
        print(
            f"withdrawal, ConsentRevoked sent -> tombstone on the feed ({len(latencies)}): "
            f"p50 {statistics.median(latencies):.2f} s  p95 {percentile(latencies, 0.95):.2f} s"
        )
    if audit:
        print(
            f"withdrawal, occurred_at -> objects deleted (audit log, {len(audit)}): "
            f"p50 {statistics.median(audit):.2f} s  p95 {percentile(audit, 0.95):.2f} s"
        )


if __name__ == "__main__":
    main()
