"""Provenance on published files: IPTC XMP read by Debian's exiv2, C2PA manifests signed with the
development CA's certificate, verified against that CA, and tampering detected."""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from services.publisher.provenance import (
    AssetFacts,
    C2paSigner,
    ModelRef,
    SigningConfigError,
    add_provenance,
    make_derivatives,
    verify,
)
from services.publisher.provenance.dev_ca import DevCredentials, ensure_dev_ca
from services.publisher.provenance.xmp import DIGITAL_SOURCE_TYPE
from tests.unit.publisher_media import studio_master, turntable_mp4, turntable_webp

FACTS = AssetFacts(
    asset_id="asset-1",
    render_id="render-1",
    look_id="look-1",
    sku="SKU-1",
    product_version=1_700_000_000_000_000,
    twin_id="twin-ada",
    consent_id="consent-9",
    models=(ModelRef("twinwear-render", "3"), ModelRef("anny", "0.6.2")),
    variant_skus=("SKU-1-S", "SKU-1-M"),
)


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> DevCredentials:
    return ensure_dev_ca(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture(scope="module")
def signer(credentials: DevCredentials) -> C2paSigner:
    return C2paSigner.from_files(credentials.signer_chain_pem, credentials.signer_key_pem)


@pytest.fixture(scope="module")
def signed(signer: C2paSigner) -> dict:
    derivatives = make_derivatives(
        studio_master(),
        channels=["ecommerce", "social"],
        labelled_channels=["social"],
        turntable_webp=turntable_webp(),
        turntable_mp4=turntable_mp4(),
    )
    return {d.name: add_provenance(d, FACTS, signer) for d in derivatives}


def test_every_derivative_verifies_against_the_test_ca(signed: dict, credentials: DevCredentials) -> None:
    assert {d.content_type for d in signed.values()} == {"image/jpeg", "image/webp", "video/mp4"}
    for name, derivative in signed.items():
        result = verify(derivative.data, derivative.content_type, credentials.ca_pem.read_text())
        assert result.valid, (name, result.reasons)
        assert result.c2pa_state == "Trusted"
        assert result.manifest.title == f"{name}.{derivative.extension}"
        assert result.manifest.digital_source_type == DIGITAL_SOURCE_TYPE


def test_the_manifest_names_the_asset_by_ids_and_the_models(signed: dict, credentials: DevCredentials) -> None:
    manifest = verify(signed["jpeg-1024"].data, "image/jpeg", credentials.ca_pem.read_text()).manifest

    assert manifest.asset == {
        "asset_id": "asset-1",
        "render_id": "render-1",
        "look_id": "look-1",
        "sku": "SKU-1",
        "variant_skus": ["SKU-1-S", "SKU-1-M"],
        "product_version": 1_700_000_000_000_000,
        "twin_id": "twin-ada",
        "consent_id": "consent-9",
        "models": [{"name": "twinwear-render", "version": "3"}, {"name": "anny", "version": "0.6.2"}],
    }
    assert manifest.signer == "twinwear development C2PA signer"
    assert manifest.claim_generator.startswith("twinwear publisher")


def test_signing_keeps_the_pixels(signed: dict) -> None:
    derivative = signed["jpeg-1024"]
    assert Image.open(io.BytesIO(derivative.data)).size == (derivative.width, derivative.height)


@pytest.mark.parametrize("name", ["jpeg-1024", "webp-512", "square-1500", "social-1024", "turntable-webp"])
def test_iptc_digital_source_type_is_readable_by_exiv2(signed: dict, name: str, tmp_path: Path) -> None:
    exiv2 = shutil.which("exiv2")
    assert exiv2, "Debian's exiv2 CLI is needed: apt-get install -y exiv2"
    path = tmp_path / f"{name}.{signed[name].extension}"
    path.write_bytes(signed[name].data)

    xmp = subprocess.run([exiv2, "-pX", str(path)], capture_output=True, text=True, check=True).stdout

    assert 'xmlns:iptcExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"' in xmp
    assert f'iptcExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"' in xmp


def _flip_inside(data: bytes, marker: bytes) -> bytes:
    """``data`` with one byte of the image data after ``marker`` changed."""
    at = data.rindex(marker) + len(marker) + 200
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("name", "marker"),
    [("jpeg-1024", b"\xff\xda"), ("webp-1024", b"VP8"), ("square-1500", b"\xff\xda"), ("turntable-mp4", b"mdat")],
)
def test_a_changed_byte_of_the_image_fails_verification(
    signed: dict, credentials: DevCredentials, name: str, marker: bytes
) -> None:
    tampered = _flip_inside(signed[name].data, marker)

    result = verify(tampered, signed[name].content_type, credentials.ca_pem.read_text())

    assert not result.valid
    assert any("mismatch" in reason for reason in result.reasons), result.reasons


def test_a_repainted_image_loses_its_credentials(signed: dict, credentials: DevCredentials) -> None:
    image = Image.open(io.BytesIO(signed["jpeg-1024"].data))
    image.putpixel((10, 10), (0, 0, 0))
    repainted = io.BytesIO()
    image.save(repainted, "JPEG", quality=90)

    result = verify(repainted.getvalue(), "image/jpeg", credentials.ca_pem.read_text())

    assert not result.valid
    assert result.manifest is None
    assert any("no readable C2PA manifest" in reason for reason in result.reasons)
    assert any("IPTC" in reason for reason in result.reasons)


def test_a_file_signed_under_another_ca_is_not_trusted(signed: dict, tmp_path: Path) -> None:
    other_ca = ensure_dev_ca(tmp_path).ca_pem.read_text()

    result = verify(signed["jpeg-1024"].data, "image/jpeg", other_ca)

    assert not result.valid
    assert result.c2pa_state == "Valid"  # intact and well signed, but not by a trusted signer
    assert any("untrusted" in reason or "'Trusted'" in reason for reason in result.reasons)


def test_the_dev_ca_is_made_once_and_remade_when_broken(tmp_path: Path) -> None:
    first = ensure_dev_ca(tmp_path)
    contents = {p: p.read_bytes() for p in (first.ca_pem, first.signer_chain_pem, first.signer_key_pem)}

    ensure_dev_ca(tmp_path)
    assert all(path.read_bytes() == data for path, data in contents.items())
    assert first.signer_key_pem.stat().st_mode & 0o077 == 0

    first.signer_key_pem.write_text("not a key")
    ensure_dev_ca(tmp_path)
    assert first.ca_pem.read_bytes() != contents[first.ca_pem]
    C2paSigner.from_files(first.signer_chain_pem, first.signer_key_pem)


def _self_signed(*, ca: bool, expired: bool = False) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(days=30 if expired else 1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=2 if expired else 30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return certificate.public_bytes(pem), key_pem


def test_an_unusable_signing_certificate_is_refused_at_start_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(SigningConfigError, match=r"is a CA certificate.*digitalSignature.*extendedKeyUsage"):
        C2paSigner(*_self_signed(ca=True))
    with pytest.raises(SigningConfigError, match="valid only"):
        C2paSigner(*_self_signed(ca=False, expired=True))
    with pytest.raises(SigningConfigError, match="TWINWEAR_C2PA_CERT"):
        C2paSigner.from_files(tmp_path / "missing.pem", tmp_path / "missing-key.pem")
