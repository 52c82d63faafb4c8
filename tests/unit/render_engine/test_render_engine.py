"""The renderer on real anny bodies: coverage, never nude, sizes, stripes, colour, every style."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.render.engine.api import Renderer, RenderResult
from services.render.engine.garments import DEFAULT_SLEEVE, WEAVE
from twinwear_body.appearance import HAIRSTYLES
from twinwear_body.model import BodyModel
from twinwear_body.params import BodyParams
from twinwear_body.poses import POSE_NAMES, load_pose
from twinwear_body.sizing import SizeRow

from .conftest import BODIES, Twin, job_for
from .flatlays import flatlay

GARMENT_TYPES = tuple(WEAVE)


def fraction(mask: np.ndarray, within: np.ndarray) -> float:
    return float(((mask > 0) & (within > 0)).sum() / max((within > 0).sum(), 1))


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("garment_type", GARMENT_TYPES)
def test_garment_covers_its_region_and_no_one_is_nude(
    renderer: Renderer, twins: dict[str, Twin], garment_type: str, body: str
) -> None:
    result = renderer.render(job_for(twins[body], garment_type))
    region = result.region_mask > 0
    assert region.sum() > 20_000, "the garment's body region should be a large part of the figure"
    assert (result.garment_mask > 0).sum() > 0.8 * region.sum(), "the garment should be visible over its region"
    # Skin seen through the garment where it covers: body pixels inside the region.
    assert fraction(result.body_mask, result.region_mask) < 0.002
    # Chest and pelvis never show skin, whatever the product is.
    assert (result.modesty_mask > 0).sum() > 10_000
    assert fraction(result.body_mask, result.modesty_mask) < 0.001
    # And the twin is not a floating garment: skin shows (face, hands).
    assert (result.body_mask > 0).sum() > 5_000


@pytest.mark.parametrize(("width", "height"), [(1024, 1536), (2048, 3072)])
def test_output_sizes(renderer: Renderer, twins: dict[str, Twin], width: int, height: int) -> None:
    result = renderer.render(job_for(twins["slim"], "t-shirt", width=width, height=height))
    for image in (result.rgba, result.albedo, result.garment_mask, result.body_mask, result.region_mask):
        assert image.shape[:2] == (height, width)
    assert result.rgba.shape[2] == 4 and result.albedo.shape[2] == 3
    assert (result.rgba[..., 3] == 255).all(), "the master is opaque (background composited)"


def _torso_window(result: RenderResult) -> tuple[slice, slice]:
    ys, xs = np.nonzero(result.garment_mask)
    top, bottom = ys.min(), ys.max()
    centre = int(np.median(xs))
    half_w = (xs.max() - xs.min()) // 8
    return slice(top + (bottom - top) // 4, top + 3 * (bottom - top) // 4), slice(centre - half_w, centre + half_w)


@pytest.mark.parametrize("body", BODIES)
def test_stripes_stay_horizontal_on_the_torso(renderer: Renderer, twins: dict[str, Twin], body: str) -> None:
    job = job_for(twins[body], "t-shirt", texture=flatlay("t-shirt", (20, 40, 120), striped=True))
    result = renderer.render(job)
    rows, cols = _torso_window(result)
    lum = result.albedo[rows, cols].astype(np.float64).mean(axis=2)
    inside = result.garment_mask[rows, cols] > 0
    gy, gx = np.gradient(lum)
    weight = inside & (np.hypot(gx, gy) > 20)
    assert weight.sum() > 500, "stripe edges should be visible on the torso"
    # Structure tensor: the dominant gradient direction; horizontal edges have vertical gradients.
    sxx, syy, sxy = (gx[weight] ** 2).sum(), (gy[weight] ** 2).sum(), (gx[weight] * gy[weight]).sum()
    gradient_angle = 0.5 * math.degrees(math.atan2(2 * sxy, sxx - syy))
    edge_tilt = abs(abs(gradient_angle) - 90.0)
    assert edge_tilt < 3.0, f"stripe edges tilt {edge_tilt:.1f} degrees from horizontal"
    # Both colours of the stripes reach the render.
    values = lum[inside]
    assert values.min() < 80 and values.max() > 200


@pytest.mark.parametrize("colour", [(40, 80, 160), (200, 30, 40), (235, 235, 230), (25, 25, 28), (120, 130, 70)])
@pytest.mark.parametrize("garment_type", ["t-shirt", "dress", "trousers"])
def test_albedo_keeps_the_product_colour(
    renderer: Renderer, twins: dict[str, Twin], colour: tuple[int, int, int], garment_type: str
) -> None:
    result = renderer.render(job_for(twins["heavy"], garment_type, colour=colour))
    import cv2

    core = cv2.erode(result.garment_mask, np.ones((5, 5), np.uint8)) > 0
    median = np.median(result.albedo[core].astype(np.float64), axis=0)
    # Within 2 levels per channel: well inside the ΔE2000 <= 2 goal (qa.py measures it in the service).
    assert np.abs(median - np.array(colour)).max() <= 2, f"albedo {median} for product {colour}"


@pytest.mark.parametrize("hairstyle", HAIRSTYLES)
def test_every_hairstyle_draws_hair(renderer: Renderer, twins: dict[str, Twin], hairstyle: str) -> None:
    result = renderer.render(job_for(twins["tall"], "tank", hairstyle=hairstyle, hair_colour=(200, 60, 30)))
    reddish = (result.albedo[..., 0].astype(int) - result.albedo[..., 2] > 80) & (result.garment_mask == 0)
    assert reddish.sum() > 1500, f"{hairstyle}: too little hair visible ({reddish.sum()} px)"


@pytest.mark.parametrize("sleeve", ["none", "short", "elbow", "long"])
def test_sleeves_reach_where_the_product_says(renderer: Renderer, twins: dict[str, Twin], sleeve: str) -> None:
    result = renderer.render(job_for(twins["slim"], "long-sleeve-top", sleeve_length=sleeve))
    skin = (result.body_mask > 0).sum()
    results = test_sleeves_reach_where_the_product_says.__dict__.setdefault("skin", {})
    results[sleeve] = skin
    order = [s for s in ("none", "short", "elbow", "long") if s in results]
    shown = [results[s] for s in order]
    assert shown == sorted(shown, reverse=True), (
        f"longer sleeves should show less skin: {dict(zip(order, shown, strict=True))}"
    )


def test_size_too_small_pulls_tight_and_too_large_hangs_loose(renderer: Renderer, twins: dict[str, Twin]) -> None:
    twin = twins["heavy"]
    chest = twin.measurements.chest_girth_cm
    small = SizeRow("XS", 0, (chest - 30, chest - 24), None, None, None)
    large = SizeRow("4XL", 9, (chest + 20, chest + 26), None, None, None)
    width = {}
    for name, size in (("small", small), ("large", large)):
        result = renderer.render(job_for(twin, "t-shirt", size=size))
        rows = np.nonzero(result.garment_mask.any(axis=1))[0]
        row = result.garment_mask[rows[int(len(rows) * 0.8)]]
        width[name] = int((row > 0).sum())
    assert width["large"] > width["small"] * 1.05, width


def test_default_sleeves_cover_every_top() -> None:
    assert set(DEFAULT_SLEEVE) == {"t-shirt", "long-sleeve-top", "shirt", "knitwear", "tank", "dress", "jacket"}


def test_bad_jobs_name_the_field(renderer: Renderer, twins: dict[str, Twin]) -> None:
    with pytest.raises(ValueError, match="garment_type"):
        renderer.render(job_for(twins["slim"], "cape", texture=flatlay("t-shirt", (1, 2, 3))))
    with pytest.raises(ValueError, match="hairstyle"):
        renderer.render(job_for(twins["slim"], "t-shirt", hairstyle="mohawk"))
    with pytest.raises(ValueError, match="background"):
        renderer.render(job_for(twins["slim"], "t-shirt", background="blue"))
    with pytest.raises(ValueError, match="width/height"):
        renderer.render(job_for(twins["slim"], "t-shirt", width=10))


def test_turntable_turns(renderer: Renderer, twins: dict[str, Twin]) -> None:
    frames = renderer.turntable(job_for(twins["slim"], "t-shirt", width=256, height=384), frames=4)
    assert len(frames) == 4 and all(f.shape == (384, 256, 4) for f in frames)
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 2, "front and back views differ"


def test_background_gradient_and_image(renderer: Renderer, twins: dict[str, Twin]) -> None:
    gradient = renderer.render(
        job_for(twins["slim"], "t-shirt", background="gradient:#ffffff:#000000", width=256, height=384)
    )
    assert gradient.rgba[2, 2, 0] > 240 and gradient.rgba[-2, 2, 0] < 15
    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 1] = 200
    pictured = renderer.render(job_for(twins["slim"], "t-shirt", background_image=image, width=256, height=384))
    assert tuple(pictured.rgba[2, 2, :3]) == (0, 200, 0)


@pytest.mark.parametrize("pose", POSE_NAMES)
def test_every_pose_is_dressed_and_framed(
    renderer: Renderer, body_model: BodyModel, twins: dict[str, Twin], pose: str
) -> None:
    twin = twins["slim"]
    posed = body_model.mesh(BodyParams(phenotype=BODIES["slim"][0]), pose)
    view = load_pose(pose).view_yaw_deg
    result = renderer.render(job_for(twin, "dress", body=posed, view_yaw_deg=view))
    assert (result.garment_mask > 0).sum() > 50_000
    assert fraction(result.body_mask, result.region_mask) < 0.002
    assert fraction(result.body_mask, result.modesty_mask) < 0.001
    # The whole figure is in frame: nothing but background on the image's border.
    border = np.concatenate([result.rgba[0], result.rgba[-1], result.rgba[:, 0], result.rgba[:, -1]])
    assert (np.abs(border[:, :3].astype(int) - border[0, :3].astype(int)).max(axis=1) <= 3).mean() > 0.98
