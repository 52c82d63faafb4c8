"""Verify a published file's provenance: its C2PA manifest against given trust anchors, and its
IPTC XMP disclosure (command line: ``verify.py``)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import c2pa

from services.publisher.provenance.signing import ASSET_ASSERTION, TRUST_CONFIG
from services.publisher.provenance.xmp import DIGITAL_SOURCE_TYPE, XMP_CONTENT_TYPES, read_digital_source_type

_ACTIONS = ("c2pa.actions", "c2pa.actions.v2")


@dataclass(frozen=True)
class ManifestSummary:
    title: str
    signer: str
    issuer: str
    claim_generator: str
    # From the c2pa.created action.
    digital_source_type: str | None
    # The org.twinwear.asset assertion: asset, render, look, SKU, version, twin and consent ids, models.
    asset: Mapping[str, Any]


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    # Why not valid (C2PA failure codes with their explanations, missing disclosures); empty if valid.
    reasons: tuple[str, ...]
    # "Trusted", "Valid" (signature fine, signer not trusted), "Invalid", or "" without a manifest.
    c2pa_state: str
    manifest: ManifestSummary | None
    iptc_digital_source_type: str | None


def verify(data: bytes, content_type: str, trust_anchors_pem: str) -> VerificationResult:
    """Valid when the file's active C2PA manifest is intact, signed by a certificate that chains to
    ``trust_anchors_pem``, and declares a trainedAlgorithmicMedia creation, and (for JPEG and WebP)
    its IPTC XMP says trainedAlgorithmicMedia too. A changed byte of the image makes it invalid."""
    iptc = read_digital_source_type(data) if content_type in XMP_CONTENT_TYPES else None
    reasons = []
    if content_type in XMP_CONTENT_TYPES and iptc != DIGITAL_SOURCE_TYPE:
        reasons.append(f"IPTC XMP DigitalSourceType is {iptc!r}, not {DIGITAL_SOURCE_TYPE}")
    settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors_pem, **TRUST_CONFIG}}
    try:
        with (
            c2pa.Context(settings=c2pa.Settings.from_dict(settings)) as context,
            c2pa.Reader(content_type, io.BytesIO(data), None, context) as reader,
        ):
            state = reader.get_validation_state() or ""
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest()
    except c2pa.C2paError as error:
        return VerificationResult(False, (*reasons, f"no readable C2PA manifest: {error}"), "", None, iptc)
    reasons.extend(_failures(results))
    summary = _summary(manifest) if manifest else None
    if state != "Trusted":
        reasons.append(f"C2PA validation state is {state!r}, not 'Trusted'")
    if summary is None or summary.digital_source_type != DIGITAL_SOURCE_TYPE:
        reasons.append(f"the manifest has no c2pa.created action with digitalSourceType {DIGITAL_SOURCE_TYPE}")
    return VerificationResult(not reasons, tuple(reasons), state, summary, iptc)


def _failures(results: Mapping[str, Any]) -> list[str]:
    active = results.get("activeManifest") or {}
    return [f"{item.get('code')}: {item.get('explanation', '')}" for item in active.get("failure", [])]


def _summary(manifest: Mapping[str, Any]) -> ManifestSummary:
    assertions = {a.get("label"): a.get("data", {}) for a in manifest.get("assertions", [])}
    created = [
        action
        for label in _ACTIONS
        for action in assertions.get(label, {}).get("actions", [])
        if action.get("action") == "c2pa.created"
    ]
    signature = manifest.get("signature_info", {})
    generator = manifest.get("claim_generator_info") or [{}]
    return ManifestSummary(
        title=manifest.get("title", ""),
        signer=signature.get("common_name", ""),
        issuer=signature.get("issuer", ""),
        claim_generator=f"{generator[0].get('name', '')} {generator[0].get('version', '')}".strip(),
        digital_source_type=created[0].get("digitalSourceType") if created else None,
        asset=assertions.get(ASSET_ASSERTION, {}),
    )
