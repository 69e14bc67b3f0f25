"""What the sync and async clients share: configuration, the retry rule, request shapes, pagination state.

Nothing here does I/O: ``client.py`` and ``async_client.py`` run the same plans with httpx's sync and
async clients, so both behave alike by construction.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from openhelm_sdk import __version__
from openhelm_sdk.models import RUNS_MAX_WAIT_S, RunStatus

DEFAULT_BASE_URL = "http://127.0.0.1:8787"  # `openhelm dev`
ENV_API_KEY = "OPENHELM_API_KEY"
ENV_BASE_URL = "OPENHELM_BASE_URL"
# The API's cap on POST /v1/runs?wait= (API Gateway ends every request at 30 s), from docs/openapi.json.
MAX_SERVER_WAIT_S = RUNS_MAX_WAIT_S
TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
USER_AGENT = f"openhelm-python/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry. Retried: connection errors, 429 and 503 for every request (the API
    refused before doing anything); 500, 502 and 504 and read timeouts only for requests that are safe
    to repeat (reads, and creates that carry an Idempotency-Key). The wait is the API's Retry-After
    when it sends one (at most ``max_retry_after`` s; longer gives up at once), else exponential
    backoff with full jitter."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, headers: httpx.Headers | None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or None to give up."""
        if attempt >= self.max_retries:
            return None
        after = retry_after_seconds(headers) if headers is not None else None
        if after is not None:
            return after if after <= self.max_retry_after else None
        return self.random() * min(self.backoff_max, self.backoff_base * 2**attempt)


@dataclass(frozen=True)
class PollPolicy:
    """How ``runs.wait`` polls GET /v1/runs/{id}: from ``initial`` s, times ``factor`` per poll up to
    ``maximum``; back to ``initial`` whenever the run moved (a new step or status)."""

    initial: float = 0.5
    factor: float = 1.5
    maximum: float = 5.0

    def next(self, delay: float, moved: bool) -> float:
        return self.initial if moved else min(self.maximum, delay * self.factor)


RETRY_ALWAYS = frozenset({429, 503})
RETRY_IF_SAFE = frozenset({500, 502, 504})


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), or None."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Request:
    """One API call as data."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    files: Any = None  # multipart parts, as httpx takes them (bytes: safe to send again)

    @property
    def safe(self) -> bool:
        """Safe to send again after an answer we did not get (or a 5xx)."""
        return self.method in ("GET", "HEAD", "DELETE", "PUT", "PATCH") or "Idempotency-Key" in self.headers

    def retryable(self, status: int) -> bool:
        return status in RETRY_ALWAYS or (status in RETRY_IF_SAFE and self.safe)


@dataclass(frozen=True)
class Config:
    api_key: str
    base_url: str
    timeout: float
    retry: RetryPolicy
    poll: PollPolicy

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        retry: RetryPolicy | None,
        max_retries: int | None,
        poll: PollPolicy | None,
    ) -> Config:
        key = api_key or os.environ.get(ENV_API_KEY)
        if not key:
            raise ValueError(f"no API key: pass api_key= or set {ENV_API_KEY}")
        url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                backoff_base=policy.backoff_base,
                backoff_max=policy.backoff_max,
                max_retry_after=policy.max_retry_after,
                random=policy.random,
            )
        return cls(key, url, timeout, policy, poll or PollPolicy())

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}


def body(model: type[BaseModel], value: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> Any:
    """A request body: the typed model (given, or built from a mapping and keyword fields), as JSON.

    Only the fields that were set are sent, so the API's defaults apply and a PATCH clears only what
    was given as None."""
    if isinstance(value, BaseModel):
        req = value.model_copy(update=dict(fields)) if fields else value
    else:
        req = model.model_validate({**(value or {}), **fields})
    return req.model_dump(mode="json", exclude_unset=True, by_alias=True)


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4()}"


def server_wait(timeout: float | None, started: float, now: float) -> int:
    """The ``?wait=`` to ask for: what is left of ``timeout``, at most the API's cap."""
    if timeout is None:
        return MAX_SERVER_WAIT_S
    return max(0, min(MAX_SERVER_WAIT_S, int(timeout - (now - started))))


def moved(before: Any, after: Any) -> bool:
    """Whether a run changed in a way worth polling faster for (status or step)."""
    if before is None:
        return True
    step = lambda r: r.progress.step if r.progress else 0  # noqa: E731
    return before.status != after.status or step(before) != step(after)


def page_size(limit: int | None, seen: int, size: int = 100) -> int:
    """The page to ask for: ``size`` (the API's most is 100) unless fewer are still wanted."""
    size = max(1, min(100, size))
    return size if limit is None else max(1, min(size, limit - seen))
