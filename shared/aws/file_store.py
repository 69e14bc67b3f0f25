"""The files bucket (S3): small uploads, presigned POST uploads with size and type pinned,
existence checks, presigned downloads."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable


class FileStoreUnavailable(ServiceUnavailable):
    code = "file_store_unavailable"


class FileStore:
    def __init__(self, client: Any, bucket: str, kms_key_id: str = "") -> None:
        self.client = client
        self.bucket = bucket
        # Set: every object is written encrypted with this KMS key (SSE-KMS), whatever the bucket's default.
        self.kms_key_id = kms_key_id

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data``; its SHA-256 (hex), which S3 checks against what it stored."""
        digest = hashlib.sha256(data)
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                **sse,
            )
        except (BotoCoreError, ClientError) as exc:
            raise FileStoreUnavailable(f"storing the file failed: {type(exc).__name__}") from exc
        return digest.hexdigest()

    def presigned_post(self, key: str, size: int, content_type: str, expires_s: int) -> dict[str, Any]:
        """``{"url", "fields"}`` of a browser-style POST upload that S3 accepts only for exactly
        ``size`` bytes of ``content_type`` under ``key`` (the policy's conditions); local computation."""
        return dict(
            self.client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
                ExpiresIn=expires_s,
            )
        )

    def size_of(self, key: str) -> int | None:
        """The stored object's size, or None if S3 has none under ``key``."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise FileStoreUnavailable(f"checking the file failed: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise FileStoreUnavailable(f"checking the file failed: {type(exc).__name__}") from exc
        return int(head["ContentLength"])

    def get(self, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise FileStoreUnavailable(f"reading the file failed: {type(exc).__name__}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise FileStoreUnavailable(f"deleting the file failed: {type(exc).__name__}") from exc

    def presigned_url(self, key: str, expires_s: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))
