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

from services.publisher.provenance.xmp import DIGITAL_SOURCE_TYPE

ASSET_ASSERTION = "org.twinwear.asset"
CLAIM_GENERATOR = {"name": "twinwear publisher", "version": "0.1.0"}
# No thumbnail in the manifest: the published file is its own preview, and it would add bytes.
_BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


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

    def __init__(self, certificate_chain_pem: bytes, private_key_pem: bytes) -> None:
        check_signing_certificate(certificate_chain_pem)
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certificate_chain_pem, private_key_pem, None)
        )
        self._context = c2pa.Context(settings=c2pa.Settings.from_dict(_BUILDER_SETTINGS), signer=signer)
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, certificate_chain: Path, private_key: Path) -> C2paSigner:
        """From ``TWINWEAR_C2PA_CERT`` (PEM chain, signer first) and ``TWINWEAR_C2PA_KEY`` (PEM)."""
        try:
            chain, key = certificate_chain.read_bytes(), private_key.read_bytes()
        except OSError as error:
            raise SigningConfigError(f"TWINWEAR_C2PA_CERT / TWINWEAR_C2PA_KEY: {error}") from error
        return cls(chain, key)

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
    period, allows digitalSignature and names an extended key usage."""
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
    if _extension(leaf, x509.ExtendedKeyUsage) is None:
        problems.append("it has no extendedKeyUsage (e.g. emailProtection or documentSigning)")
    if problems:
        raise SigningConfigError(f"TWINWEAR_C2PA_CERT's first certificate cannot sign C2PA: {'; '.join(problems)}")


def _extension(certificate: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
