"""Schemathesis hooks for tests/devstack/test_devstack_contract.py (loaded via SCHEMATHESIS_HOOKS).

One check is tuned, and only for the rules the document states in words: `positive_data_acceptance`
expects a request that fits the schemas to be accepted, but some rules cannot be written as JSON
Schema (a project that must exist, an output_schema that must itself be valid, budgets within the
org's limits ...). The document lists them under ``x-openhelm-rules`` with the code each is refused
with; a 422 (or 400) carrying one of those codes (as ``error.code`` or every ``details[].type``) is the
documented answer, not a failure. Any other refusal of schema-valid data still fails.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance


def _rule_codes(case: Any) -> set[str]:
    raw = case.operation.schema.raw_schema
    return {rule["code"] for rule in raw.get("x-openhelm-rules", [])}


def _is_documented_rule(response: Any, case: Any) -> bool:
    if response.status_code not in (400, 422):
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    codes = _rule_codes(case)
    if error.get("code") in codes:
        return True
    details = error.get("details")
    types = {d.get("type") for d in details if isinstance(d, dict)} if isinstance(details, list) else set()
    return bool(types) and types <= codes


@schemathesis.check
def positive_data_acceptance_except_documented_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    if _is_documented_rule(response, case):
        return None
    return positive_data_acceptance(ctx, response, case)  # type: ignore[no-any-return]
