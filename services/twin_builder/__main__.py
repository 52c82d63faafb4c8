"""Run the twin builder: ``python -m services.twin_builder``."""

from __future__ import annotations

import dataclasses
import functools

from services.twin_builder.handlers import handle_product_upserted
from services.twin_builder.roster import DEFAULT_ROSTER
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PRODUCTS, RENDER_REQUESTS
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service


@dataclasses.dataclass(frozen=True, kw_only=True)
class TwinBuilderConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9102)


def main() -> None:
    service, _ = Service.start("twin_builder", TwinBuilderConfig, [PRODUCTS, RENDER_REQUESTS], buckets=[])
    handler = functools.partial(handle_product_upserted, roster=DEFAULT_ROSTER)
    service.consume([PRODUCTS], {events_pb2.ProductUpserted: handler})


if __name__ == "__main__":
    main()
