"""Typed configuration from environment variables.

A config class is a frozen dataclass whose fields name their variable with :func:`env`. Loading
converts each value to the field's type and fails with an error that names the variable.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


_REQUIRED = object()


def env(name: str, default: Any = _REQUIRED) -> Any:
    """Declare a config field read from the environment variable ``name``."""
    if default is _REQUIRED:
        return dataclasses.field(metadata={"env": name})
    return dataclasses.field(default=default, metadata={"env": name})


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is str:
        return raw
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    raise TypeError(f"unsupported config type {kind!r} for {name}")


def load_config(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from ``environ`` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.metadata["env"]
        if name in environ:
            values[field.name] = _convert(name, environ[name], hints[field.name])
        elif field.default is dataclasses.MISSING:
            raise ConfigError(f"{name} is required but not set")
    return cls(**values)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """Settings every service shares. Services subclass it (also ``kw_only``) to add their own."""

    kafka_bootstrap: str = env("TWINWEAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    minio_endpoint: str = env("TWINWEAR_MINIO_ENDPOINT", "127.0.0.1:9000")
    # Local development credentials of infra/stack.sh; in Kubernetes they come from a Secret.
    minio_access_key: str = env("TWINWEAR_MINIO_ACCESS_KEY", "twinwear")
    minio_secret_key: str = env("TWINWEAR_MINIO_SECRET_KEY", "twinwear-secret")
    minio_secure: bool = env("TWINWEAR_MINIO_SECURE", False)
    # 1 on the single-broker local stack; 3 on a production cluster.
    topic_replication_factor: int = env("TWINWEAR_TOPIC_REPLICATION_FACTOR", 1)
    ops_port: int = env("TWINWEAR_OPS_PORT", 9100)
    log_level: str = env("TWINWEAR_LOG_LEVEL", "info")
    # Address the service's servers (ops, APIs) listen on.
    bind_address: str = env("TWINWEAR_BIND_ADDRESS", "0.0.0.0")
    # Names this replica for Kafka (static group membership, transactional id): stable across its
    # restarts and unique among the replicas of a service, e.g. the pod name. Default: host name.
    instance_id: str = env("TWINWEAR_INSTANCE_ID", "")
    # Records a consumer handles, and commits, in one transaction; a batch also ends after
    # TWINWEAR_BATCH_SECONDS, so that results do not wait for a full batch of slow records.
    batch_size: int = env("TWINWEAR_BATCH_SIZE", 100)
    batch_seconds: float = env("TWINWEAR_BATCH_SECONDS", 2.0)
    # Attempts at a message whose handler keeps failing before it is dead-lettered; the backoff
    # doubles from the base, also while a dependency is waited out (which is never given up).
    max_attempts: int = env("TWINWEAR_MAX_ATTEMPTS", 5)
    retry_base_seconds: float = env("TWINWEAR_RETRY_BASE_SECONDS", 0.5)
    retry_cap_seconds: float = env("TWINWEAR_RETRY_CAP_SECONDS", 30.0)
