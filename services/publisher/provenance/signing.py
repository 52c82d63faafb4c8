"""C2PA manifests, signed with the configured certificate (c2pa-python 0.38, ES256).

Each manifest holds a ``c2pa.created`` action with the IPTC digital source type
trainedAlgorithmicMedia, the render's models, and an ``org.twinwear.asset`` assertion with the
asset's ids (look, SKU, product version, twin, consent: ids only, never personal data).
"""

from __future__ import annotations

import datetime
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from services.publisher.provenance.xmp import DIGITAL_SOURCE_TYPE
from twinwear.v1 import events_pb2

ASSET_ASSERTION = "org.twinwear.asset"
CLAIM_GENERATOR = {"name": "twinwear publisher", "version": "0.1.0"}
# Extended key usages a signing certificate may carry. c2pa-rs 0.91 (c2pa-python 0.38) accepts
# only emailProtection, timeStamping and OCSPSigning by default (measured), and refuses
# documentSigning and C2PA's own claim-signing EKU, which C2PA trust-list CAs issue: so the
# signer and the verifier both pass this list.
SIGNING_EKUS = {
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "1.3.6.1.4.1.62558.2.1": "c2pa-kp-claimSigning",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
}
TRUST_CONFIG = {"trust_config": "\n".join(SIGNING_EKUS)}
# No thumbnail in the manifest: the published file is its own preview, and it would add bytes.
_SIGNING_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "trust": TRUST_CONFIG}


class SigningConfigError(ValueError):
    """The signing certificate or key cannot sign C2PA manifests; the message says why."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


@dataclass(frozen=True)
class AssetFacts:
    """What a manifest says about the asset. Ids only: no names or contacts of people."""

    asset_id: str
    render_id: str
    look_id: str
    sku: str
    product_version: int
    twin_id: str
    consent_id: str
    models: tuple[ModelRef, ...]
    variant_skus: tuple[str, ...] = ()

    @classmethod
    def of_render(cls, render: events_pb2.RenderCompleted, asset_id: str) -> AssetFacts:
        """The facts a RenderCompleted gives; its models, else its one Triton model name."""
        models = tuple(ModelRef(m.name, m.version) for m in render.models)
        return cls(
            asset_id=asset_id,
            render_id=render.render_id,
            look_id=render.look_id or render.sku,
            sku=render.sku,
            product_version=render.product_version,
            twin_id=render.twin_id,
            consent_id=render.consent_id,
            models=models or ((ModelRef(render.model, ""),) if render.model else ()),
            variant_skus=tuple(render.variant_skus),
        )


def manifest_definition(facts: AssetFacts, title: str, content_type: str) -> dict[str, Any]:
    """The manifest as c2pa's Builder takes it (pure, so tests can read what is signed)."""
    models = [{"name": m.name, "version": m.version} for m in facts.models]
    created = {
        "action": "c2pa.created",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": CLAIM_GENERATOR,
        "parameters": {"models": models},
    }
    asset = {
        "asset_id": facts.asset_id,
        "render_id": facts.render_id,
        "look_id": facts.look_id,
        "sku": facts.sku,
        "variant_skus": list(facts.variant_skus),
        "product_version": facts.product_version,
        "twin_id": facts.twin_id,
        "consent_id": facts.consent_id,
        "models": models,
    }
    return {
        "claim_generator_info": [CLAIM_GENERATOR],
        "title": title,
        "format": content_type,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [created]}},
            {"label": ASSET_ASSERTION, "data": asset},
        ],
    }


class C2paSigner:
    """Signs files with one certificate chain and key. Safe to share between threads."""

    def __init__(self, certificate_chain_pem: bytes, private_key_pem: bytes, timestamp_url: str | None = None) -> None:
        """``timestamp_url``: an RFC 3161 time-stamping authority (``TWINWEAR_C2PA_TSA_URL``), so a
        signature stays valid after the certificate expires; c2pa calls it on every signing."""
        check_signing_certificate(certificate_chain_pem)
        try:
            signer = c2pa.Signer.from_info(
                c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certificate_chain_pem, private_key_pem, timestamp_url)
            )
            self._context = c2pa.Context(settings=c2pa.Settings.from_dict(_SIGNING_SETTINGS), signer=signer)
            self._lock = threading.Lock()
            # One signature at start, so a certificate or key c2pa refuses fails here, not later.
            probe = io.BytesIO()
            Image.new("RGB", (8, 8)).save(probe, "JPEG")
            self.sign(probe.getvalue(), "image/jpeg", AssetFacts("", "", "", "", 0, "", "", ()), "probe.jpg")
        except c2pa.C2paError as error:
            raise SigningConfigError(
                f"TWINWEAR_C2PA_CERT / TWINWEAR_C2PA_KEY: c2pa cannot sign with them: {error}"
            ) from error

    @classmethod
    def from_files(cls, certificate_chain: Path, private_key: Path, timestamp_url: str | None = None) -> C2paSigner:
        """From ``TWINWEAR_C2PA_CERT`` (PEM chain, signer first) and ``TWINWEAR_C2PA_KEY`` (PEM)."""
        try:
            chain, key = certificate_chain.read_bytes(), private_key.read_bytes()
        except OSError as error:
            raise SigningConfigError(f"TWINWEAR_C2PA_CERT / TWINWEAR_C2PA_KEY: {error}") from error
        return cls(chain, key, timestamp_url or None)

    def sign(self, data: bytes, content_type: str, facts: AssetFacts, title: str) -> bytes:
        """``data`` with an embedded, signed C2PA manifest. Any later byte change invalidates it."""
        builder = c2pa.Builder(manifest_definition(facts, title, content_type), context=self._context)
        signed = io.BytesIO()
        with self._lock, builder:
            builder.sign(content_type, io.BytesIO(data), signed)
        return signed.getvalue()


def check_signing_certificate(certificate_chain_pem: bytes, now: datetime.datetime | None = None) -> None:
    """Refuse, with the reason, a chain c2pa would refuse or a verifier would distrust: c2pa
    signs ES256 only with a P-256 end-entity certificate that is not a CA, is in its validity
    period, allows digitalSignature, names an accepted extended key usage and identifies its
    issuer's key (authorityKeyIdentifier)."""
    try:
        leaf = x509.load_pem_x509_certificates(certificate_chain_pem)[0]
    except ValueError as error:
        raise SigningConfigError(f"TWINWEAR_C2PA_CERT is not a PEM certificate chain: {error}") from error
    now = now or datetime.datetime.now(datetime.UTC)
    problems = []
    key = leaf.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"):
        problems.append("its key is not EC P-256 (ES256)")
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        problems.append(f"it is valid only {leaf.not_valid_before_utc} .. {leaf.not_valid_after_utc}")
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        problems.append("it is a CA certificate")
    usage = _extension(leaf, x509.KeyUsage)
    if usage is None or not usage.digital_signature:
        problems.append("its keyUsage lacks digitalSignature")
    extended = _extension(leaf, x509.ExtendedKeyUsage)
    if extended is None or not {oid.dotted_string for oid in extended} & SIGNING_EKUS.keys():
        problems.append(f"its extendedKeyUsage has none of {', '.join(SIGNING_EKUS.values())}")
    if _extension(leaf, x509.AuthorityKeyIdentifier) is None:
        problems.append("it has no authorityKeyIdentifier")
    if problems:
        raise SigningConfigError(f"TWINWEAR_C2PA_CERT's first certificate cannot sign C2PA: {'; '.join(problems)}")


def _extension(certificate: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
