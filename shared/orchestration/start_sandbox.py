"""StartSandbox: mint the run token, start the sandbox with the run spec, mark the run running.

Runs as a ``lambda:invoke.waitForTaskToken`` task: it returns at once, and the execution then waits,
with no compute, until the agent's completion callback sends the task token back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared import tokens
from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import EventPublishFailed
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.orchestration.errors import RunCancelled, SandboxStartFailed
from shared.runs.lifecycle import mark_running
from shared.sandbox.base import SandboxError, SandboxRequest
from shared.services import Services
from shared.sessions.tasks import deliver_task

log = get_logger(__name__)


def run_spec(run: RunRecord, deadline_at: float | None = None) -> dict[str, Any]:
    """The spec the agent reads (docs/agent-contract.md). Holds no credentials. ``deadline_at``: when
    the run's time is up by our clock (the agent counts from there, not from its own start)."""
    return {
        "deadline_at": deadline_at,
        "run_id": run.id,
        "prompt": run.prompt,
        "inputs": run.inputs,
        "start_url": run.start_url,
        "output_schema": run.output_schema,
        "model": run.model,
        "max_steps": run.max_steps,
        "max_duration_s": run.max_duration_s,
        "allowed_domains": run.allowed_domains,
        "blocked_domains": run.blocked_domains,
        "replay": {"steps": run.replay} if run.replay else None,
    }


def start_sandbox(svc: Services, run_id: str, org_id: str, task_token: str) -> dict[str, Any]:
    try:
        # Store the task token first: from here a cancel can fail the waiting task.
        run = svc.runs.transition(
            org_id,
            run_id,
            from_statuses=[RunStatus.starting],
            to_status=None,
            fields={"task_token": task_token},
        )
    except ConditionalCheckFailed as exc:
        raise RunCancelled(f"run {run_id} is no longer starting") from exc

    lifetime = run.max_duration_s + svc.settings.sandbox_grace_s
    now_s = int(svc.clock.now().timestamp())
    token = tokens.mint(svc.settings.token_secret(), run_id, org_id, expires_at=now_s + lifetime + 300)
    request = SandboxRequest(
        run_id=run_id,
        org_id=org_id,
        timeout_s=lifetime,
        # From before the sandbox starts, so the agent ends by started_at + max_duration_s.
        run_spec=run_spec(run, svc.clock.now().timestamp() + run.max_duration_s),
        control_url=svc.settings.control_url or run.control_url or svc.settings.sandbox_control_url,
        run_token=token,
        llm_url=svc.settings.sandbox_llm_url,
        allowed_domains=tuple(run.allowed_domains),
        blocked_domains=tuple(run.blocked_domains),
        metadata={"run_id": run_id, "org_id": org_id},
    )
    try:
        # A session's task goes to the session's live sandbox instead of a new one.
        info = deliver_task(svc, run, request) if run.session_id else svc.sandbox.start(request)
    except SandboxError as exc:
        log.warning("sandbox_start_failed", run_id=run_id, error=str(exc))
        raise SandboxStartFailed(str(exc)) from exc

    try:
        mark_running(
            svc,
            org_id,
            run_id,
            {
                "sandbox_id": info.sandbox_id,
                "sandbox_provider": info.provider,
                "started_at": svc.clock.now().isoformat(),
            },
            # Listed by the reaper until the run ends.
            running_until=svc.clock.now() + timedelta(seconds=lifetime),
        )
    except ConditionalCheckFailed as exc:  # cancelled while the sandbox was starting
        if not run.session_id:  # a session's sandbox outlives its tasks
            svc.sandbox.kill(info.sandbox_id)
        raise RunCancelled(f"run {run_id} was cancelled while its sandbox started") from exc
    try:
        svc.events.publish("Run Started", {"run_id": run_id, "org_id": org_id, "sandbox": info.provider})
    except EventPublishFailed as exc:  # integrations may miss an event; the run goes on
        log.error("run_started_event_failed", run_id=run_id, error=exc.message)
    log.info("sandbox_started", run_id=run_id, sandbox_id=info.sandbox_id, provider=info.provider)
    return {"sandbox_id": info.sandbox_id}
