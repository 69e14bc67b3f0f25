"""The evidence bucket (S3): store an object with its SHA-256, presign a download."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable


class EvidenceStoreUnavailable(ServiceUnavailable):
    code = "evidence_store_unavailable"


class EvidenceStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data`` under ``key``; its SHA-256 (hex). Raises EvidenceStoreUnavailable when S3
        refuses (after botocore's own retries)."""
        digest = hashlib.sha256(data)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                # S3 checks the bytes it stored against this digest and refuses a corrupted upload.
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
            )
        except (BotoCoreError, ClientError) as exc:
            raise EvidenceStoreUnavailable(f"storing evidence failed: {exc}") from exc
        return digest.hexdigest()

    def presigned_url(self, key: str, expires_s: int) -> str:
        """A GET URL for ``key`` valid ``expires_s`` seconds; local computation, no call to S3."""
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        )
