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

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``. FileNotFoundError if there is none; EvidenceStoreUnavailable
        when S3 refuses otherwise."""
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from exc
            raise EvidenceStoreUnavailable(f"reading evidence failed: {exc}") from exc
        except BotoCoreError as exc:
            raise EvidenceStoreUnavailable(f"reading evidence failed: {exc}") from exc

    def size(self, key: str) -> int | None:
        """The size of the object under ``key``, or None if there is none (one HEAD request)."""
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise EvidenceStoreUnavailable(f"reading evidence failed: {exc}") from exc
        except BotoCoreError as exc:
            raise EvidenceStoreUnavailable(f"reading evidence failed: {exc}") from exc

    def presigned_download_url(self, key: str, expires_s: int, filename: str) -> str:
        """A GET URL for ``key`` that the browser saves as ``filename`` (Content-Disposition)."""
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=expires_s,
            )
        )
