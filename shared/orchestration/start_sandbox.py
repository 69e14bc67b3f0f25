"""StartSandbox: mint the run token, start the sandbox with the run spec, mark the run running.

Runs as a ``lambda:invoke.waitForTaskToken`` task: it returns at once, and the execution then waits,
with no compute, until the agent's completion callback sends the task token back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared import files, profiles, tokens
from shared import secrets as run_secrets
from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import EventPublishFailed
from shared.logging import get_logger, secret_values
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.orchestration.errors import RunCancelled, SandboxStartFailed
from shared.runs.human_input import wait_allowance_s
from shared.runs.lifecycle import mark_running
from shared.sandbox.base import LIVE_VIEW_KEY, SandboxError, SandboxFile, SandboxInfo, SandboxRequest
from shared.services import Services
from shared.sessions.tasks import deliver_task
from shared.viewer.live_secret import sandbox_secret

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
        "persist_profile": run.persist_profile,
        "human_input": run.human_input,
        "tools": run.tools or [],
        "tool_timeout_s": run.tool_timeout_s,
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

    # A run that may wait for answers lives that much longer; its own deadline (max_duration_s with
    # the waits not counted) is what the agent, the gateway and the reaper enforce.
    lifetime = run.max_duration_s + svc.settings.sandbox_grace_s + wait_allowance_s(run)
    now_s = int(svc.clock.now().timestamp())
    token = tokens.mint(svc.settings.token_secret(), run_id, org_id, expires_at=now_s + lifetime + 300)
    # The run's secrets in clear exist from here until the provider has written them into the sandbox.
    secrets = run_secrets.open_sealed(svc, org_id, run)
    attached = [
        SandboxFile(name=f["name"], data=data, content_type=f["content_type"])
        for f, data in files.read_run_files(svc, org_id, run)
    ]
    state = profiles.load_state(svc, org_id, run)
    with secret_values(run_secrets.values(secrets)):
        info = _start(svc, run, run_id, org_id, lifetime, token, secrets, attached, state)

    try:
        mark_running(
            svc,
            org_id,
            run_id,
            {
                "sandbox_id": info.sandbox_id,
                "sandbox_provider": info.provider,
                "live_view": not run.session_id and info.metadata.get(LIVE_VIEW_KEY) == "1",
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


def _start(
    svc: Services,
    run: RunRecord,
    run_id: str,
    org_id: str,
    lifetime: int,
    token: str,
    secrets: list[dict[str, Any]],
    attached: list[SandboxFile],
    state: dict[str, Any] | None,
) -> SandboxInfo:
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
        secrets=secrets,
        files=attached,
        storage_state=state,
        # A one-shot run's frame source (shared/viewer/live.py); a session's task uses its session's.
        live_secret="" if run.session_id else sandbox_secret(svc, run_id),
    )
    try:
        # A session's task goes to the session's live sandbox instead of a new one.
        info = deliver_task(svc, run, request) if run.session_id else svc.sandbox.start(request)
    except SandboxError as exc:
        log.warning("sandbox_start_failed", run_id=run_id, error=str(exc))
        raise SandboxStartFailed(str(exc)) from exc
    return info
