import base64
import io
import json

import pytest
from PIL import Image

from devkit.catalogue import draw_flat_lay
from services.ingestion.domain import InvalidProduct, colour_from_rgb, make_submission
from services.ingestion.http_api import submission_from_json

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
    with pytest.raises(InvalidProduct, match="flat_lay: must be PNG or JPEG, got GIF"):
        make_submission(sku="A", title="t", category="", colour=(0, 0, 0), flat_lay=gif.getvalue(), source="")


def test_rgb_channels_are_checked():
    assert colour_from_rgb(1, 2, 3) == (1, 2, 3)
    with pytest.raises(InvalidProduct, match="colour: channels must be between 0 and 255"):
        colour_from_rgb(256, 0, 0)
