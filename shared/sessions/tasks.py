"""StartSandbox for a session's task: instead of starting a sandbox, hand the run's spec and its
own per-run token to the session's live agent (one mailbox command). The agent then reports
progress and completion on the run's callback paths, exactly as a one-shot run does.

The task's files are placed into the running sandbox first (the provider's ``put_files``, beside
the mailbox), and its secrets travel in the task command as a one-shot run's travel in its spec
file: the command is removed from the mailbox once the agent has taken it (its reply), so no copy
of a value outlives the task in the sandbox's files."""

from __future__ import annotations

import json

from shared.errors import OpenHelmError
from shared.logging import get_logger
from shared.models.run_record import RunRecord
from shared.models.sessions import SessionStatus
from shared.sandbox.base import SandboxError, SandboxInfo, SandboxRequest, SandboxStartError, spec_document
from shared.services import Services
from shared.sessions import commands

log = get_logger(__name__)
# The idle agent takes a task at once; this bounds the wait for its acknowledgement.
TAKEN_WITHIN_S = 5.0


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
    sandbox_id = session["sandbox_id"]
    files_dir = ""
    if request.files:
        try:
            files_dir = svc.sandbox.put_files(sandbox_id, f"files-{run.id}", request.files)
        except SandboxError as exc:
            raise SandboxStartError(f"session {session_id}: the task's files could not be placed: {exc}") from exc
    # The spec as a one-shot run's spec file holds it: with the secrets and where the files are.
    spec = json.loads(spec_document(request, files_dir))
    try:
        command_id = commands.send(svc, sandbox_id, "task", run_id=run.id, spec=spec, token=request.run_token)
    except OpenHelmError as exc:
        raise SandboxStartError(f"session {session_id}: {exc.message}") from exc
    if request.secrets:
        _remove_once_taken(svc, sandbox_id, command_id, run.id)
    return SandboxInfo(
        sandbox_id=sandbox_id,
        run_id=run.id,
        provider=session.get("sandbox_provider") or svc.sandbox.name,
        started_at=svc.clock.now(),
        metadata={"session_id": session_id},
    )


def _remove_once_taken(svc: Services, sandbox_id: str, command_id: str, run_id: str) -> None:
    try:
        taken = commands.await_reply(svc, sandbox_id, command_id, TAKEN_WITHIN_S)
    except OpenHelmError:  # the sandbox is gone, and the command with it
        return
    if taken is None:  # still queued: it goes with the sandbox (the session's end at the latest)
        log.warning("session_task_not_taken_yet", run_id=run_id, sandbox_id=sandbox_id)
        return
    svc.sandbox.remove_command(sandbox_id, command_id)
