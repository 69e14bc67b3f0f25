"""Cleanup: the state machine's Catch path. Records the error code of whatever ended the run (the
error names are documented in shared/errors.py, mapped to codes in shared/orchestration/errors.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.billing import budget
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import RunError
from shared.orchestration.errors import ERROR_CODES
from shared.orchestration.finalize import usage_of
from shared.runs.lifecycle import finish_run
from shared.services import Services

log = get_logger(__name__)


def cleanup(svc: Services, run_id: str, org_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """The Catch path: record the error code. Safe to run more than once. The sandbox is left to the
    evidence function (copy what the agent left, then kill), like Finalize does."""
    error = error or {}
    err_type = str(error.get("Error") or "AGENT_CRASHED")
    cause = str(error.get("Cause") or "")
    code = ERROR_CODES.get(err_type, "AGENT_CRASHED")
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        return {"status": "missing"}
    if code == "AGENT_TIMEOUT" and run.started_at and _before_deadline(svc, run):
        code = "AGENT_CRASHED"  # heartbeat expiry (moto reports it as States.Timeout too)
    code = budget.error_code(run, code)
    if not run.status.is_terminal:
        message = _message(code, err_type, cause)
        status = RunStatus.cancelled if code == "CANCELLED" else RunStatus.failed
        fields = {"error": RunError(code=code, message=message).model_dump(), "usage": usage_of(svc, run)}
        finish_run(svc, org_id, run_id, status, fields)
        log.warning("run_failed", run_id=run_id, code=code, error_type=err_type)
    return {"code": code}


def _before_deadline(svc: Services, run: RunRecord) -> bool:
    assert run.started_at is not None
    return svc.clock.now() < run.started_at + timedelta(seconds=run.max_duration_s)


def _message(code: str, err_type: str, cause: str) -> str:
    known = {
        "SANDBOX_START_FAILED": "the sandbox could not be started",
        "AGENT_TIMEOUT": "the agent did not finish within max_duration_s",
        "BUDGET_EXCEEDED": "the run reached its max_cost_usd",
        "AGENT_CRASHED": "the agent stopped without reporting a result",
        "CANCELLED": "cancelled by request",
    }
    text = known.get(code, err_type)
    if cause and code != "CANCELLED":
        text += f": {cause[:300]}"
    return text
