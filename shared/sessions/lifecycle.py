"""The only code that changes a session's status (docs/sessions.md).

The allowed transitions are written down once, in :data:`TRANSITIONS`. Every transition is a
conditional write on the current status, so concurrent writers cannot both win, and a closed session
never changes again. Every live status holds one of the org's session slots; the move into a
terminal status gives it back in the same transaction (a closed session frees its slot at once).

A session's task is a run (shared/runs/lifecycle.py); when the run ends, :func:`task_ended` hands
the browser back (busy | paused → ready), or closes a ``keep_alive: false`` session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.db.sessions import LIVE_KEYS
from shared.errors import EventPublishFailed
from shared.logging import get_logger
from shared.models.run_record import RunRecord
from shared.models.sessions import CloseReason, SessionStatus
from shared.sandbox.base import SandboxError
from shared.services import Services
from shared.sessions import profile

log = get_logger(__name__)

_S = SessionStatus
TERMINAL = frozenset({_S.closed, _S.expired, _S.failed})
LIVE = frozenset(set(_S) - TERMINAL)
# from -> the statuses it may move to. Terminal statuses move nowhere.
TRANSITIONS: Mapping[SessionStatus, frozenset[SessionStatus]] = {
    _S.starting: frozenset({_S.ready, *TERMINAL}),
    _S.ready: frozenset({_S.busy, _S.manual, *TERMINAL}),
    _S.busy: frozenset({_S.ready, _S.paused, _S.manual, *TERMINAL}),
    _S.paused: frozenset({_S.busy, _S.ready, _S.manual, *TERMINAL}),
    # A person has control (shared/sessions/manual.py); release goes back to what was before.
    _S.manual: frozenset({_S.busy, _S.paused, _S.ready, *TERMINAL}),
    _S.closed: frozenset(),
    _S.expired: frozenset(),
    _S.failed: frozenset(),
}
# The terminal status each close reason ends in.
CLOSED_AS = {
    CloseReason.terminated: _S.closed,
    CloseReason.task_done: _S.closed,
    CloseReason.idle_timeout: _S.expired,
    CloseReason.max_duration: _S.expired,
    CloseReason.failed: _S.failed,
}


class TransitionNotAllowed(ValueError):
    """A programming error: the code asked for a move the table does not allow."""


def sources(to: SessionStatus) -> list[SessionStatus]:
    return [s for s in TRANSITIONS if to in TRANSITIONS[s]]


def move(
    svc: Services,
    org_id: str,
    session_id: str,
    *,
    frm: Iterable[SessionStatus],
    to: SessionStatus,
    fields: Mapping[str, Any] | None = None,
    condition: str | None = None,
    condition_values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Conditionally move the session from one of ``frm`` to ``to``; the new item. Raises
    ConditionalCheckFailed when it is in none of them (or ``condition`` does not hold)."""
    frm = list(frm)
    bad = [s for s in frm if to not in TRANSITIONS[s]]
    if bad or not frm:
        raise TransitionNotAllowed(f"{', '.join(s.value for s in bad) or 'nothing'} -> {to.value} is not allowed")
    fields = dict(fields or {})
    if to in TERMINAL:
        # Out of the reaper's index; the slot is given back in the same transaction.
        fields.update(dict.fromkeys(LIVE_KEYS))
    return svc.sessions.transition(
        org_id,
        session_id,
        from_statuses=frm,
        to_status=to,
        fields=fields,
        release_slot=to in TERMINAL,
        condition=condition,
        condition_values=condition_values,
    )


def session_summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """The detail of Session * events: ids and status, never page content."""
    return {
        "session_id": item["id"],
        "org_id": item.get("org_id"),
        "project_id": item.get("project_id"),
        "status": item.get("status"),
        "reason": item.get("close_reason"),
        "created_at": item.get("created_at"),
        "closed_at": item.get("closed_at"),
        "error_code": (item.get("error") or {}).get("code"),
        "usage": item.get("usage"),
        "metadata": item.get("metadata") or {},
    }


