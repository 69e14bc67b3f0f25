"""Checking done.result against the run's output_schema (the control plane's Finalize uses the same rule).

The rule: the schema's own draft (``$schema``, else the latest draft jsonschema knows), no format
assertions. A null schema accepts any JSON value.
"""

from __future__ import annotations

from typing import Any

from jsonschema.validators import validator_for

MAX_LISTED_ERRORS = 10


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def schema_errors(schema: dict[str, Any] | bool | None, value: Any) -> list[str]:
    """Human-readable validation errors of ``value`` (empty when valid), at most ``MAX_LISTED_ERRORS``."""
    if schema is None:
        return []
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"at {_path(e.absolute_path)}: {e.message[:300]}" for e in errors[:MAX_LISTED_ERRORS]]
