"""What the sandbox reports back over HTTP: progress after each step, completion once at the end,
and an exit report when the agent ended without its completion (docs/agent-contract.md).

The moment the agent's work ended, as the control plane's clock saw it, is recorded once on the
run as ``sandbox_ended_at`` (the completion's arrival, the exit report's arrival, or the reaper's
last sign of life): sandbox seconds are billed up to it, not up to whenever the end was noticed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Conflict
from shared.models.common import Model, RunStatus
from shared.models.run_record import RunRecord
from shared.services import Services


class ProgressReport(Model):
    step: int = Field(ge=0, le=10_000)
    url: str | None = Field(None, max_length=4096)
    action: str | None = Field(None, max_length=40)


class CompletionReport(Model):
    """The agent's result.json summary; the control plane re-reads the out dir in Finalize."""

    status: str = Field(pattern="^(succeeded|failed)$")
    error_code: str | None = Field(None, max_length=64)
    steps: int | None = None


class ExitReport(Model):
    """The agent ended without handing in its result: from the in-sandbox supervisor or the provider."""

    reporter: Literal["supervisor", "provider"]
    exit_code: int | None = Field(None, ge=-1024, le=1024)
    signal: int | None = Field(None, ge=1, le=128)
    # The provider's hard lifetime ran out (max_duration_s + grace): a timeout, not a crash.
    timed_out: bool = False
    ran_s: float | None = Field(None, ge=0, le=10**7)
    # Processes of the sandbox the kernel's OOM killer ended (the local provider's cgroup says).
    oom_kills: int | None = Field(None, ge=0, le=10**6)


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
    if run.task_token:
        svc.orchestrator.heartbeat(run.task_token)


def complete(svc: Services, org_id: str, run_id: str, report: CompletionReport) -> None:
    run = _end_agent(svc, org_id, run_id, {})
    output: dict[str, Any] = {"status": report.status, "error_code": report.error_code, "steps": report.steps}
    if not svc.orchestrator.succeed_task(_token(run), output):
        raise Conflict("the run's task already ended", code="already_completed")


def report_exit(svc: Services, org_id: str, run_id: str, report: ExitReport) -> None:
    """End a running run whose agent exited without a completion: Finalize reads whatever the agent
    left (a result.json written just before it died still counts) and otherwise fails the run with
    AGENT_CRASHED (AGENT_TIMEOUT when the provider's lifetime ran out). Conflict if the run already
    had its end (the completion arrived first, or another report)."""
    exit_info = report.model_dump(exclude_none=True)
    run = _end_agent(svc, org_id, run_id, {"agent_exit": exit_info})
    if not svc.orchestrator.succeed_task(_token(run), {"status": "exited", "exit": exit_info}):
        raise Conflict("the run's task already ended", code="already_completed")


def _token(run: RunRecord) -> str:
    assert run.task_token is not None  # a running run whose end is recorded has its task token
    return run.task_token


def _end_agent(svc: Services, org_id: str, run_id: str, fields: dict[str, Any]) -> RunRecord:
    """Record ``sandbox_ended_at`` = now on a running run (first report wins); the run. Conflict if
    the run is not running. An end already recorded is kept, and the caller still tries to wake the
    task: a completion retried after the orchestrator failed once must get through, while one whose
    task already ended gets a False from ``succeed_task``. The conditional write comes first and
    returns the run, so the usual completion reads nothing; the run is read only when it fails."""
    try:
        return svc.runs.mark_sandbox_ended(org_id, run_id, svc.clock.now(), fields, require_task_token=True)
    except ConditionalCheckFailed:
        pass
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.status != RunStatus.running or not run.task_token:
        raise Conflict("the run is not running", code="run_not_active")
    return run


class E2BEvent(Model):
    """The part of an E2B lifecycle webhook delivery we read (docs: sandbox/lifecycle-events-webhooks)."""

    type: str = Field(max_length=100)
    sandboxId: str = Field(max_length=200)  # E2B's field names
    timestamp: datetime | None = None
    eventData: dict[str, Any] | None = None


def e2b_signature_valid(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """E2B signs a delivery as the unpadded base64 of SHA-256(secret + raw body) (``e2b-signature``).
    Not an HMAC, so a length extension could append bytes to a seen body; what follows a JSON
    object is refused by the parser, so such a forgery never parses."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hashlib.sha256(secret.encode() + raw_body).digest()).decode().rstrip("=")
    return hmac.compare_digest(expected, signature.strip().rstrip("="))


def e2b_lifecycle(svc: Services, event: E2BEvent) -> bool:
    """A sandbox of ours was killed (E2B's timeout, a failure, a kill): end its run if it is still
    running, billed up to the kill. True if this ended a run. The killed sandbox must be the run's
    own (the metadata names the run; the sandbox id must match the run's record)."""
    if event.type != "sandbox.lifecycle.killed":
        return False
    metadata = (event.eventData or {}).get("sandbox_metadata") or {}
    run_id, org_id = metadata.get("run_id"), metadata.get("org_id")
    if not (isinstance(run_id, str) and isinstance(org_id, str)):
        return False
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.sandbox_id != event.sandboxId:
        return False
    if run.status != RunStatus.running or not run.task_token:
        return False
    now = svc.clock.now()
    killed_at = min(event.timestamp, now) if event.timestamp and event.timestamp.tzinfo else now
    exit_info = {"reporter": "e2b", "sandbox_killed": True}
    # If the supervisor's report or the completion came first, its end stands; still wake the task.
    with contextlib.suppress(ConditionalCheckFailed):
        run = svc.runs.mark_sandbox_ended(org_id, run_id, killed_at, {"agent_exit": exit_info})
    return svc.orchestrator.succeed_task(_token(run), {"status": "exited", "exit": exit_info})