def publish(svc: Services, detail_type: str, item: Mapping[str, Any]) -> None:
    try:
        svc.events.publish(detail_type, session_summary(item), resources=[item["id"]])
    except EventPublishFailed as exc:  # the session's state stands either way; integrations may miss one
        log.error("session_event_failed", session_id=item["id"], detail_type=detail_type, error=exc.message)


def sandbox_seconds(item: Mapping[str, Any], end: datetime) -> float:
    started = item.get("sandbox_started_at")
    if not started:
        return 0.0
    return round(max(0.0, (end - datetime.fromisoformat(started)).total_seconds()), 3)


def close(
    svc: Services,
    org_id: str,
    session_id: str,
    reason: CloseReason,
    *,
    error: Mapping[str, str] | None = None,
    kill: bool = True,
) -> dict[str, Any] | None:
    """Move a live session to its terminal status (:data:`CLOSED_AS`), once: its usage (the
    sandbox's whole life, idle time included) is written in the same conditional update, so a
    second close changes nothing and returns None. Kills the sandbox unless ``kill`` is False (the
    evidence function kills it after copying the last task's files), and emits ``Session Closed``."""
    current = svc.sessions.get(org_id, session_id, consistent=True)
    if current is None or SessionStatus(current["status"]) in TERMINAL:
        return None
    now = svc.clock.now()
    usage: dict[str, Any] = {"sandbox_seconds": sandbox_seconds(current, now)}
    if reason == CloseReason.failed and not current.get("tasks") and not current.get("llm_calls"):
        # Failed through our infrastructure before its first task: nothing is charged.
        usage["waived_reason"] = "the session failed before its first task (our infrastructure)"
    fields: dict[str, Any] = {
        "closed_at": now.isoformat(),
        "close_reason": reason.value,
        "usage": usage,
        "current_task": None,
    }
    if error is not None:
        fields["error"] = dict(error)
    # The browser's state into its profile, on a graceful close: while the session is still live,
    # so nothing that waits for its close (the last task's evidence) kills the sandbox meanwhile.
    profile.save_at_close(svc, org_id, current, reason)
    try:
        item = move(svc, org_id, session_id, frm=LIVE, to=CLOSED_AS[reason], fields=fields)
    except ConditionalCheckFailed:
        return None  # closed meanwhile by someone else: the first close wins
    if kill and item.get("sandbox_id"):
        with contextlib.suppress(SandboxError):  # the reaper kills what is left
            svc.sandbox.kill(item["sandbox_id"])
    publish(svc, "Session Closed", item)
    log.info("session_closed", session_id=session_id, reason=reason.value, sandbox_seconds=usage["sandbox_seconds"])
    return item


def task_ended(svc: Services, run: RunRecord) -> None:
    """A session's task (run) reached a terminal status: the browser is free again, or, for a
    ``keep_alive: false`` session, the session closes (its sandbox killed once the evidence is copied)."""
    session_id, org_id = run.session_id, run.org_id
    if not session_id or not org_id:
        return
    session = svc.sessions.get(org_id, session_id, consistent=True)
    if session is None or session.get("current_task") != run.id:
        return
    if not session.get("keep_alive", True):
        close(svc, org_id, session_id, CloseReason.task_done, kill=False)
        return
    fields: dict[str, Any] = {"current_task": None, "last_active_at": svc.clock.now().isoformat()}
    if run.progress is not None and run.progress.last_url:  # where the task left the browser
        fields["current_url"] = run.progress.last_url
    if session.get("status") == _S.manual.value:  # the person keeps control; release finds no task
        with contextlib.suppress(ConditionalCheckFailed):
            svc.sessions.transition(
                org_id,
                session_id,
                from_statuses=[_S.manual],
                to_status=None,
                fields={**fields, "manual_from": _S.ready.value},
                condition="current_task = :task",
                condition_values={":task": run.id},
            )
        return
    with contextlib.suppress(ConditionalCheckFailed):  # closed meanwhile, or another task took over
        move(
            svc,
            org_id,
            session_id,
            frm=[_S.busy, _S.paused],
            to=_S.ready,
            fields=fields,
            condition="current_task = :task",
            condition_values={":task": run.id},
        )
