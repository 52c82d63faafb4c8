"""A local test CA and a C2PA signing certificate, for development and tests only.

``python -m services.publisher.provenance.dev_ca [DIR]`` (default ``.stack/cache/c2pa``) writes:

- ``ca.pem``: the test root CA, the trust anchor to verify with (``verify --ca``);
- ``signer-chain.pem``: the signing certificate followed by the CA (``TWINWEAR_C2PA_CERT``);
- ``signer-key.pem``: the signing key, PKCS#8 (``TWINWEAR_C2PA_KEY``).

Idempotent: files that exist, parse, chain to the CA and stay valid for ``RENEW_BEFORE`` more are
kept as they are, so tests and services that share the directory agree on one CA.
"""

from __future__ import annotations

import argparse
import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DIR = Path(".stack/cache/c2pa")
CA_VALIDITY = datetime.timedelta(days=3650)
SIGNER_VALIDITY = datetime.timedelta(days=397)
RENEW_BEFORE = datetime.timedelta(days=30)
# c2pa-rs refuses a signer that could be a CA, or that has no EKU from its list (emailProtection,
# documentSigning, C2PA's own 1.3.6.1.4.1.62558.2.1, ...).
_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class DevCredentials:
    ca_pem: Path
    signer_chain_pem: Path
    signer_key_pem: Path


def ensure_dev_ca(directory: Path = DEFAULT_DIR) -> DevCredentials:
    """Make the test CA and signing certificate in ``directory`` unless usable ones are there."""
    paths = DevCredentials(directory / "ca.pem", directory / "signer-chain.pem", directory / "signer-key.pem")
    if not _usable(paths):
        directory.mkdir(parents=True, exist_ok=True)
        _write(paths)
    return paths


def _usable(paths: DevCredentials) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(paths.ca_pem.read_bytes())
        signer = x509.load_pem_x509_certificates(paths.signer_chain_pem.read_bytes())[0]
        key = serialization.load_pem_private_key(paths.signer_key_pem.read_bytes(), password=None)
        signer.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    matches = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == signer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    renew_at = datetime.datetime.now(datetime.UTC) + RENEW_BEFORE
    return matches and min(ca.not_valid_after_utc, signer.not_valid_after_utc) > renew_at


def _write(paths: DevCredentials) -> None:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)  # tolerate clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("twinwear development root CA (not for production)")
    ca = (
        _base(ca_name, ca_name, ca_key.public_key(), now, CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        _base(_name("twinwear development C2PA signer"), ca_name, signer_key.public_key(), now, SIGNER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_file(paths.ca_pem, ca.public_bytes(pem), 0o644)
    _write_file(paths.signer_chain_pem, signer.public_bytes(pem) + ca.public_bytes(pem), 0o644)
    key_pem = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_file(paths.signer_key_pem, key_pem, 0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twinwear development"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
        ]
    )


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + validity)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_file(path: Path, data: bytes, mode: int) -> None:
    # Write beside and rename, so a reader never sees half a key.
    partial = path.with_suffix(path.suffix + ".partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as file:
        file.write(data)
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    paths = ensure_dev_ca(parser.parse_args().directory)
    print(f"TWINWEAR_C2PA_CERT={paths.signer_chain_pem}")
    print(f"TWINWEAR_C2PA_KEY={paths.signer_key_pem}")
    print(f"trust anchor (verify --ca): {paths.ca_pem}")


if __name__ == "__main__":
    main()
