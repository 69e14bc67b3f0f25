"""Models shared by every resource: the error envelope, enums, field types and validators."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.domains import parse_pattern


class RunStatus(StrEnum):
    queued = "queued"
    starting = "starting"
    running = "running"
    needs_input = "needs_input"
    waiting_for_tool = "waiting_for_tool"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled})
ACTIVE_STATUSES = frozenset(set(RunStatus) - TERMINAL_STATUSES)


def _domain_pattern(value: str) -> str:
    # The one rule (shared/domains.py), the same the agent, the egress proxy and E2B's rules apply.
    # Its own error type: a value can fit the documented shape and still break the rule (IDNA, a
    # numeric last label), which the document lists under x-openhelm-rules.
    try:
        if not _DOMAIN_SCHEMA_PATTERN.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a domain pattern: use a host name such as 'example.com' or '*.example.com'"
            )
        return parse_pattern(value)
    except ValueError as exc:
        raise PydanticCustomError("invalid_domain_pattern", "{reason}", {"reason": str(exc)}) from None


# The shape the document promises (any case, an optional trailing dot, labels of 1..63 letters,
# digits, inner hyphens or non-ASCII letters, "*", an IP address or a CIDR network); the validator
# takes what matches it and is a valid pattern of shared/domains.py (IDNA-encodable, the last label
# not numeric unless the whole is an address), stored in canonical form.
_LABEL = r"[A-Za-z0-9\u00a1-\uffff]([A-Za-z0-9\u00a1-\uffff-]{0,61}[A-Za-z0-9\u00a1-\uffff])?"
_NAME = rf"(\*\.)?{_LABEL}(\.{_LABEL})*\.?"
_ADDRESS = r"\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?|[0-9.]+/[0-9]{1,2}"
DOMAIN_SCHEMA_PATTERN = rf"^(\*|{_NAME}|{_ADDRESS})$"
_DOMAIN_SCHEMA_PATTERN = re.compile(DOMAIN_SCHEMA_PATTERN)
DomainPattern = Annotated[
    str,
    AfterValidator(_domain_pattern),
    WithJsonSchema({"type": "string", "maxLength": 255, "pattern": DOMAIN_SCHEMA_PATTERN}),
]
DomainList = Annotated[list[DomainPattern], Field(max_length=100)]


# C0 and C1 control characters and DEL: meaningless in a name, a key or a URL, and a NUL truncates
# the value for any C code that reads it. Free text (prompts, descriptions, metadata values, inputs)
# is kept exactly as given: it is handed on verbatim and JSON-escaped wherever it is stored or sent.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# A name (project, job, model): 1.. characters, no control characters.
Name = Annotated[str, Field(pattern=NO_CONTROL_PATTERN)]


def url_without_controls(value: object) -> object:
    # Before parsing: the URL parser would percent-encode a NUL or a newline and so hide it.
    if isinstance(value, str) and (found := _CONTROL.search(value)):
        raise ValueError(f"a URL may not contain the control character U+{ord(found.group()):04X}")
    return value


WebUrl = Annotated[HttpUrl, BeforeValidator(url_without_controls)]

MAX_METADATA_PAIRS = 16
MetadataKey = Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL_PATTERN)]
MetadataValue = Annotated[str, Field(max_length=500)]
# Stated as one JSON Schema so clients and contract tests see every rule (pydantic would put the key
# pattern under patternProperties, which leaves other keys unconstrained in the document).
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=MAX_METADATA_PAIRS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_METADATA_PAIRS,
            "propertyNames": {"minLength": 1, "maxLength": 40, "pattern": NO_CONTROL_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": 500},
            "description": "Up to 16 string pairs; keys 1..40 characters without control characters, "
            "values at most 500 characters.",
        }
    ),
]


def _iso_timestamp(value: object) -> object:
    # pydantic also reads a number as Unix seconds; the document promises an ISO 8601 date-time.
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an ISO 8601 timestamp such as 2026-01-31T12:00:00Z")
    return value


IsoTimestamp = Annotated[datetime, BeforeValidator(_iso_timestamp)]


class Model(BaseModel):
    """Base of the API's models. Each builds its validator on first use, not at import, for cold
    start: building them all was about a fifth of the API function's import (bench/layer_import.py),
    and a request uses a few."""

    model_config = ConfigDict(defer_build=True)


class ApiModel(Model):
    """Base of request bodies: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Model):
    type: str = Field(description="Error class: invalid_request_error, authentication_error, ...")
    code: str = Field(description="Stable machine-readable code, e.g. run_not_found.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(None, description="Where the error is (field paths, limits), when known.")


class ErrorResponse(Model):
    """The one error envelope every endpoint answers with."""

    error: ErrorBody
