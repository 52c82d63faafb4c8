"""Published files and their provenance: pure functions the publisher calls, no Kafka or MinIO.

Public API (everything else in the package is internal)::

    make_derivatives(master_png, *, channels, labelled_channels=(), turntable_webp=None,
                     turntable_mp4=None) -> list[DerivativeImage]
        JPEG + WebP at 2048 (masters that wide), 1024, 512; "square-1500" (JPEG, padded with the
        image's background colour); "<channel>-<width>" labelled JPEGs for cleared channels in
        labelled_channels; "turntable-webp" / "turntable-mp4" passed through. Raises InvalidMaster.
    DerivativeImage(name, extension, width, height, channels, visible_label, data)
        .content_type, .key(asset_id) -> "assets/<asset_id>/<name>.<extension>"
    parse_labelled_channels(raw) -> frozenset[str]        TWINWEAR_LABELLED_CHANNELS, validated
    C2paSigner.from_files(cert_chain_pem_path, key_pem_path, timestamp_url=None)
        TWINWEAR_C2PA_CERT / _KEY (/ _TSA_URL); raises SigningConfigError (unusable certificate)
        at construction, not at first sign. Thread-safe.
    AssetFacts(asset_id, render_id, look_id, sku, product_version, twin_id, consent_id,
               models: tuple[ModelRef, ...], variant_skus=())
        AssetFacts.of_render(render_completed, asset_id): the same from a RenderCompleted.
    add_provenance(derivative, facts, signer) -> DerivativeImage
        IPTC XMP DigitalSourceType (JPEG, WebP), then a signed C2PA manifest; returns the
        derivative with its data replaced. Bytes differ per call (signing time, manifest id).
    verify(data, content_type, trust_anchors_pem) -> VerificationResult(valid, reasons,
        c2pa_state, manifest: ManifestSummary | None, iptc_digital_source_type)

Command lines: ``python -m services.publisher.provenance.dev_ca [DIR]`` (test CA and signer) and
``python -m services.publisher.provenance.verify FILE --ca CA.pem``.
"""

from __future__ import annotations

import dataclasses

from services.publisher.provenance.derivatives import (
    DerivativeImage,
    InvalidMaster,
    make_derivatives,
    parse_labelled_channels,
)
from services.publisher.provenance.signing import AssetFacts, C2paSigner, ModelRef, SigningConfigError
from services.publisher.provenance.verification import ManifestSummary, VerificationResult, verify
from services.publisher.provenance.xmp import XMP_CONTENT_TYPES, embed_iptc_xmp


def add_provenance(derivative: DerivativeImage, facts: AssetFacts, signer: C2paSigner) -> DerivativeImage:
    """The derivative with IPTC XMP (where the format takes it) and then its signed C2PA manifest:
    XMP first, because any edit after signing breaks the manifest's hash."""
    data = derivative.data
    if derivative.content_type in XMP_CONTENT_TYPES:
        data = embed_iptc_xmp(data)
    title = f"{derivative.name}.{derivative.extension}"
    return dataclasses.replace(derivative, data=signer.sign(data, derivative.content_type, facts, title))


__all__ = [
    "AssetFacts",
    "C2paSigner",
    "DerivativeImage",
    "InvalidMaster",
    "ManifestSummary",
    "ModelRef",
    "SigningConfigError",
    "VerificationResult",
    "add_provenance",
    "make_derivatives",
    "parse_labelled_channels",
    "verify",
]
