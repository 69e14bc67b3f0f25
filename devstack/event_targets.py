"""What an EventBridge rule hands its targets: the event envelope as EventBridge delivers it, and a
target's Input / InputPath / InputTransformer applied to it. Used by the local stack's rule delivery
(devstack/patches.py), which moto does not do for Lambda, Step Functions and shaped SQS targets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it (ISO time, no moto bookkeeping fields)."""
    out = {k: v for k, v in event.items() if k != "ingestion-time"}
    when = out.get("time")
    if isinstance(when, int | float):
        out["time"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime):
        out["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def target_input(target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> Any:
    """Apply a target's Input / InputPath / InputTransformer like EventBridge does."""
    if not transform_input:
        return event
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


def json_path(event: Any, path: str) -> Any:
    """The dotted subset of JSONPath that InputPath uses in practice (``$.detail.run``)."""
    value = event
    for part in [p for p in path.lstrip("$").split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    return value
