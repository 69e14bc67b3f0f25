"""Checks a customer's ``output_schema`` against its JSON Schema metaschema."""

from __future__ import annotations

from typing import Any

from shared.errors import Unprocessable


def check_output_schema(schema: dict[str, Any], field: str = "output_schema") -> None:
    """Raise Unprocessable saying where the schema breaks its metaschema (draft from ``$schema``,
    2020-12 when absent)."""
    # Imported on the first schema, for cold start: jsonschema (with attrs, referencing and its
    # format checkers) is about a tenth of the API function's import, and most requests never need it.
    from jsonschema import validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    errors = sorted(cls(cls.META_SCHEMA).iter_errors(schema), key=lambda e: list(e.absolute_path))
    if errors:
        details = [
            {"loc": [field, *[str(p) for p in e.absolute_path]], "msg": e.message, "validator": e.validator}
            for e in errors[:10]
        ]
        where = "/".join(details[0]["loc"])
        raise Unprocessable(
            f"{field} is not a valid JSON Schema: at {where}: {errors[0].message}",
            code="invalid_output_schema",
            details=details,
        )
