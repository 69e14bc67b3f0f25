"""boto3 clients, created lazily and once per process.

The only module besides ``shared/db`` that imports boto3. Endpoints come from the standard
``AWS_ENDPOINT_URL`` variables, so the same code talks to AWS or to the local stack's moto server.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

_lock = threading.Lock()


class AwsClients:
    """Lazy boto3 clients; build one per process and pass it to the repositories that need it."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region

    @cached_property
    def _session(self) -> Any:
        import boto3  # deferred: functions that never touch AWS should not pay its import

        return boto3.session.Session(region_name=self._region)

    @cached_property
    def _config(self) -> Any:
        from botocore.config import Config

        return Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 4})

    def client(self, service: str) -> Any:
        with _lock:  # botocore client creation is not thread-safe on a shared session
            return self._session.client(service, config=self._config)

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def kms(self) -> Any:
        return self.client("kms")
