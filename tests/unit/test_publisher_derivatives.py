"""Derivatives of a master render: sizes, formats, Content-Types, the feed square and the label."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageDraw

from services.publisher.provenance import InvalidMaster, make_derivatives, parse_labelled_channels
from services.publisher.provenance.derivatives import mp4_video_size
from tests.unit.publisher_media import BACKDROP, GARMENT, studio_master, turntable_mp4, turntable_webp

PIL_FORMATS = {"image/jpeg": "JPEG", "image/webp": "WEBP"}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def by_name(derivatives: list) -> dict:
    return {d.name: d for d in derivatives}


def test_a_1024_master_gives_jpeg_and_webp_at_1024_and_512_and_the_feed_square() -> None:
    derivatives = by_name(make_derivatives(studio_master(), channels=["ecommerce"]))

    assert set(derivatives) == {"jpeg-1024", "webp-1024", "jpeg-512", "webp-512", "square-1500"}
    expected = {"jpeg-1024": (1024, 1536), "jpeg-512": (512, 768), "square-1500": (1500, 1500)}
    for derivative in derivatives.values():
        image = opened(derivative.data)
        assert image.format == PIL_FORMATS[derivative.content_type], derivative.name
        assert image.size == (derivative.width, derivative.height), derivative.name
        assert derivative.key("asset-7") == f"assets/asset-7/{derivative.name}.{derivative.extension}"
        assert derivative.channels == ("ecommerce",)
        assert not derivative.visible_label
    for name, size in expected.items():
        assert (derivatives[name].width, derivatives[name].height) == size
    assert derivatives["webp-1024"].content_type == "image/webp"
    assert derivatives["jpeg-1024"].content_type == derivatives["square-1500"].content_type == "image/jpeg"


def test_2048_is_made_only_from_a_master_that_wide() -> None:
    derivatives = by_name(make_derivatives(studio_master(2400, 3000), channels=["ecommerce"]))

    assert (derivatives["jpeg-2048"].width, derivatives["jpeg-2048"].height) == (2048, 2560)
    assert (derivatives["webp-2048"].width, derivatives["webp-2048"].height) == (2048, 2560)
    assert opened(derivatives["webp-2048"].data).size == (2048, 2560)


def test_files_are_srgb_tagged_and_keep_the_garment_colour() -> None:
    derivatives = by_name(make_derivatives(studio_master(), channels=["ecommerce"]))

    for name in ("jpeg-1024", "webp-1024", "square-1500"):
        image = opened(derivatives[name].data)
        profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile), name
        centre = np.asarray(image.convert("RGB"))[image.height // 2, image.width // 2]
        assert np.abs(centre.astype(int) - GARMENT).max() <= 4, (name, centre)


def test_the_square_pads_with_the_backdrop_and_never_crops_the_garment() -> None:
    square = np.asarray(opened(by_name(make_derivatives(studio_master(), channels=["ecommerce"]))["square-1500"].data))

    # The 2:3 master fits the square's height: 1000 px wide, centred, the garment top to bottom.
    assert np.abs(square[5, 5].astype(int) - BACKDROP).max() <= 3  # padding: the backdrop colour
    assert np.abs(square[3, 750].astype(int) - GARMENT).max() <= 6  # garment's top row is there
    assert np.abs(square[1496, 750].astype(int) - GARMENT).max() <= 6  # and its bottom row
    assert np.abs(square[750, 200].astype(int) - BACKDROP).max() <= 3


def test_only_configured_channels_get_a_labelled_copy_and_feed_files_never_do() -> None:
    derivatives = by_name(
        make_derivatives(studio_master(), channels=["ecommerce", "social", "print"], labelled_channels=["social"])
    )

    labelled = {name for name, d in derivatives.items() if d.visible_label}
    assert labelled == {"social-1024", "social-512"}
    assert derivatives["social-1024"].channels == ("social",)
    assert derivatives["jpeg-1024"].channels == derivatives["square-1500"].channels == ("ecommerce", "print")
    plain = np.asarray(opened(derivatives["jpeg-1024"].data)).astype(int)
    social = np.asarray(opened(derivatives["social-1024"].data)).astype(int)
    changed = np.argwhere(np.abs(plain - social).max(axis=2) > 40)
    # The label sits in the bottom-left corner and nowhere else.
    assert len(changed) > 500
    assert changed[:, 0].min() > 1536 * 0.85 and changed[:, 1].max() < 1024 * 0.5


def test_a_labelled_channel_the_asset_is_not_cleared_for_gets_nothing() -> None:
    derivatives = make_derivatives(studio_master(), channels=["ecommerce"], labelled_channels=["social"])

    assert not any(d.visible_label for d in derivatives)


def test_ecommerce_can_never_be_labelled() -> None:
    with pytest.raises(ValueError, match="ecommerce"):
        make_derivatives(studio_master(), channels=["ecommerce"], labelled_channels=["ecommerce"])
    with pytest.raises(ValueError, match="TWINWEAR_LABELLED_CHANNELS"):
        parse_labelled_channels("social, ecommerce")
    with pytest.raises(ValueError, match="tiktok"):
        parse_labelled_channels("tiktok")
    assert parse_labelled_channels(" social,ooh ,") == {"social", "ooh"}


def test_a_transparent_master_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((300, 300, 700, 700), fill=(*GARMENT, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")

    jpeg = np.asarray(opened(by_name(make_derivatives(buffer.getvalue(), channels=[]))["jpeg-1024"].data))

    assert jpeg[10, 10].min() >= 250
    assert np.abs(jpeg[512, 512].astype(int) - GARMENT).max() <= 4


def test_a_master_that_is_not_a_png_is_refused_with_the_reason() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, "JPEG")
    with pytest.raises(InvalidMaster, match="must be a PNG"):
        make_derivatives(buffer.getvalue(), channels=["ecommerce"])
    with pytest.raises(InvalidMaster, match="not a readable image"):
        make_derivatives(b"\x89PNG\r\n\x1a\nnot really", channels=["ecommerce"])


def test_turntable_clips_pass_through_with_their_size() -> None:
    clip_webp, clip_mp4 = turntable_webp(), turntable_mp4()
    derivatives = by_name(
        make_derivatives(studio_master(), channels=["ecommerce"], turntable_webp=clip_webp, turntable_mp4=clip_mp4)
    )

    webp, mp4 = derivatives["turntable-webp"], derivatives["turntable-mp4"]
    assert (webp.data, webp.content_type, webp.width, webp.height) == (clip_webp, "image/webp", 256, 384)
    assert (mp4.data, mp4.content_type, mp4.width, mp4.height) == (clip_mp4, "video/mp4", 256, 384)
    assert mp4.key("a") == "assets/a/turntable-mp4.mp4"


def test_a_turntable_that_is_not_a_video_is_refused() -> None:
    with pytest.raises(InvalidMaster, match="turntable_mp4"):
        mp4_video_size(studio_master())
    with pytest.raises(InvalidMaster, match="turntable_webp"):
        make_derivatives(studio_master(), channels=["ecommerce"], turntable_webp=studio_master())


def test_the_same_master_gives_the_same_bytes() -> None:
    master = studio_master()
    first = make_derivatives(master, channels=["ecommerce", "social"], labelled_channels=["social"])
    again = make_derivatives(master, channels=["ecommerce", "social"], labelled_channels=["social"])

    assert [(d.name, d.data) for d in first] == [(d.name, d.data) for d in again]
