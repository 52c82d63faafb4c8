"""Object storage adapter over MinIO (any S3 API). Bytes live here; events carry ObjectRefs."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping

from minio import Minio
from minio.commonconfig import ENABLED, REPLACE, CopySource, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from twinwear.v1 import events_pb2
from twinwear_runtime.config import RuntimeConfig

FLAT_LAYS_BUCKET = "twinwear-flat-lays"
RENDERS_BUCKET = "twinwear-renders"
PUBLISHED_BUCKET = "twinwear-published"
# Service bookkeeping such as the idempotency markers.
STATE_BUCKET = "twinwear-state"


class ObjectStore:
    def __init__(self, client: Minio) -> None:
        self._client = client

    @classmethod
    def from_config(cls, config: RuntimeConfig) -> ObjectStore:
        return cls(
            Minio(
                config.minio_endpoint,
                access_key=config.minio_access_key,
                secret_key=config.minio_secret_key,
                secure=config.minio_secure,
            )
        )

    def ensure_buckets(self, *buckets: str) -> None:
        for bucket in buckets:
            if not self._client.bucket_exists(bucket):
                try:
                    self._client.make_bucket(bucket)
                except S3Error as error:
                    if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

    def expire_after(self, bucket: str, prefix: str, days: int) -> None:
        """Have the store delete objects under ``prefix`` ``days`` after they were written."""
        rule = Rule(
            ENABLED, rule_filter=Filter(prefix=prefix), rule_id=f"expire-{prefix}", expiration=Expiration(days=days)
        )
        self._client.set_bucket_lifecycle(bucket, LifecycleConfig([rule]))

    def lifecycle(self, bucket: str) -> LifecycleConfig | None:
        return self._client.get_bucket_lifecycle(bucket)

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

    def get(self, ref: events_pb2.ObjectRef) -> bytes:
        response = self._client.get_object(ref.bucket, ref.key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.stat_object(bucket, key)
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise
        return True

    def metadata(self, bucket: str, key: str) -> dict[str, str]:
        """User metadata of an object, names lower-cased without the x-amz-meta- prefix."""
        stat = self._client.stat_object(bucket, key)
        prefix = "x-amz-meta-"
        return {k.lower()[len(prefix) :]: v for k, v in (stat.metadata or {}).items() if k.lower().startswith(prefix)}

    def copy(
        self, source: events_pb2.ObjectRef, bucket: str, key: str, metadata: Mapping[str, str]
    ) -> events_pb2.ObjectRef:
        """Server-side copy that replaces the user metadata; the bytes (and their hash) stay the same."""
        self._client.copy_object(
            bucket, key, CopySource(source.bucket, source.key), metadata=dict(metadata), metadata_directive=REPLACE
        )
        copied = events_pb2.ObjectRef()
        copied.CopyFrom(source)
        copied.bucket, copied.key = bucket, key
        return copied
