import base64
import io
import json

import pytest
from PIL import Image

from devkit.catalogue import draw_flat_lay
from services.ingestion.domain import (
    InvalidProduct,
    check_flat_lay,
    colour_from_rgb,
    make_submission,
    parse_product_version,
)
from services.ingestion.http_api import submission_from_json
from tests.bad_images import BAD_FLAT_LAYS, noise, png_header_only

PNG = draw_flat_lay("tee", "solid", "#336699")


def body(**overrides):
    document = {
        "sku": "TW-TEE-1",
        "title": "Tee",
        "category": "tops",
        "colour": "#336699",
        "flat_lay": {"data_base64": base64.b64encode(PNG).decode()},
    }
    document.update(overrides)
    return json.dumps(document).encode()


def test_valid_submission():
    submission = submission_from_json(body())
    assert submission.sku == "TW-TEE-1"
    assert submission.colour == (0x33, 0x66, 0x99)
    assert submission.flat_lay_content_type == "image/png"
    assert submission.source == "unknown"
    assert submission.flat_lay_key == f"TW-TEE-1/{submission.revision}.png"


def test_revision_follows_content():
    same = submission_from_json(body()).revision
    assert submission_from_json(body()).revision == same
    assert submission_from_json(body(title="Other tee")).revision != same


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'"a string"', "body"),
        (b"\xff\xfe{}", "body"),
        (b'{"sku": ' + b"9" * 5000 + b"}", "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "body"),
        (body(title="\ud800"), "title"),
        (body(product_version=True), "product_version"),
        (body(product_version=1.7e15), "product_version"),
        (body(product_version="1767225600000000"), "product_version"),
        (body(product_version=10**40), "product_version"),
        (body(flat_lay={"data_base64": "é"}), "flat_lay.data_base64"),
        (body(sku=""), "sku"),
        (body(sku="has space"), "sku"),
        (body(sku=12), "sku"),
        (body(title=None), "title"),
        (body(colour="red"), "colour"),
        (body(flat_lay=None), "flat_lay.data_base64"),
        (body(flat_lay={"data_base64": "***"}), "flat_lay.data_base64"),
        (body(flat_lay={"data_base64": base64.b64encode(b"GIF89a not really").decode()}), "flat_lay"),
    ],
)
def test_bad_fields_are_named(raw, field):
    with pytest.raises(InvalidProduct) as caught:
        submission_from_json(raw)
    assert caught.value.field == field


def test_other_image_formats_are_refused():
    gif = io.BytesIO()
    Image.new("RGB", (32, 32)).save(gif, format="GIF")
    with pytest.raises(InvalidProduct, match="flat_lay: must be a PNG or JPEG image"):
        make_submission(sku="A", title="t", category="", colour=(0, 0, 0), flat_lay=gif.getvalue(), source="")


def test_rgb_channels_are_checked():
    assert colour_from_rgb(1, 2, 3) == (1, 2, 3)
    with pytest.raises(InvalidProduct, match="colour: channels must be between 0 and 255"):
        colour_from_rgb(256, 0, 0)


@pytest.mark.parametrize("image", BAD_FLAT_LAYS.values(), ids=BAD_FLAT_LAYS.keys())
# Pillow warns between its limit and twice it; the refusal is what this test checks.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_flat_lays_are_refused_naming_the_field(image):
    with pytest.raises(InvalidProduct) as caught:
        check_flat_lay(image)
    assert caught.value.field == "flat_lay"


def test_a_bomb_is_refused_from_its_header_without_decoding():
    bomb = png_header_only(20000, 20000)
    assert len(bomb) < 100
    with pytest.raises(InvalidProduct, match="flat_lay: has more than 40 megapixels"):
        check_flat_lay(bomb)


@pytest.mark.parametrize(("image_format", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_whole_images_pass(image_format, content_type):
    assert check_flat_lay(noise(image_format=image_format)) == content_type


def test_product_version_is_an_integer_or_absent():
    assert parse_product_version(None) == 0
    assert parse_product_version(0) == 0
    assert parse_product_version(1_767_225_600_000_000) == 1_767_225_600_000_000
    for bad in (False, 0.0, "0"):
        with pytest.raises(InvalidProduct, match="product_version: must be an integer"):
            parse_product_version(bad)
