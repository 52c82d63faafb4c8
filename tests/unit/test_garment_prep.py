"""Garment prep on synthetic studio flat-lays (devkit/catalogue.py draws them with a drop shadow,
vignette and noise): the garment is cut out (IoU against the drawn outline), its landmarks sit
where the garment has them, its colour is the fabric's, and photos that cannot give a garment end
in a SegmentationFailed whose reason says what to change."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from devkit.catalogue import GARMENT_SHAPES, draw_flat_lay, garment_mask
from services.render.engine.api import LANDMARKS
from services.render.engine.garment_prep import SegmentationFailed, prepare_garment, segment
from services.render.engine.qa import delta_e2000
from tests.bad_images import noise, truncated

SIDE = 640


def photo(shape: str, pattern: str = "solid", colour: str = "#1f6feb", background=(250, 250, 248)) -> bytes:
    return draw_flat_lay(
        shape, pattern, colour, side=SIDE, photo_seed=f"{shape}-{pattern}-{colour}", background=background
    )


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    return float((found & truth).sum() / (found | truth).sum())


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize("garment_type", sorted(GARMENT_SHAPES))
@pytest.mark.parametrize("pattern", ["solid", "stripes", "print"])
def test_every_garment_type_is_cut_out(garment_type, pattern):
    shape = GARMENT_SHAPES[garment_type]
    mask = segment(decoded(photo(shape, pattern)))
    truth = np.asarray(garment_mask(shape, SIDE)) >= 128
    assert iou(mask, truth) > 0.95


def test_white_on_off_white_is_cut_out():
    png = photo("tee", colour="#ffffff", background=(238, 236, 230))
    mask = segment(decoded(png))
    assert iou(mask, np.asarray(garment_mask("tee", SIDE)) >= 128) > 0.9


def test_texture_is_the_garment_cropped_with_a_transparent_backdrop():
    texture = prepare_garment(photo("tee", colour="#c0392b"), "t-shirt")
    rgba = texture.rgba
    assert rgba.dtype == np.uint8 and rgba.shape[2] == 4
    truth = np.asarray(garment_mask("tee", SIDE)) >= 128
    ys, xs = np.nonzero(truth)
    # cropped to the garment, with a margin of at most a few pixels (the drop shadow's edge may join)
    assert 0 <= rgba.shape[0] - (ys.max() - ys.min() + 1) <= 12 and 0 <= rgba.shape[1] - (xs.max() - xs.min() + 1) <= 12
    backdrop = rgba[:, :, 3] == 0
    assert backdrop[0, 0] and backdrop[-1, 0]
    assert not rgba[backdrop][:, :3].any(), "backdrop pixels must be zeroed"
    # no light backdrop fringe along the edge: every visible pixel is garment-red
    visible = rgba[rgba[:, :, 3] >= 128][:, :3].astype(int)
    assert (visible[:, 0] - visible[:, 1] > 80).mean() > 0.99


@pytest.mark.parametrize(
    ("pattern", "colour"), [("solid", "#c0392b"), ("stripes", "#1f3a93"), ("print", "#16a085"), ("solid", "#f4f1ea")]
)
def test_main_colour_is_the_fabric_colour(pattern, colour):
    texture = prepare_garment(photo("tee", pattern, colour), "t-shirt")
    expected = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    # the photo's vignette darkens the fabric by up to ~1 %
    assert delta_e2000(texture.colour, expected) < 2.0


def test_top_landmarks_sit_on_the_garment():
    texture = prepare_garment(photo("long_sleeve"), "long-sleeve-top")
    marks = texture.landmarks
    assert set(LANDMARKS) - {"crotch"} <= set(marks)  # a top has every landmark but the crotch
    # in texture pixels: the drawn outline is offset by the crop and scaled by SIDE / 256
    unit = SIDE / 256
    x0 = marks["sleeve_end_left"][0]
    assert marks["sleeve_end_left"][0] < marks["shoulder_left"][0] < marks["neckline_left"][0]
    assert marks["neckline_left"][0] < marks["neckline_centre"][0] < marks["neckline_right"][0]
    assert marks["neckline_right"][0] < marks["shoulder_right"][0] < marks["sleeve_end_right"][0]
    # long sleeves end low, beside the hips; the neckline dips below its corners
    assert marks["sleeve_end_left"][1] > marks["armpit_left"][1] > marks["shoulder_left"][1]
    assert marks["neckline_centre"][1] > marks["neckline_left"][1]
    # the torso's sides are where they were drawn (x = 76 and 180 on the 256 canvas, sleeve tip x = 16)
    assert abs((marks["hem_right"][0] - marks["hem_left"][0]) - 104 * unit) < 4 * unit
    assert abs((marks["shoulder_left"][0] - x0) - (76 - 16) * unit) < 8 * unit


def test_tank_has_no_sleeves():
    marks = prepare_garment(photo("tank"), "tank").landmarks
    assert "sleeve_end_left" not in marks and "sleeve_end_right" not in marks
    assert marks["hem_left"][0] < marks["hem_right"][0]


def test_trousers_have_a_crotch_between_the_legs():
    marks = prepare_garment(photo("trousers"), "trousers").landmarks
    unit = SIDE / 256
    assert marks["waist_left"][0] < marks["crotch"][0] < marks["waist_right"][0]
    # drawn at y = 90 of the 256 canvas, waistband at y = 12; the legs' gap narrows to 2 units at the
    # crotch, which segmentation at reduced scale closes for a few units
    assert 0 <= (marks["crotch"][1] - marks["waist_left"][1]) - (90 - 12) * unit < 16 * unit
    assert "crotch" not in prepare_garment(photo("skirt"), "skirt").landmarks


def test_cut_out_png_keeps_its_own_alpha():
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    rgba.paste((200, 30, 30, 255), (60, 40, 240, 260))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    texture = prepare_garment(out.getvalue(), "t-shirt")
    assert texture.rgba.shape[:2] == (224, 184)  # the 180x220 box and a 2 px margin
    assert (texture.rgba[:, :, 3] >= 128).sum() == 180 * 220


def failure(image: bytes) -> SegmentationFailed:
    with pytest.raises(SegmentationFailed) as raised:
        prepare_garment(image, "t-shirt")
    return raised.value


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_corrupt_file_is_unreadable():
    error = failure(truncated(photo("tee"), 0.3))
    assert error.code == "flat_lay_unreadable"
    assert "PNG or JPEG" in error.reason
    assert failure(b"not an image at all").code == "flat_lay_unreadable"


def test_tiny_image_asks_for_a_bigger_one():
    error = failure(draw_flat_lay("tee", "solid", "#c0392b", side=48))
    assert error.code == "flat_lay_too_small"
    assert "48x48 px" in error.reason


def test_noise_is_not_a_garment_on_a_backdrop():
    error = failure(noise((400, 400)))
    assert error.code == "background_not_separable"
    assert "flat-lay background not separable:" in error.reason and "% of border pixels" in error.reason


def test_landscape_is_not_a_flat_lay():
    """A sky over a field with a horizon: the border is not one backdrop."""
    y = np.linspace(0, 1, 400)[:, None, None]
    sky, field = np.array([120, 170, 230]), np.array([60, 130, 50])
    pixels = np.where(y < 0.55, sky * (1 - 0.3 * y), field * (1.2 - 0.4 * y)) * np.ones((1, 600, 1))
    assert failure(png(Image.fromarray(pixels.astype(np.uint8)))).code == "background_not_separable"


def test_empty_backdrop_has_no_garment():
    error = failure(png(Image.new("RGB", (400, 400), (250, 250, 248))))
    assert error.code == "no_garment_found"
    assert "0.0 % of the flat-lay" in error.reason


def test_garment_cut_off_by_the_frame_says_so():
    whole = Image.open(io.BytesIO(photo("tee", colour="#c0392b")))
    cropped = whole.crop((0, 100, SIDE, SIDE - 60))  # the hem and the neckline leave the frame
    error = failure(png(cropped))
    assert error.code in ("background_not_separable", "garment_fills_frame")
    assert " %" in error.reason


def test_two_garments_are_refused():
    image = Image.new("RGB", (600, 300), (250, 250, 248))
    image.paste((30, 60, 200), (40, 60, 260, 260))
    image.paste((200, 40, 40), (340, 60, 560, 260))
    error = failure(png(image))
    assert error.code == "several_objects"
    assert "2 separate objects" in error.reason
