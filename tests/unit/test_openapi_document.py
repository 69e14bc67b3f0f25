"""Every operation in the OpenAPI document states every status it can answer, with its schema
(issue 15): a route added without its responses fails here, not in a client generator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.api.app import openapi_json
from shared.api.routes.meta import PUBLIC_PATHS

DOC = json.loads(openapi_json())
OPERATIONS = [(method.upper(), path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()]
ENVELOPE = "#/components/schemas/ErrorResponse"
# What the guard and the stage throttle can answer on any route, and what auth adds.
EVERY_ROUTE = {"400", "405", "413", "429"}
AUTHENTICATED = EVERY_ROUTE | {"401", "422", "503"}


def ids(item: tuple[str, str, Any]) -> str:
    return f"{item[0]} {item[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_every_operation_documents_a_success_with_its_schema(operation: tuple[str, str, Any]) -> None:
    method, path, op = operation
    successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
    assert successes, f"{method} {path} documents no success response"
    for status, response in successes.items():
        if status == "204":
            assert "content" not in response, f"{method} {path}: a 204 has no body"
        else:
            # The one page (the run viewer, opened by a signed link in a browser) answers HTML.
            media = "text/html" if "text/html" in response["content"] else "application/json"
            schema = response["content"][media]["schema"]
            assert schema and schema != {}, f"{method} {path} {status} has no schema"


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_every_operation_documents_the_errors_it_can_answer_in_the_envelope(operation: tuple[str, str, Any]) -> None:
    method, path, op = operation
    public = path in PUBLIC_PATHS or op.get("security") == []
    expected = EVERY_ROUTE if public else AUTHENTICATED
    assert expected <= set(op["responses"]), f"{method} {path} lacks {sorted(expected - set(op['responses']))}"
    if "{" in path:
        assert "404" in op["responses"], f"{method} {path} names a resource but documents no 404"
    for status, response in op["responses"].items():
        if status.startswith(("4", "5")) and "text/html" not in response["content"]:
            assert ENVELOPE in json.dumps(response["content"]), f"{method} {path} {status} is not the envelope"
    assert "Allow" in op["responses"]["405"].get("headers", {})


def test_no_operation_documents_a_body_powertools_never_sends() -> None:
    assert "HTTPValidationError" not in json.dumps(DOC)
    assert not [p for p in DOC["paths"] if p.startswith("/internal")]


def test_rules_the_schemas_cannot_state_are_listed_with_their_codes() -> None:
    codes = {rule["code"] for rule in DOC["x-openhelm-rules"]}
    assert {"invalid_output_schema", "webhook_url_not_allowed", "replay_steps_invalid"} <= codes
    for code in codes:
        assert f"`{code}`" in DOC["info"]["description"]
