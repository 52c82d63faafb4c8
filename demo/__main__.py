"""The demo pipeline: feed the sample catalogue through the four services and show the result.

Expects the local stack to be up (infra/demo.sh does that first). Run: ``python -m demo``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path

from tqdm import tqdm

from demo.contact_sheet import SheetEntry, write_contact_sheet
from devkit.catalogue import load_catalogue
from devkit.ingest_client import post_product
from devkit.local_services import ROOT, services_running
from devkit.topic_reader import TopicReader
from services.twin_builder.roster import CATALOGUE_IMAGERY, DEFAULT_ROSTER
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.storage import MinioObjectStore


def consenting_twins() -> int:
    return sum(1 for twin in DEFAULT_ROSTER if twin.consent.allows(CATALOGUE_IMAGERY, date.today()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / f"demo-{datetime.now():%Y%m%d-%H%M%S}")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all assets")
    args = parser.parse_args()

    products = load_catalogue()
    expected = len(products) * consenting_twins()
    started = time.monotonic()
    with services_running():
        # From the beginning: assets of a product revision published by an earlier run count too
        # (they are not rendered again: the same product content is the same event).
        feed = TopicReader(from_beginning=True)
        print(f"twinwear demo: {len(products)} products x {consenting_twins()} consented twins")
        titles, revisions = {}, {}
        for product in products:
            response = post_product(product.request_body())
            if response.status not in (200, 202):  # 200: the same product, accepted by an earlier run
                print(f"ingestion refused {product.sku}: {response.status} {response.body}", file=sys.stderr)
                return 1
            titles[product.sku], revisions[product.sku] = product.title, response.body["revision"]
        assets = {}
        with tqdm(total=expected, desc="published", unit="asset") as progress:
            for asset in feed.assets(timeout=args.timeout):
                if revisions.get(asset.sku) == asset.revision and (asset.sku, asset.twin_id) not in assets:
                    assets[(asset.sku, asset.twin_id)] = asset
                    progress.update(1)
                if len(assets) == expected:
                    break
        feed.close()
    wall = time.monotonic() - started

    store = MinioObjectStore.from_config(load_config(RuntimeConfig))
    entries = [SheetEntry(a.sku, titles[a.sku], a.twin_id, a.asset_id, store.get(a.image)) for a in assets.values()]
    page, grid = write_contact_sheet(entries, args.out)
    print(
        f"\nsummary: products {len(products)}, renders {len({a.render_id for a in assets.values()})}, "
        f"assets published {len(assets)}/{expected}, wall time {wall:.1f} s"
    )
    print(f"contact sheet: {page}\n               {grid}")
    if len(assets) < expected:
        print(f"timed out after {args.timeout:.0f} s waiting for assets; logs in .stack/logs/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
