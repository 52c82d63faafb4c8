"""The demo pipeline: the sample catalogue arrives from a PIM (signed Akeneo webhooks), is grouped
into looks, planned onto the default roster of synthetic twins in the sizes they would wear,
rendered in 3D, signed and published; the result is a contact sheet.

Expects the local stack to be up (infra/demo.sh does that first). Run: ``python -m demo``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from demo.contact_sheet import SheetEntry, write_contact_sheet
from devkit.akeneo_catalogue import DEMO_MAPPING, DEV_AKENEO_SECRET, flat_lay_server, post_events, variant_events
from devkit.catalogue import load_catalogue
from devkit.local_services import ROOT, services_running, skip_backlog
from devkit.pipeline_watch import PipelineWatch
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.storage import MinioObjectStore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / f"demo-{datetime.now():%Y%m%d-%H%M%S}")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for all assets")
    parser.add_argument("--products", type=int, default=0, help="only the first N catalogue products")
    args = parser.parse_args()

    products = load_catalogue()[: args.products or None]
    looks = {p.sku: p for p in products}
    started = time.monotonic()
    env = {"TWINWEAR_PIM_MAPPING": str(DEMO_MAPPING), "TWINWEAR_AKENEO_SECRET": DEV_AKENEO_SECRET}
    skip_backlog()  # what other runs left unconsumed on this local stack is not the demo's
    with services_running(env=env), flat_lay_server(products) as images:
        # From the beginning: looks an earlier run published are not rendered again (the same
        # content is the same render), so their assets count too.
        watch = PipelineWatch(set(looks), from_beginning=True)
        updated = datetime.now(UTC).isoformat(timespec="seconds")
        events = [
            event
            for product in products
            for event in variant_events(
                product, images.url(product.sku), [row["size_label"] for row in product.size_chart], updated
            )
        ]
        post_events(events)
        print(f"twinwear demo: {len(products)} looks ({len(events)} Akeneo variant events) sent to ingestion")
        outcome = watch.wait(timeout=args.timeout)
        watch.close()
    wall = time.monotonic() - started

    store = MinioObjectStore.from_config(load_config(RuntimeConfig))
    entries = [
        SheetEntry(
            look_id=a.look_id,
            title=looks[a.look_id].title,
            caption=f"size {a.size_label} · Monk {a.monk_skin_tone} · {a.body_type or a.twin_kind}",
            twin_id=a.twin_id,
            asset_id=a.asset_id,
            png=store.get(a.image),
        )
        for a in outcome.assets.values()
    ]
    page, grid = write_contact_sheet(entries, args.out)
    print(
        f"\nsummary: looks {len(products)}, renders planned {len(outcome.planned)}, "
        f"assets published {len(outcome.assets)}, renders failed {len(outcome.failed)}, "
        f"held back by the publisher (QA, consent) {len(outcome.unpublished_slots())}, wall time {wall:.1f} s"
    )
    for failure in outcome.failed.values():
        print(f"  render failed: {failure.look_id} on {failure.twin_id}: {failure.reason}")
    print(f"contact sheet: {page}\n               {grid}")
    if not outcome.complete:
        print(f"timed out after {args.timeout:.0f} s waiting for assets; logs in .stack/logs/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
