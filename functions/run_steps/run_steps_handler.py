"""Tasks of the run state machine. Placeholder until the orchestration issue: admits nothing yet."""

from __future__ import annotations

from typing import Any

from shared.logging import get_logger

log = get_logger("run_steps")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log.info("run_step", step=event.get("step"), run_id=event.get("run_id"), org_id=event.get("org_id"))
    return {"step": event.get("step"), "run_id": event.get("run_id"), "ok": True}
