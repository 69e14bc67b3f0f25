"""What the agent reports back over HTTP: progress after each step, completion once at the end."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Conflict
from shared.models.common import RunStatus
from shared.services import Services


class ProgressReport(BaseModel):
    step: int = Field(ge=0, le=10_000)
    url: str | None = Field(None, max_length=4096)
    action: str | None = Field(None, max_length=40)


class CompletionReport(BaseModel):
    """The agent's result.json summary; the control plane re-reads the out dir in Finalize."""

    status: str = Field(pattern="^(succeeded|failed)$")
    error_code: str | None = Field(None, max_length=64)
    steps: int | None = None


def record_progress(svc: Services, org_id: str, run_id: str, report: ProgressReport) -> None:
    progress = {
        "step": report.step,
        "last_url": report.url,
        "last_action": report.action,
        "updated_at": svc.clock.now().isoformat(),
    }
    try:
        run = svc.runs.transition(
            org_id, run_id, from_statuses=[RunStatus.running], to_status=None, fields={"progress": progress}
        )
    except ConditionalCheckFailed as exc:
        raise Conflict("the run is not running; stop", code="run_not_active") from exc
    if run.get("task_token"):
        svc.orchestrator.heartbeat(run["task_token"])


def complete(svc: Services, org_id: str, run_id: str, report: CompletionReport) -> None:
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run["status"] != RunStatus.running.value or not run.get("task_token"):
        raise Conflict("the run is not running", code="run_not_active")
    output: dict[str, Any] = {"status": report.status, "error_code": report.error_code, "steps": report.steps}
    if not svc.orchestrator.succeed_task(run["task_token"], output):
        raise Conflict("the run's task already ended", code="already_completed")
