"""StartSandbox for a session's task: instead of starting a sandbox, hand the run's spec and its
own per-run token to the session's live agent (one mailbox command). The agent then reports
progress and completion on the run's callback paths, exactly as a one-shot run does."""

from __future__ import annotations

from shared.errors import OpenHelmError
from shared.models.run_record import RunRecord
from shared.models.sessions import SessionStatus
from shared.sandbox.base import SandboxInfo, SandboxRequest, SandboxStartError
from shared.services import Services
from shared.sessions import commands


def deliver_task(svc: Services, run: RunRecord, request: SandboxRequest) -> SandboxInfo:
    """Push the task into its session's sandbox; SandboxStartError when the session cannot take it
    (closed meanwhile, or another task holds it): the run then fails like a sandbox that did not start."""
    org_id, session_id = request.org_id, run.session_id
    assert session_id is not None
    session = svc.sessions.get(org_id, session_id, consistent=True)
    if session is None or session.get("current_task") != run.id:
        raise SandboxStartError(f"session {session_id} no longer holds this task")
    if SessionStatus(session["status"]) not in (SessionStatus.busy, SessionStatus.paused):
        raise SandboxStartError(f"session {session_id} is {session['status']}")
    try:
        commands.send(svc, session["sandbox_id"], "task", run_id=run.id, spec=request.run_spec, token=request.run_token)
    except OpenHelmError as exc:
        raise SandboxStartError(f"session {session_id}: {exc.message}") from exc
    return SandboxInfo(
        sandbox_id=session["sandbox_id"],
        run_id=run.id,
        provider=session.get("sandbox_provider") or svc.sandbox.name,
        started_at=svc.clock.now(),
        metadata={"session_id": session_id},
    )
