"""Checking done.result against the run's output_schema (the control plane's Finalize uses the same rule).

The rule: the schema's own draft (``$schema``, else the latest draft jsonschema knows), no format
assertions. A null schema accepts any JSON value.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema.validators import validator_for

MAX_LISTED_ERRORS = 10


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (dict, list)) else ""
    return f" {text[:limit]}{'…' if len(text) > limit else ''}" if text else ""


def _holds_json_of(value: Any, expected: Any) -> bool:
    """A string whose JSON parses to a value of the expected type(s) (models often double-encode)."""
    if not isinstance(value, str):
        return False
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    names = expected if isinstance(expected, list) else [expected]
    kind = json_type(parsed)
    return kind in names or (kind == "integer" and "number" in names)


def _describe(error: Any) -> str:
    """What to change, concisely: the expected type against the given one, the missing key..."""
    path = _path(error.absolute_path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "type":
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        hint = f"expected {names}, got {json_type(instance)}{_short(instance)}"
        if _holds_json_of(instance, expected):
            hint += f" (a JSON string: give the {names} itself, not encoded as a string)"
        return f"at {path}: {hint}"
    if kind == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        return (
            f"at {path}: missing required propert{'y' if len(missing) == 1 else 'ies'} {', '.join(map(repr, missing))}"
        )
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list((error.schema.get("properties") or {}).keys())
        extra = [k for k in instance if k not in allowed]
        return f"at {path}: remove {', '.join(map(repr, extra))} (allowed: {', '.join(allowed) or 'none'})"
    if kind == "enum":
        return f"at {path}: expected one of {json.dumps(expected, ensure_ascii=False)[:200]}, got{_short(instance)}"
    return f"at {path}: {error.message[:300]}"


def schema_errors(schema: dict[str, Any] | bool | None, value: Any) -> list[str]:
    """What to change so that ``value`` validates (empty when valid), at most ``MAX_LISTED_ERRORS``,
    each as ``at <JSON path>: <expected vs given>``."""
    if schema is None:
        return []
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [_describe(e) for e in errors[:MAX_LISTED_ERRORS]]


def check_result(schema: dict[str, Any] | bool | None, value: Any) -> tuple[Any, list[str]]:
    """(value to keep, problems) for a done.result. A JSON string of a schema-valid value is that
    value (models often double-encode); a JSON string of an invalid object or array gets the
    problems of what it encodes, since that is what the model has to fix."""
    problems = schema_errors(schema, value)
    if not problems or not isinstance(value, str):
        return value, problems
    try:
        parsed = json.loads(value)
    except ValueError:
        return value, problems
    inner = schema_errors(schema, parsed)
    if not inner:
        return parsed, []
    if isinstance(parsed, (dict, list)):
        return value, ["result is a string holding JSON: give the JSON value itself", *inner]
    return value, problems
