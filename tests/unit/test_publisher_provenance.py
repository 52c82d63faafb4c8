"""Provenance on published files: IPTC XMP read by Debian's exiv2, C2PA manifests signed with the
development CA's certificate, verified against that CA, and tampering detected."""

from __future__ import annotations

import datetime
import io
import json
import shutil
import subprocess
import sys
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
from twinwear.v1 import events_pb2

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


def test_facts_come_from_the_render() -> None:
    render = events_pb2.RenderCompleted(
        render_id="render-1",
        sku="look-1",
        look_id="look-1",
        product_version=7,
        twin_id="twin-ada",
        consent_id="consent-9",
        model="garment_on_twin/1",
        models=[events_pb2.ModelVersion(name="garment_on_twin", version="1"), events_pb2.ModelVersion(name="anny")],
        variant_skus=["SKU-1-S"],
    )

    facts = AssetFacts.of_render(render, "asset-1")

    assert facts == AssetFacts(
        "asset-1",
        "render-1",
        "look-1",
        "look-1",
        7,
        "twin-ada",
        "consent-9",
        (ModelRef("garment_on_twin", "1"), ModelRef("anny", "")),
        ("SKU-1-S",),
    )
    legacy = events_pb2.RenderCompleted(render_id="r", sku="SKU-9", model="render_model/3")
    assert AssetFacts.of_render(legacy, "a").models == (ModelRef("render_model/3", ""),)
    assert AssetFacts.of_render(legacy, "a").look_id == "SKU-9"


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


DIGITAL_SIGNATURE_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _issue(
    *, ca: bool = False, expired: bool = False, ekus: tuple[str, ...] = ("1.3.6.1.5.5.7.3.4",), anchor=None
) -> tuple[bytes, bytes, bytes]:
    """A P-256 certificate, its PEM key and its issuer's PEM: self-issued without ``anchor``, else
    issued by ``anchor`` (a certificate and key), with an authorityKeyIdentifier."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer, issuer_key = anchor or (None, key)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test signer" if anchor else "test CA")])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30 if expired else 1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=2 if expired else 30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(DIGITAL_SIGNATURE_ONLY, critical=True)
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in ekus]), critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    chain = certificate.public_bytes(pem) + (issuer.public_bytes(pem) if issuer else b"")
    return chain, key_pem, (issuer or certificate).public_bytes(pem)


@pytest.fixture(scope="module")
def test_anchor() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


@pytest.mark.parametrize("eku", ["1.3.6.1.5.5.7.3.36", "1.3.6.1.4.1.62558.2.1"])
def test_certificates_from_c2pa_trust_list_cas_sign_and_verify(test_anchor, eku: str) -> None:
    """documentSigning and C2PA's claim-signing EKU, which c2pa 0.38 refuses by default."""
    chain, key, anchor = _issue(ekus=(eku,), anchor=test_anchor)
    derivative = make_derivatives(studio_master(64, 96), channels=["ecommerce"])[0]

    signed = add_provenance(derivative, FACTS, C2paSigner(chain, key))

    assert verify(signed.data, signed.content_type, anchor.decode()).valid


def test_an_unusable_signing_certificate_is_refused_at_start_with_the_reason(test_anchor, tmp_path: Path) -> None:
    with pytest.raises(SigningConfigError, match=r"is a CA certificate.*digitalSignature"):
        C2paSigner(*_issue(ca=True)[:2])
    with pytest.raises(SigningConfigError, match="valid only"):
        C2paSigner(*_issue(expired=True, anchor=test_anchor)[:2])
    with pytest.raises(SigningConfigError, match="extendedKeyUsage has none of emailProtection"):
        C2paSigner(*_issue(ekus=("1.3.6.1.5.5.7.3.1",), anchor=test_anchor)[:2])  # serverAuth
    chain, _, _ = _issue(anchor=test_anchor)
    _, other_key, _ = _issue(anchor=test_anchor)
    with pytest.raises(SigningConfigError, match="c2pa cannot sign with them"):
        C2paSigner(chain, other_key)
    with pytest.raises(SigningConfigError, match="TWINWEAR_C2PA_CERT"):
        C2paSigner.from_files(tmp_path / "missing.pem", tmp_path / "missing-key.pem")


def test_the_command_lines_make_a_ca_and_verify_a_file(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=False)

    made = run("services.publisher.provenance.dev_ca", str(tmp_path / "ca"))
    assert made.returncode == 0, made.stderr
    assert f"TWINWEAR_C2PA_CERT={tmp_path / 'ca' / 'signer-chain.pem'}" in made.stdout
    signer = C2paSigner.from_files(tmp_path / "ca" / "signer-chain.pem", tmp_path / "ca" / "signer-key.pem")
    good, bad = tmp_path / "jpeg-1024.jpg", tmp_path / "tampered.jpg"
    good.write_bytes(add_provenance(make_derivatives(studio_master(), channels=["ecommerce"])[0], FACTS, signer).data)
    bad.write_bytes(_flip_inside(good.read_bytes(), b"\xff\xda"))

    verified = run("services.publisher.provenance.verify", str(good), "--ca", str(tmp_path / "ca" / "ca.pem"))
    refused = run("services.publisher.provenance.verify", str(bad), "--ca", str(tmp_path / "ca" / "ca.pem"))

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["manifest"]["asset"]["twin_id"] == "twin-ada"
    assert refused.returncode == 1
    assert not json.loads(refused.stdout)["valid"]
