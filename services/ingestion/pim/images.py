"""Images by URL: fetched with limits (http(s) only, public addresses only, bytes, time), checked
by their magic bytes and their header's pixel count before any decoding, stored content-addressed
(sha256) in MinIO, normalised to sRGB, with width, height and dominant colour recorded.

A transient failure (timeout, refused connection, 5xx, 429) is retried a bounded number of times,
then becomes a rejection like a permanent one: one dead image host must not hold a partition of
the inbox for ever."""

from __future__ import annotations

import collections
import hashlib
import io
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from PIL import Image, ImageCms

from services.ingestion.domain import DECODE_SLOTS, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE
from services.ingestion.pim.canonical import StoredImage, Unmappable
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET
from twinwear_runtime.storage import ObjectStore

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png", "png"),
    (b"\xff\xd8\xff", "JPEG", "image/jpeg", "jpg"),
)
_WEBP = ("WEBP", "image/webp", "webp")
_BACKGROUND = 230  # every channel at or above it: studio white, not garment
_SRGB = ImageCms.createProfile("sRGB")


class ImageRejected(Unmappable):
    """An image that cannot be used, for good; the reason names the URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"image {url}: {reason}")
        self.url = url


class _Transient(Exception):
    """Worth another try: the host did not answer, or answered that it is busy."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = MAX_IMAGE_BYTES
    connect_seconds: float = 3.0
    read_seconds: float = 10.0
    # Wall time for one attempt, however slowly the bytes trickle in.
    total_seconds: float = 10.0
    attempts: int = 3
    retry_base_seconds: float = 0.5
    max_redirects: int = 3
    allow_private: bool = False


def _check_address(address: str, url: str, allow_private: bool) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if not allow_private and not ip.is_global:
        raise ImageRejected(url, f"resolves to {ip}, a private or loopback address (not fetched)")


