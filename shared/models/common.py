"""Models shared by every resource: the error envelope, enums, field types and validators."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_DOMAIN_PATTERN = re.compile(r"^(\*\.)?(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


class RunStatus(StrEnum):
    queued = "queued"
    starting = "starting"
    running = "running"
    needs_input = "needs_input"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled})
ACTIVE_STATUSES = frozenset(set(RunStatus) - TERMINAL_STATUSES)


def _domain_pattern(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _DOMAIN_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a domain pattern: use a host name such as 'example.com' or '*.example.com'")
    return value


DomainPattern = Annotated[str, AfterValidator(_domain_pattern)]
DomainList = Annotated[list[DomainPattern], Field(max_length=100)]


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 16:
        raise ValueError("at most 16 metadata pairs")
    for k, v in value.items():
        if not 1 <= len(k) <= 40:
            raise ValueError(f"metadata key {k[:40]!r} must be 1..40 characters")
        if len(v) > 500:
            raise ValueError(f"metadata value of {k!r} must be at most 500 characters")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_metadata)]


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    type: str = Field(description="Error class: invalid_request_error, authentication_error, ...")
    code: str = Field(description="Stable machine-readable code, e.g. run_not_found.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(None, description="Where the error is (field paths, limits), when known.")


class ErrorResponse(BaseModel):
    """The one error envelope every endpoint answers with."""

    error: ErrorBody
