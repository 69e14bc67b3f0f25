"""Sessions Lambda: the /v1/sessions routes that start, command or kill a session's sandbox, and the
session agent's reports (template.yaml routes them here; every other route is the API function's).

The same resolver as the API function (shared.api.app): the routes a request may take are decided by
API Gateway, not here. This function differs in what it carries: the E2B SDK (SandboxLayer), the E2B
key and the IAM for the sandbox's side of a session (docs/sessions.md, "Functions")."""

from __future__ import annotations

from typing import Any

from shared.api.app import handle


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
