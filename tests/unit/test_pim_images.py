"""Image checks that need no server: magic bytes, the pixel limit before decoding, sRGB
normalisation, dominant colour, and the URL and address rules."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageCms

from services.ingestion.pim.images import FetchLimits, ImageFetcher, ImageRejected, inspect
from tests.bad_images import png_header_only


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def garment_on_white(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    image.paste(colour, (16, 16, 48, 48))
    return image


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_from_its_header_before_decoding():
    with pytest.raises(ImageRejected, match=r"more than 40000000 pixels \(not decoded\)"):
        inspect(png_header_only(20000, 20000), "https://x/bomb.png")
    with pytest.raises(ImageRejected, match=r"8000x6000 pixels, more than 40000000 \(not decoded\)"):
        inspect(png_header_only(8000, 6000), "https://x/bomb.png")


def test_a_non_image_is_refused_by_its_first_bytes_whatever_it_claims():
    with pytest.raises(ImageRejected, match="is not a PNG, JPEG or WebP image"):
        inspect(b"<html>not found</html>", "https://x/flat.jpg")


def test_plain_srgb_png_is_kept_and_its_garment_colour_found():
    inspected = inspect(encoded(garment_on_white((200, 30, 40)), "PNG"), "https://x/a.png")
    assert (inspected.content_type, inspected.width, inspected.height) == ("image/png", 64, 64)
    assert inspected.normalised is None
    assert inspected.dominant == (200, 30, 40)  # the white background is left out


def test_webp_and_an_icc_profile_are_normalised_to_srgb_png():
    webp = inspect(encoded(garment_on_white((30, 90, 200)), "WEBP", lossless=True), "https://x/a.webp")
    assert webp.content_type == "image/webp" and webp.normalised is not None
    assert Image.open(io.BytesIO(webp.normalised)).mode == "RGB"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = inspect(encoded(garment_on_white((30, 90, 200)), "PNG", icc_profile=profile), "https://x/icc.png")
    assert tagged.normalised is not None  # converted through its profile, stored untagged
    assert all(abs(a - b) <= 2 for a, b in zip(tagged.dominant, (30, 90, 200), strict=True))
    # A profile that cannot convert RGB pixels is ignored: the image is read as sRGB.
    xyz = ImageCms.ImageCmsProfile(ImageCms.createProfile("XYZ")).tobytes()
    assert (
        inspect(encoded(garment_on_white((30, 90, 200)), "PNG", icc_profile=xyz), "https://x/x.png").normalised is None
    )


def test_a_cmyk_jpeg_is_converted_to_rgb():
    inspected = inspect(encoded(garment_on_white((30, 90, 200)).convert("CMYK"), "JPEG"), "https://x/c.jpg")
    assert inspected.normalised is not None
    assert Image.open(io.BytesIO(inspected.normalised)).mode == "RGB"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.png", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://127.0.0.1:9/a.png", "private or loopback"),
        ("http://10.1.2.3/a.png", "private or loopback"),
        ("http://[::1]/a.png", "private or loopback"),
        ("http://169.254.169.254/latest/meta-data", "private or loopback"),
    ],
)
def test_only_public_http_urls_are_fetched(url, reason):
    fetcher = ImageFetcher(FetchLimits(attempts=1))
    with pytest.raises(ImageRejected, match=reason):
        fetcher.fetch(url, time.monotonic() + 10)


def test_a_refused_connection_is_retried_a_bounded_number_of_times_then_rejected():
    slept: list[float] = []
    fetcher = ImageFetcher(FetchLimits(attempts=3, allow_private=True, connect_seconds=1), sleep=slept.append)
    with pytest.raises(ImageRejected, match="unreachable after 3 attempts"):
        fetcher.fetch("http://127.0.0.1:9/closed.png", time.monotonic() + 10)  # the discard port: nothing listens
    assert slept == [0.5, 1.0]


def test_a_delivery_whose_time_for_images_ran_out_is_a_rejection_not_a_wait():
    fetcher = ImageFetcher(FetchLimits(attempts=3, allow_private=True))
    with pytest.raises(ImageRejected, match="the delivery's time for images ran out"):
        fetcher.fetch("http://127.0.0.1:9/closed.png", time.monotonic() - 1)
