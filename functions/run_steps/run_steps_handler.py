"""Run state machine tasks: admit, start_sandbox, finalize, fail (see statemachine/run.asl.json).

Exceptions propagate on purpose: Lambda reports the class name as the error type, which the
state machine's Retry and Catch match on.
"""

from __future__ import annotations

from typing import Any

from shared.logging import bind_context, clear_context, get_logger
from shared.orchestration.admission import admit
from shared.orchestration.finalize import cleanup, finalize
from shared.orchestration.sandboxing import start_sandbox
from shared.services import get_services

log = get_logger("run_steps")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    run_id, org_id, step = event["run_id"], event["org_id"], event["step"]
    bind_context(run_id=run_id, org_id=org_id, step=step)
    svc = get_services()
    if step == "admit":
        return admit(svc, run_id, org_id)
    if step == "start_sandbox":
        return start_sandbox(svc, run_id, org_id, event["task_token"])
    if step == "finalize":
        return finalize(svc, run_id, org_id, event.get("callback"))
    if step == "fail":
        return cleanup(svc, run_id, org_id, event.get("error"))
    raise ValueError(f"unknown step {step!r}")
