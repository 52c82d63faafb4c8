"""Object storage: the port handlers depend on, and its adapter over MinIO (any S3 API).

Bytes live here; events carry ObjectRefs. The adapter turns a server that cannot answer (down,
5xx, timeouts) into :class:`Unavailable`, which consumers wait out, and a key that does not exist
into :class:`MissingObject`, a reference to nothing that no retry can mend.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from typing import ParamSpec, Protocol, TypeVar

import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.error import MinioException, S3Error, ServerError

from twinwear.v1 import events_pb2
from twinwear_runtime.config import RuntimeConfig
from twinwear_runtime.faults import PermanentError, Unavailable

P = ParamSpec("P")
R = TypeVar("R")
_MISSING = ("NoSuchKey", "NoSuchObject")
# Codes that say the store cannot serve now (starting, overloaded, credentials or clock wrong, a
# bucket the services create missing): a person or a restart mends them, so consumers wait.
# Anything else is about the request.
_BUSY = (
    "SlowDown",
    "ServerNotInitialized",
    "XMinioServerNotInitialized",
    "InternalError",
    "ServiceUnavailable",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
    "NoSuchBucket",
)


class MissingObject(PermanentError):
    """An ObjectRef that points at nothing."""


class PreconditionFailed(Exception):
    """A conditional write found the object changed (or created) by another writer since it was read."""


class ObjectStore(Protocol):
    """What handlers need of an object store."""

    def put(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> events_pb2.ObjectRef: ...

    def get(self, ref: events_pb2.ObjectRef) -> bytes: ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def copy(
        self, source: events_pb2.ObjectRef, bucket: str, key: str, metadata: Mapping[str, str]
    ) -> events_pb2.ObjectRef: ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...


def _translating_errors(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except S3Error as error:
            if error.code in _MISSING:
                raise MissingObject(f"{error.bucket_name}/{error.object_name} does not exist") from error
            if error.code in _BUSY:
                raise Unavailable("minio", f"{error.code}: {error.message}") from error
            raise
        except (ServerError, urllib3.exceptions.HTTPError, OSError) as error:
            raise Unavailable("minio", str(error) or type(error).__name__) from error
        except MinioException as error:  # e.g. a non-XML answer from a proxy or a half-started server
            raise Unavailable("minio", str(error)) from error

    return wrapper


class MinioObjectStore:
    # Bounded so that no call outlasts the consumer's poll interval; the consumer retries.
    CONNECT_TIMEOUT_SECONDS = 5.0
    READ_TIMEOUT_SECONDS = 20.0

    def __init__(self, client: Minio) -> None:
        self._client = client

    @classmethod
    def from_config(cls, config: RuntimeConfig) -> MinioObjectStore:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=cls.CONNECT_TIMEOUT_SECONDS, read=cls.READ_TIMEOUT_SECONDS),
            maxsize=16,
            retries=urllib3.Retry(total=1, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        return cls(
            Minio(
                config.minio_endpoint,
                access_key=config.minio_access_key,
                secret_key=config.minio_secret_key,
                secure=config.minio_secure,
                http_client=http,
            )
        )

    @_translating_errors
    def ensure_buckets(self, *buckets: str) -> None:
        for bucket in buckets:
            if not self._client.bucket_exists(bucket):
                try:
                    self._client.make_bucket(bucket)
                except S3Error as error:
                    if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

    @_translating_errors
    def put(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> events_pb2.ObjectRef:
        self._client.put_object(
            bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata=dict(metadata or {})
        )
        return events_pb2.ObjectRef(
            bucket=bucket,
            key=key,
            content_type=content_type,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
        )

    @_translating_errors
    def get(self, ref: events_pb2.ObjectRef) -> bytes:
        response = self._client.get_object(ref.bucket, ref.key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    @_translating_errors
    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.stat_object(bucket, key)
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise
        return True

    @_translating_errors
    def content_type(self, bucket: str, key: str) -> str:
        return self._client.stat_object(bucket, key).content_type or ""

    @_translating_errors
    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return [o.object_name for o in self._client.list_objects(bucket, prefix=prefix, recursive=True)]

    @_translating_errors
    def metadata(self, bucket: str, key: str) -> dict[str, str]:
        """User metadata of an object, names lower-cased without the x-amz-meta- prefix."""
        stat = self._client.stat_object(bucket, key)
        prefix = "x-amz-meta-"
        return {k.lower()[len(prefix) :]: v for k, v in (stat.metadata or {}).items() if k.lower().startswith(prefix)}

    @_translating_errors
    def delete(self, bucket: str, key: str) -> None:
        self._client.remove_object(bucket, key)

    @_translating_errors
    def allow_anonymous_read(self, bucket: str, prefix: str) -> None:
        """Let anyone GET (not list) the objects under ``prefix``: public links without presigning.
        Deleting an object takes it out of public reach."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
                }
            ],
        }
        self._client.set_bucket_policy(bucket, json.dumps(policy))

    @_translating_errors
    def copy(
        self, source: events_pb2.ObjectRef, bucket: str, key: str, metadata: Mapping[str, str]
    ) -> events_pb2.ObjectRef:
        """Server-side copy that replaces the user metadata and keeps the Content-Type; the bytes
        (and their hash) stay the same."""
        content_type = source.content_type or self._client.stat_object(source.bucket, source.key).content_type
        headers = {**metadata, "Content-Type": content_type} if content_type else dict(metadata)
        self._client.copy_object(
            bucket, key, CopySource(source.bucket, source.key), metadata=headers, metadata_directive=REPLACE
        )
        copied = events_pb2.ObjectRef()
        copied.CopyFrom(source)
        copied.bucket, copied.key, copied.content_type = bucket, key, content_type
        return copied

    @_translating_errors
    def get_versioned(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, for a later :meth:`put_if`; None when it does not exist."""
        try:
            response = self._client.get_object(bucket, key)
        except S3Error as error:
            if error.code in _MISSING:
                return None
            raise
        try:
            return response.read(), response.headers.get("ETag", "").strip('"')
        finally:
            response.close()
            response.release_conn()

    @_translating_errors
    def put_if(self, bucket: str, key: str, data: bytes, content_type: str, etag: str | None) -> None:
        """Write only if the object is still at ``etag`` (None: only if it does not exist yet), so that
        two writers of one object never lose each other's change; raises :class:`PreconditionFailed`.
        Uses the client's PutObject with conditional headers (minio 7.2 exposes no public way)."""
        condition = {"If-Match": f'"{etag}"'} if etag else {"If-None-Match": "*"}
        try:
            self._client._put_object(bucket, key, data, headers={"Content-Type": content_type, **condition})
        except S3Error as error:
            if error.code == "PreconditionFailed":
                raise PreconditionFailed(f"{bucket}/{key} changed since it was read") from None
            raise
