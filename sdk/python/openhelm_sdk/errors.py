"""The SDK's exceptions. Every API error carries the API's envelope: ``{"error": {type, code, message, details}}``."""

from __future__ import annotations

from typing import Any

import httpx

from openhelm_sdk._base import retry_after_seconds


class OpenHelmError(Exception):
    """Base of every exception the SDK raises."""


class APIConnectionError(OpenHelmError):
    """The API could not be reached (connection refused, DNS, timeout), after the retries."""


class APIError(OpenHelmError):
    """The API answered with an error status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        details: Any = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code or type or 'error'}: {message}")
        self.status_code = status_code
        self.message = message
        self.type = type
        self.code = code
        self.details = details
        self.headers = headers or httpx.Headers()


class BadRequestError(APIError):
    """400: malformed request."""


class AuthenticationError(APIError):
    """401: missing or invalid API key."""


class PaymentRequiredError(APIError):
    """402: the org's balance does not cover a run."""


class PermissionDeniedError(APIError):
    """403."""


class NotFoundError(APIError):
    """404 (also another org's id)."""


class ConflictError(APIError):
    """409: e.g. cancelling a finished run, an Idempotency-Key reused with another body."""


class UnprocessableEntityError(APIError):
    """422: the request is well-formed but invalid; ``details`` says where."""


class RateLimitError(APIError):
    """429 after the retries; ``retry_after`` is the API's Retry-After in seconds, if it sent one."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers)


class ServerError(APIError):
    """5xx after the retries."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error response, from the API's envelope (or the raw text if it has none)."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or response.reason_phrase)
        kind, code, details = err.get("type"), err.get("code"), err.get("details")
    else:
        # API Gateway's own answers ({"message": "..."}) and proxies' HTML pages.
        message = (body.get("message") if isinstance(body, dict) else None) or response.text[:500] or "error"
        kind = code = details = None
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, message, type=kind, code=code, details=details, headers=response.headers)


class RunWaitTimeout(OpenHelmError):
    """``wait`` ran out of time before the run finished; ``run`` is its last state (still going)."""

    def __init__(self, run: Any, timeout: float) -> None:
        super().__init__(f"run {run.id} is still {run.status.value} after {timeout:g} s")
        self.run = run
        self.timeout = timeout
