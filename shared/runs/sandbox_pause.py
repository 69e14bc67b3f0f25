"""A run's sandbox paused through a long wait for an answer or a tool result, resumed when it ends.

The agent long-polls for the answer (shared/api/routes/internal.py); a poll that finds the run
waiting for longer than ``sandbox_pause_after_s`` pauses its sandbox where the provider supports it
(E2B: memory kept, no charge while paused), so the agent stops mid-wait and its poll goes on after
the resume. The answer, the tool result or an expired wait (noticed on a poll, or by the reaper,
which sees the sandbox listed ``paused``) resumes it: the agent then finds the answer, or the
timeout it fails ``INPUT_TIMEOUT`` for (or passes to the model, for a tool).

``sandbox_paused`` on the run is set before the pause and cleared after the resume, so a crash in
between leaves a flag the next answer or the reaper acts on (a resume of a running sandbox is
harmless).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from shared.db.dynamo import ConditionalCheckFailed
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.sandbox.base import SandboxError
from shared.services import Services

log = get_logger(__name__)
WAITING = (RunStatus.needs_input, RunStatus.waiting_for_tool)
MIN_RESUME_S = 120  # least life a resumed sandbox gets (its run's deadline moves with the wait)


def maybe_pause(svc: Services, run: RunRecord, now: datetime) -> bool:
    """Pause the waiting run's sandbox once its wait passed the threshold; True if paused now."""
    after = svc.settings.sandbox_pause_after_s
    if not after or run.sandbox_paused or not run.sandbox_id or run.paused_since is None:
        return False
    if (now - run.paused_since).total_seconds() < after or not svc.sandbox.supports_pause:
        return False
    try:
        svc.runs.transition(
            run.org_id, run.id, from_statuses=list(WAITING), to_status=None, fields={"sandbox_paused": True}
        )
    except ConditionalCheckFailed:
        return False  # answered meanwhile
    try:
        svc.sandbox.pause(run.sandbox_id)
    except SandboxError as exc:
        log.warning("sandbox_pause_failed", run_id=run.id, sandbox_id=run.sandbox_id, error=str(exc))
        _clear(svc, run)
        return False
    log.info("sandbox_paused_for_wait", run_id=run.id, sandbox_id=run.sandbox_id)
    return True


def resume_if_paused(svc: Services, run: RunRecord, now: datetime) -> None:
    """Resume the run's sandbox if a wait paused it (after its answer, result or expiry)."""
    if not run.sandbox_paused or not run.sandbox_id:
        return
    end = run.deadline(now)
    left = int((end - now).total_seconds()) if end else 0
    try:
        svc.sandbox.resume(run.sandbox_id, max(MIN_RESUME_S, left + svc.settings.sandbox_grace_s))
    except SandboxError as exc:  # gone: the reaper ends the run as crashed
        log.warning("sandbox_resume_failed", run_id=run.id, sandbox_id=run.sandbox_id, error=str(exc))
        return
    _clear(svc, run)
    log.info("sandbox_resumed_after_wait", run_id=run.id, sandbox_id=run.sandbox_id)


def wake_if_expired(svc: Services, run: RunRecord, now: datetime) -> bool:
    """The reaper's part: a paused sandbox whose wait expired is resumed, so its agent sees the
    expiry and ends (or goes on) cleanly. True if resumed."""
    if not run.sandbox_paused:
        return False
    pending = run.input_request if run.status == RunStatus.needs_input else run.tool_call
    expires = (pending or {}).get("expires_at")
    if run.status in WAITING and expires and now < datetime.fromisoformat(expires):
        return False
    resume_if_paused(svc, run, now)
    return True


def _clear(svc: Services, run: RunRecord) -> None:
    with contextlib.suppress(ConditionalCheckFailed):
        svc.runs.transition(
            run.org_id, run.id, from_statuses=list(RunStatus), to_status=None, fields={"sandbox_paused": False}
        )
