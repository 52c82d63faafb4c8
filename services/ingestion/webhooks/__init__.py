"""PIM webhooks: each vendor's module verifies a delivery's signature over the raw body bytes and
splits it into one ``PimDelivery`` per event, for the inbox topic. Pure: no I/O, the clock is
passed in, so every vendor is tested with payloads written from its documentation.

What a vendor module offers is a :class:`WebhookSource`; the HTTP adapter (``http_api``) answers
its errors: :class:`Unauthorized` 401 (never saying which part was wrong), :class:`InvalidDelivery`
400 with the field errors, a missing secret 503 naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from twinwear.v1 import events_pb2

# A signed timestamp older than this is a replay (Akeneo's and Salsify's guidance).
MAX_TIMESTAMP_AGE_SECONDS = 300


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a delivery: where (``events[3].event_id``, ``headers.X-Shopify-Topic``)
    and what."""

    path: str
    message: str


class InvalidDelivery(ValueError):
    """A signed delivery whose JSON or envelope is malformed: the 400's field errors."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = tuple(errors)


def invalid(path: str, message: str) -> InvalidDelivery:
    return InvalidDelivery([FieldError(path, message)])


class Unauthorized(Exception):
    """The delivery is not proven to come from the PIM. ``reason`` is for metrics and logs only:
    the client is told nothing more than 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookSource(Protocol):
    """One PIM's webhook: how to verify a delivery and split it into inbox records."""

    # PimDelivery.source and the metrics' label.
    source: str
    # Media types the PIM sends (without parameters).
    content_types: frozenset[str]

    @property
    def not_configured(self) -> str | None:
        """Why deliveries cannot be verified yet, naming the environment variable to set; None
        when the endpoint is configured."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise :class:`Unauthorized` unless ``body`` is signed by the PIM. ``headers`` has
        lower-case names; ``now`` is seconds since the epoch."""
        ...

    def split(self, headers: Mapping[str, str], body: bytes, received_at_us: int) -> list[events_pb2.PimDelivery]:
        """The inbox records of a verified delivery, one per event; raise :class:`InvalidDelivery`."""
        ...


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def signed_by_any(secrets: Sequence[str], message: bytes, presented: Sequence[bytes]) -> bool:
    """True when one of ``presented`` is the HMAC-SHA256 of ``message`` under one of ``secrets``.
    Every pair is compared, in constant time, so timing tells nothing about which was close."""
    matches = [hmac.compare_digest(hmac_sha256(s, message), p) for s in secrets for p in presented]
    return any(matches)


def secret_list(value: str | None) -> list[str]:
    """The secrets of a comma-separated variable (several while one is rotated)."""
    return [secret.strip() for secret in (value or "").split(",") if secret.strip()]


def hex_signature(raw: str | None) -> bytes:
    """A hex signature header's bytes; Unauthorized when missing or not hex."""
    if raw is None:
        raise Unauthorized("missing_signature")
    try:
        return bytes.fromhex(raw.strip())
    except ValueError:
        raise Unauthorized("malformed_signature") from None


def base64_signature(raw: str | None) -> bytes:
    """A base64 signature header's bytes; Unauthorized when missing or not base64."""
    if raw is None:
        raise Unauthorized("missing_signature")
    try:
        return base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("malformed_signature") from None


def check_timestamp(raw: str | None, now: float, max_age: float = MAX_TIMESTAMP_AGE_SECONDS) -> None:
    """A signed Unix timestamp (seconds): present, an integer, not older than ``max_age`` and not
    further in the future than that (a clock skew larger than that is a misconfiguration)."""
    if raw is None or not raw.strip().isascii() or not raw.strip().isdigit():
        raise Unauthorized("missing_timestamp")
    if abs(now - int(raw.strip())) > max_age:
        raise Unauthorized("stale_timestamp")


def not_set(variable: str) -> str:
    return f"{variable} is not set: this webhook accepts no delivery until it is"


def pick_headers(headers: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """The headers worth keeping with the event (never a signature): those of ``names`` present."""
    return {name: headers[name] for name in names if name in headers}


def delivery(
    source: str, event_id: str, event_type: str, body: bytes, headers: Mapping[str, str], received_at_us: int
) -> events_pb2.PimDelivery:
    return events_pb2.PimDelivery(
        source=source,
        event_id=event_id,
        body=body,
        headers=dict(headers),
        received_at_us=received_at_us,
        event_type=event_type,
    )
