"""A paused task's time budget stands still: ``POST /v1/sessions/{id}/pause`` stops its run's clock
and ``/resume`` starts it again, through the run's ``paused_since`` / ``paused_s``, which everything
that enforces max_duration_s goes by (RunRecord.deadline: the LLM gateway, Cleanup, the reaper; the
agent moves its own deadline by the same pause). The session's absolute deadline (``expires_at``)
still runs: the reaper closes the session at it, paused or not.

A run already waiting for an answer (``needs_input``, ``waiting_for_tool``) has its clock stopped
by that wait; a session pause then changes nothing on it (the wait's end folds the time)."""

from __future__ import annotations

import contextlib
from datetime import datetime

from shared.db.dynamo import ConditionalCheckFailed
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.services import Services

log = get_logger(__name__)


def stop_clock(svc: Services, org_id: str, run_id: str) -> None:
    """The task was paused: its max_duration_s stops counting from now."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.status != RunStatus.running or run.paused_since is not None:
        return
    with contextlib.suppress(ConditionalCheckFailed):  # ended meanwhile: nothing to stop
        svc.runs.transition(
            org_id,
            run_id,
            from_statuses=[RunStatus.running],
            to_status=None,
            fields={"paused_since": svc.clock.now().isoformat()},
        )


def start_clock(svc: Services, org_id: str, run_id: str) -> None:
    """The task was resumed: the time it stood paused is added to ``paused_s`` (not counted)."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.status != RunStatus.running or run.paused_since is None:
        return
    paused_s = run.paused_total_s(svc.clock.now())
    waited = paused_s - run.paused_s
    with contextlib.suppress(ConditionalCheckFailed):
        svc.runs.transition(
            org_id,
            run_id,
            from_statuses=[RunStatus.running],
            to_status=None,
            fields={"paused_since": None, "paused_s": paused_s},
        )
    log.info("task_clock_resumed", run_id=run_id, paused_s=round(waited, 3))


def pause_allowance_s(svc: Services, run: RunRecord) -> int:
    """Extra time a session's task may wait in Step Functions for its pauses: at most what is left of
    the session's life (its absolute deadline ends every pause). 0 for a run outside a session."""
    if not run.session_id:
        return 0
    session = svc.sessions.get(run.org_id, run.session_id)
    if session is None or not session.get("expires_at"):
        return 0
    left = (datetime.fromisoformat(session["expires_at"]) - svc.clock.now()).total_seconds()
    return max(0, int(left))