class ImageFetcher:
    """Fetches image bytes by URL; raises ImageRejected, never waits for ever."""

    def __init__(
        self,
        limits: FetchLimits,
        sleep: Callable[[float], None] = time.sleep,
        headers_for: Callable[[str], Mapping[str, str]] = lambda url: {},
    ) -> None:
        """``headers_for``: extra request headers for a URL, asked again at every redirect (e.g.
        Akeneo's bearer token for its media-file download links, and nothing for other hosts)."""
        self._limits = limits
        self._sleep = sleep
        self._headers_for = headers_for
        timeout = httpx.Timeout(limits.read_seconds, connect=limits.connect_seconds)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, deadline: float) -> bytes:
        """The bytes at ``url``, trying until ``deadline`` (time.monotonic()) at the latest."""
        last = ""
        for attempt in range(1, self._limits.attempts + 1):
            if time.monotonic() >= deadline:
                raise ImageRejected(url, f"not fetched: the delivery's time for images ran out {last}".strip())
            try:
                return self._fetch_following(url, deadline)
            except _Transient as error:
                last = str(error)
                if attempt < self._limits.attempts:
                    delay = self._limits.retry_base_seconds * 2 ** (attempt - 1)
                    self._sleep(max(0.0, min(delay, deadline - time.monotonic())))
        raise ImageRejected(url, f"unreachable after {self._limits.attempts} attempts: {last}")

    def _fetch_following(self, url: str, deadline: float) -> bytes:
        current = url
        for _ in range(self._limits.max_redirects + 1):
            self._check_url(current)
            location = self._fetch_once(current, deadline)
            if isinstance(location, bytes):
                return location
            current = urllib.parse.urljoin(current, location)
        raise ImageRejected(url, f"more than {self._limits.max_redirects} redirects")

    def _check_url(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ImageRejected(url, "only http and https URLs are fetched")
        try:
            infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise _Transient(f"{parsed.hostname} does not resolve: {error}") from None
        for info in infos:
            _check_address(str(info[4][0]), url, self._limits.allow_private)

    def _fetch_once(self, url: str, budget_deadline: float) -> bytes | str:
        """The body, or the Location of a redirect."""
        deadline = min(time.monotonic() + self._limits.total_seconds, budget_deadline)
        left = max(0.1, deadline - time.monotonic())
        timeout = httpx.Timeout(min(self._limits.read_seconds, left), connect=min(self._limits.connect_seconds, left))
        try:
            headers = {"Accept": "image/*", **self._headers_for(url)}
            with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
                # The address actually connected to, against a name that resolved differently the second time.
                stream = response.extensions.get("network_stream")
                peer = stream.get_extra_info("server_addr") if stream is not None else None
                if peer:
                    _check_address(str(peer[0]), url, self._limits.allow_private)
                if response.is_redirect and "location" in response.headers:
                    return response.headers["location"]
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise ImageRejected(url, f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._limits.max_bytes:
                    raise ImageRejected(url, f"is larger than {self._limits.max_bytes} bytes ({declared})")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._limits.max_bytes:
                        raise ImageRejected(url, f"is larger than {self._limits.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise _Transient(f"not complete within {left:.3g} s")
                return bytes(body)
        except httpx.TransportError as error:  # refused, reset, timed out, TLS
            raise _Transient(f"{type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class Inspected:
    content_type: str
    extension: str
    width: int
    height: int
    dominant: tuple[int, int, int]
    # An sRGB PNG when the original was not plain sRGB PNG or JPEG (an ICC profile, WebP, CMYK...).
    normalised: bytes | None


def inspect(data: bytes, url: str) -> Inspected:
    """Check and decode an image: type by magic bytes, size from the header before decoding."""
    kind = next((k for k in _MAGIC if data.startswith(k[0])), None)
    if kind is not None:
        image_format, content_type, extension = kind[1:]
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        image_format, content_type, extension = _WEBP
    else:
        raise ImageRejected(url, "is not a PNG, JPEG or WebP image (by its first bytes)")
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageRejected(url, f"has {width}x{height} pixels, more than {MAX_IMAGE_PIXELS} (not decoded)")
            if max(width, height) > MAX_IMAGE_SIDE or min(width, height) < MIN_IMAGE_SIDE:
                raise ImageRejected(
                    url, f"must be {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} pixels a side, is {width}x{height}"
                )
            with DECODE_SLOTS:
                image.load()
                rgb, changed = _to_srgb(image)
    except Image.DecompressionBombError:
        raise ImageRejected(url, f"has more than {MAX_IMAGE_PIXELS} pixels (not decoded)") from None
    except ImageRejected:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow raises many types on corrupt files
        raise ImageRejected(url, f"is not a readable {image_format} image: {type(error).__name__}") from None
    normalised = None
    if changed or image_format == "WEBP":
        out = io.BytesIO()
        rgb.save(out, format="PNG")
        normalised = out.getvalue()
    return Inspected(content_type, extension, width, height, dominant_colour(rgb), normalised)


def _to_srgb(image: Image.Image) -> tuple[Image.Image, bool]:
    """The image in sRGB (RGB or RGBA), and whether that changed its pixels."""
    changed = False
    icc = image.info.get("icc_profile")
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if "A" in image.getbands() else "RGB"
            image = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
            changed = True
        except (ImageCms.PyCMSError, OSError):
            pass  # an unreadable profile: taken as sRGB, the web's default
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
        changed = True
    return image, changed


def dominant_colour(image: Image.Image) -> tuple[int, int, int]:
    """The most common garment colour: near-white background and transparent pixels left out,
    colours binned coarsely, the mean of the fullest bin."""
    small = image.convert("RGBA").resize((64, 64), Image.Resampling.BOX).tobytes()
    rgba = list(zip(small[0::4], small[1::4], small[2::4], small[3::4], strict=True))
    pixels = [
        (r, g, b)
        for r, g, b, a in rgba
        if a >= 128 and not (r >= _BACKGROUND and g >= _BACKGROUND and b >= _BACKGROUND)
    ] or [(r, g, b) for r, g, b, _ in rgba]
    bins = collections.Counter((r >> 4, g >> 4, b >> 4) for r, g, b in pixels)
    fullest = bins.most_common(1)[0][0]
    chosen = [p for p in pixels if (p[0] >> 4, p[1] >> 4, p[2] >> 4) == fullest]
    return tuple(round(sum(channel) / len(chosen)) for channel in zip(*chosen, strict=True))  # type: ignore[return-value]


class ImageLibrary:
    """Fetches, checks and stores a look's images; stores each content once (key = sha256)."""

    def __init__(self, fetcher: ImageFetcher, store: ObjectStore, bucket: str = FLAT_LAYS_BUCKET) -> None:
        self._fetcher = fetcher
        self._store = store
        self._bucket = bucket

    def get(self, role: str, url: str, deadline: float) -> StoredImage:
        """``deadline`` (time.monotonic()): when the delivery's time for fetching images ends."""
        data = self._fetcher.fetch(url, deadline)
        inspected = inspect(data, url)
        self._put(f"originals/{hashlib.sha256(data).hexdigest()}.{inspected.extension}", data, inspected.content_type)
        used, content_type = (
            (inspected.normalised, "image/png") if inspected.normalised else (data, inspected.content_type)
        )
        sha256 = hashlib.sha256(used).hexdigest()
        key = f"srgb/{sha256}.png" if inspected.normalised else f"originals/{sha256}.{inspected.extension}"
        if inspected.normalised:
            self._put(key, used, content_type)
        return StoredImage(
            role=role,
            url=url,
            bucket=self._bucket,
            key=key,
            content_type=content_type,
            sha256=sha256,
            size_bytes=len(used),
            width=inspected.width,
            height=inspected.height,
            dominant=inspected.dominant,
        )

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        if not self._store.exists(self._bucket, key):
            self._store.put(self._bucket, key, data, content_type)
