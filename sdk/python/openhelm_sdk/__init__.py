"""OpenHelm Python SDK: ``Client`` / ``AsyncClient`` over the OpenHelm HTTP API.

from openhelm_sdk import Client

client = Client(api_key="oh_test_...", base_url="http://127.0.0.1:8787")
run = client.runs.create("List the pricing tiers", start_url="https://example.com", wait=True)
print(run.status, run.result)
"""

from __future__ import annotations

__version__ = "0.1.0"

from openhelm_sdk import models
from openhelm_sdk._base import PollPolicy, RetryPolicy
from openhelm_sdk.async_client import AsyncClient
from openhelm_sdk.client import Client
from openhelm_sdk.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    OpenHelmError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RunWaitTimeout,
    ServerError,
    UnprocessableEntityError,
)
from openhelm_sdk.models import Run, RunStatus

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "OpenHelmError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RetryPolicy",
    "Run",
    "RunStatus",
    "RunWaitTimeout",
    "ServerError",
    "UnprocessableEntityError",
    "__version__",
    "models",
]
