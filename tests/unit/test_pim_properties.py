"""Properties of the PIM mapping and the look fold, over generated deliveries (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pim_payloads import (
    SHOPIFY_PRODUCT_ID,
    akeneo_event,
    akeneo_product,
    shopify_delivery,
    shopify_product,
)
from tests.unit.pim_fakes import Harness
from twinwear.v1 import events_pb2

SIZES = ("S", "M", "L")
LOOKS = ("NW-TEE-NAVY", "NW-TEE-RED")


@st.composite
def akeneo_history(draw: st.DrawFn) -> list[events_pb2.PimDelivery]:
    """Creations, updates and removals of a few variants of two looks, each at its own time."""
    count = draw(st.integers(1, 12))
    deliveries = []
    for n in range(count):
        look = draw(st.sampled_from(LOOKS))
        size = draw(st.sampled_from(SIZES))
        identifier = f"{look}-{size}"
        when = f"2026-05-01T10:{n:02d}:00Z"
        if draw(st.booleans()) and n:
            deliveries.append(akeneo_event("product.removed", {"identifier": identifier}, f"ev-{n}", when))
            continue
        product = akeneo_product(
            identifier,
            look,
            size,
            f"https://assets.example.com/{look}.png",
            title=draw(st.sampled_from(("Tee", "Linen tee"))),
            price=draw(st.sampled_from(("19.90", "29.90"))),
        )
        deliveries.append(akeneo_event("product.updated", product, f"ev-{n}", when))
    return deliveries


def final_looks(deliveries: list[events_pb2.PimDelivery]) -> dict[str, str]:
    """The live looks a consumer keeping the newest event per look ends with, by revision (a
    retired look and one never seen are alike: not live)."""
    harness = Harness()
    newest: dict[str, tuple[int, str]] = {}
    for delivery in deliveries:
        for output in harness.feed(delivery):
            event = output.payload
            if isinstance(event, events_pb2.ProductRetired) and event.variant_sku:
                continue
            seen = "retired" if isinstance(event, events_pb2.ProductRetired) else event.revision
            if event.product_version > newest.get(output.key, (0, ""))[0]:
                newest[output.key] = (event.product_version, seen)
    return {look: seen for look, (_, seen) in newest.items() if seen != "retired"}


@settings(max_examples=60, deadline=None)
@given(history=akeneo_history(), data=st.data())
def test_any_order_with_duplicates_converges_on_the_same_looks(history, data):
    """Creations, updates and removals in any order, some twice: the same live looks. A removal
    that comes before anything of its variant is kept as a tombstone, so the older creation
    arriving after it is stale."""
    shuffled = data.draw(st.permutations(history))
    repeated = data.draw(st.lists(st.sampled_from(history), max_size=5))
    assert final_looks([*shuffled, *repeated]) == final_looks(history)


@settings(max_examples=50, deadline=None)
@given(
    variant_ids=st.lists(st.integers(2**53, 2**63 - 1), min_size=1, max_size=4, unique=True),
    prices=st.lists(st.decimals(0, 10_000, places=2, allow_nan=False), min_size=4, max_size=4),
    stock=st.integers(-(2**31), 2**31),
)
def test_shopify_ids_and_prices_never_pass_through_a_float(variant_ids, prices, stock):
    urls = {"Navy": "https://cdn.shopify.com/navy.png"}
    product = shopify_product(
        [("Navy", size, stock) for size in SIZES[: len(variant_ids)]], urls, "2026-05-01T10:00:00Z"
    )
    for variant, variant_id, price in zip(product["variants"], variant_ids, prices, strict=False):
        variant["id"], variant["price"] = variant_id, str(price)
    product["images"][0]["variant_ids"] = variant_ids
    [output] = Harness().feed(shopify_delivery("products/update", product, "wh-1"))
    event = output.payload
    by_sku = {v["sku"]: v for v in product["variants"]}
    for variant in event.variants:
        assert variant.source_id == str(by_sku[variant.sku]["id"])
        assert Decimal(variant.price) == Decimal(by_sku[variant.sku]["price"])
        assert variant.price == by_sku[variant.sku]["price"]
        assert variant.stock == stock


@st.composite
def shopify_history(draw: st.DrawFn) -> list[events_pb2.PimDelivery]:
    """Snapshots of one product, each with some of its five variants, at increasing times; perhaps
    a deletion among them."""
    all_variants = [("Navy", "S"), ("Navy", "M"), ("Navy", "L"), ("Red", "S"), ("Red", "M")]
    urls = {"Navy": "https://cdn.shopify.com/navy.png", "Red": "https://cdn.shopify.com/red.png"}
    deliveries = []
    for n in range(draw(st.integers(1, 8))):
        when = f"2026-05-01T10:{n:02d}:00Z"
        if n and draw(st.integers(0, 5)) == 0:
            deliveries.append(
                shopify_delivery(
                    "products/delete", {"id": SHOPIFY_PRODUCT_ID}, f"wh-{n}", **{"X-Shopify-Triggered-At": when}
                )
            )
            continue
        chosen = draw(st.lists(st.sampled_from(all_variants), min_size=1, max_size=5, unique=True))
        stock = draw(st.integers(0, 3))
        product = shopify_product([(c, s, stock) for c, s in chosen], urls, when)
        deliveries.append(shopify_delivery("products/update", product, f"wh-{n}"))
    return deliveries


@settings(max_examples=60, deadline=None)
@given(history=shopify_history(), data=st.data())
def test_shopify_snapshots_in_any_order_converge_on_the_newest(history, data):
    shuffled = data.draw(st.permutations(history))
    repeated = data.draw(st.lists(st.sampled_from(history), max_size=4))
    assert final_looks([*shuffled, *repeated]) == final_looks(history)
