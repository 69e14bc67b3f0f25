"""LLM gateway Lambda, behind its function URL (not API Gateway: model calls may take minutes).

Parse nothing here: shared.llm_gateway_http turns the function URL event into one gateway call and
shapes the answer. The invocation's remaining time bounds the upstream call, so the function always
answers before its own timeout.
"""

from __future__ import annotations

from typing import Any

from shared.llm_gateway_http import handle
from shared.logging import clear_context
from shared.services import get_services


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return handle(get_services(), event, time_left_s=remaining_ms() / 1000 if remaining_ms else None)
