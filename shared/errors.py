"""Domain exceptions. Each carries the HTTP status, a stable machine code and optional details.

Domain code raises these; the API's one error-mapping module turns them into the error envelope
``{"error": {"type", "code", "message", "details"}}``. Data access turns botocore errors into these
(``raise ... from exc``) so no layer above it sees AWS exception types.

The run state machine's error names (statemachine/run.asl.json). A step's Lambda reports the
class name of the exception it raised (``type(exc).__name__``, exactly: a subclass reports its own
name) as the error, which the ASL's Retry and Catch match:

- ``ServiceUnavailable``: retried (Admit, Finalize). Raised by data access when DynamoDB (or another
  AWS service, after botocore's own retries) is unreachable. Step code that wants a transient
  failure retried raises this class itself, not a subclass.
- ``SandboxStartFailed`` (shared/orchestration/errors.py): retried by StartSandbox, then Cleanup records
  ``SANDBOX_START_FAILED``.
- ``RunCancelled`` (shared/orchestration/errors.py) and the codes sent with SendTaskFailure
  (``CANCELLED``, ``AGENT_CRASHED``, ``AGENT_TIMEOUT``, ``BUDGET_EXCEEDED``): caught, recorded by Cleanup.
- ``States.Timeout`` / ``States.HeartbeatTimeout`` (Step Functions' own): caught, recorded by Cleanup.

shared/orchestration/errors.py maps each of these to the run's error code (``ERROR_CODES``);
tests/unit/test_asl_contract.py checks that every name the ASL matches is defined there or here.
"""

from __future__ import annotations

from typing import Any


class OpenHelmError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}


class BadRequest(OpenHelmError):
    status, type, code = 400, "invalid_request_error", "bad_request"


class Unauthorized(OpenHelmError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class PaymentRequired(OpenHelmError):
    status, type, code = 402, "billing_error", "insufficient_balance"


class Forbidden(OpenHelmError):
    status, type, code = 403, "permission_error", "forbidden"


class NotFound(OpenHelmError):
    status, type, code = 404, "not_found_error", "not_found"


class MethodNotAllowed(OpenHelmError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class Conflict(OpenHelmError):
    status, type, code = 409, "conflict_error", "conflict"


class PayloadTooLarge(OpenHelmError):
    status, type, code = 413, "invalid_request_error", "payload_too_large"


class Unprocessable(OpenHelmError):
    status, type, code = 422, "invalid_request_error", "validation_failed"


class RateLimited(OpenHelmError):
    status, type, code = 429, "rate_limit_error", "rate_limited"


class ServiceUnavailable(OpenHelmError):
    status, type, code = 503, "api_error", "service_unavailable"


class EventPublishFailed(ServiceUnavailable):
    """The event bus refused or could not be reached. Callers that can go on without the event
    (every run step) catch this type and log ``*_event_failed``."""

    code = "events_unavailable"
