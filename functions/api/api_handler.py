"""API Lambda: the public HTTP API behind API Gateway (HTTP API, payload 2.0)."""

from __future__ import annotations

from typing import Any

from shared.api.app import handle


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
