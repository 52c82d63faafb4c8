"""Render's handlers against in-memory stand-ins for MinIO and Triton."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from devkit.memory_store import MemoryStore
from services.render.handlers import FlatLayCache, handle_render_requested
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, PUBLISHED_BUCKET, RENDERS_BUCKET
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.faults import PermanentError


class CountingRenderer:
    model_name = "garment_on_twin"

    def __init__(self) -> None:
        self.calls = 0

    def infer(self, inputs, output_names):
        self.calls += 1
        assert inputs["GARMENT_IMAGE"].shape == (1, 256, 256, 3)  # one row, the shape Triton batches
        return {"IMAGE": np.full((1, 8, 6, 3), 200, dtype=np.uint8)}


def png(colour=(30, 90, 200), size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def incoming(payload) -> Incoming:
    return Incoming(wrap(payload, producer="t", key="k", event_id="e", correlation_id="c"), payload)


def request(store: MemoryStore, render_id="r1", twin="twin-a", version=1, flat_lay: bytes | None = None):
    flat = store.put(FLAT_LAYS_BUCKET, "TW-1/x.png", flat_lay if flat_lay is not None else png(), "image/png")
    flat.sha256 = "sha-of-flat-lay"
    return events_pb2.RenderRequested(
        render_id=render_id,
        sku="TW-1",
        product_version=version,
        pose="front",
        flat_lay=flat,
        twin=events_pb2.TwinRef(twin_id=twin, consent_id="consent-a"),
    )


def render(store, renderer, cache, req):
    return handle_render_requested(incoming(req), store, renderer, cache)


def test_a_render_is_made_once_and_reused_by_later_versions():
    store, renderer = MemoryStore(), CountingRenderer()
    cache = FlatLayCache(store)
    [first] = render(store, renderer, cache, request(store, version=1))
    [again] = render(store, renderer, cache, request(store, version=2))
    assert renderer.calls == 1
    assert (first.payload.cached, again.payload.cached) == (False, True)
    assert again.payload.product_version == 2 and again.payload.image.key == first.payload.image.key
    assert (first.payload.width, first.payload.height) == (6, 8)
    assert store.objects[(RENDERS_BUCKET, first.payload.image.key)][1] == "image/png"


def test_the_flat_lay_is_fetched_and_decoded_once_for_every_twin():
    store, renderer = MemoryStore(), CountingRenderer()
    cache = FlatLayCache(store)
    for twin in ("twin-a", "twin-b", "twin-c"):
        render(store, renderer, cache, request(store, render_id=f"r-{twin}", twin=twin))
    flat_lay_gets = store.gets - 3  # each render first looks for its cached image
    assert renderer.calls == 3 and flat_lay_gets == 1


def test_an_unreadable_flat_lay_is_a_render_failed_event_a_merchandiser_can_act_on():
    store = MemoryStore()
    [outcome] = render(store, CountingRenderer(), FlatLayCache(store), request(store, flat_lay=b"not an image"))
    assert isinstance(outcome.payload, events_pb2.RenderFailed)
    assert outcome.payload.code == "flat_lay_unreadable"
    assert "cannot be decoded" in outcome.payload.reason


def test_a_flat_lay_outside_the_flat_lays_bucket_is_refused():
    store = MemoryStore()
    forged = request(store)
    forged.flat_lay.bucket = PUBLISHED_BUCKET
    with pytest.raises(PermanentError, match="flat_lay must be in"):
        render(store, CountingRenderer(), FlatLayCache(store), forged)
