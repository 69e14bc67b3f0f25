"""Run state machine tasks (statemachine/run.asl.json): each state sends its own name, in snake_case,
as the step (Admit: admit, StartSandbox: start_sandbox, Finalize: finalize, Cleanup: cleanup).

Exceptions propagate on purpose: Lambda reports the class name as the error type, which the
state machine's Retry and Catch match on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.logging import bind_context, clear_context
from shared.orchestration.admit import admit
from shared.orchestration.cleanup import cleanup
from shared.orchestration.finalize import finalize
from shared.orchestration.start_sandbox import start_sandbox
from shared.services import Services, get_services

# step -> its task, called with the event the state sends (statemachine/run.asl.json, Payload).
STEPS: dict[str, Callable[[Services, dict[str, Any]], dict[str, Any]]] = {
    "admit": lambda svc, e: admit(svc, e["run_id"], e["org_id"]),
    "start_sandbox": lambda svc, e: start_sandbox(svc, e["run_id"], e["org_id"], e["task_token"]),
    "finalize": lambda svc, e: finalize(svc, e["run_id"], e["org_id"], e.get("callback")),
    "cleanup": lambda svc, e: cleanup(svc, e["run_id"], e["org_id"], e.get("error")),
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    run_id, org_id, step = event["run_id"], event["org_id"], event["step"]
    bind_context(run_id=run_id, org_id=org_id, step=step)
    task = STEPS.get(step)
    if task is None:
        raise ValueError(f"unknown step {step!r}")
    return task(get_services(), event)
