"""The only code that changes a run's status.

The allowed transitions are written down once, in :data:`TRANSITIONS`; a new status (``paused``,
``waiting_for_tool``...) joins by adding its row, and whether it holds a concurrency slot to
:data:`HOLDS_SLOT`. Every transition is a conditional write (the run must still be in one of the
statuses that may move to the target), so concurrent writers cannot both win: the first finisher
does, the others get ``None`` or :class:`~shared.db.dynamo.ConditionalCheckFailed`.

Writes that keep the status (progress, evidence, the task token) go through the repository's
``transition(..., to_status=None)`` directly; tests/unit/test_layering.py checks that no module
but this one passes a status to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import EventPublishFailed
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import RunError
from shared.runs.envelope import run_summary
from shared.services import Services
from shared.sessions.lifecycle import task_ended

log = get_logger(__name__)

_S = RunStatus
# from -> the statuses it may move to. Terminal statuses move nowhere.
TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    _S.queued: frozenset({_S.starting, _S.succeeded, _S.failed, _S.cancelled}),
    _S.starting: frozenset({_S.running, _S.succeeded, _S.failed, _S.cancelled}),
    _S.running: frozenset({_S.needs_input, _S.waiting_for_tool, _S.succeeded, _S.failed, _S.cancelled}),
    _S.needs_input: frozenset({_S.running, _S.succeeded, _S.failed, _S.cancelled}),
    _S.waiting_for_tool: frozenset({_S.running, _S.succeeded, _S.failed, _S.cancelled}),
    _S.succeeded: frozenset(),
    _S.failed: frozenset(),
    _S.cancelled: frozenset(),
}
# Statuses in which a run holds one of its org's concurrent-run slots (acquired on the way in,
# released on the way out, in the same transaction as the status change).
HOLDS_SLOT = frozenset({_S.starting, _S.running, _S.needs_input, _S.waiting_for_tool})

_FINISHED_EVENT = {
    RunStatus.succeeded: "Run Succeeded",
    RunStatus.failed: "Run Failed",
    RunStatus.cancelled: "Run Cancelled",
}


class TransitionNotAllowed(ValueError):
    """A programming error: the code asked for a move the table does not allow."""


def sources(to: RunStatus, among: Iterable[RunStatus] = TRANSITIONS) -> list[RunStatus]:
    """The statuses (of ``among``) that may move to ``to``."""
    return [s for s in among if to in TRANSITIONS[s]]


def move(
    svc: Services,
    org_id: str,
    run_id: str,
    *,
    frm: Iterable[RunStatus],
    to: RunStatus,
    fields: Mapping[str, Any] | None = None,
    max_active: int = 0,
    running_until: datetime | None = None,
) -> RunRecord:
    """Conditionally move the run from one of ``frm`` to ``to``, with ``fields``; the new item.
    Takes or gives back the concurrency slot when the move enters or leaves :data:`HOLDS_SLOT`.
    Raises ConditionalCheckFailed when the run is in none of ``frm`` (ConcurrencyLimited when
    no slot is free)."""
    frm = list(frm)
    bad = [s for s in frm if to not in TRANSITIONS[s]]
    if bad or not frm:
        raise TransitionNotAllowed(f"{', '.join(s.value for s in bad) or 'nothing'} -> {to.value} is not allowed")
    holds = {s in HOLDS_SLOT for s in frm}
    if len(holds) != 1:  # one transaction either moves the counter or does not
        raise TransitionNotAllowed("a move takes statuses that all hold a slot, or none that do")
    held, holding = holds.pop(), to in HOLDS_SLOT
    slot = "acquire" if holding and not held else "release" if held and not holding else None
    return svc.runs.transition(
        org_id,
        run_id,
        from_statuses=frm,
        to_status=to,
        fields=fields,
        slot=slot,
        max_active=max_active,
        running_until=running_until,
    )


def admit(svc: Services, org_id: str, run_id: str, max_active: int, fields: Mapping[str, Any]) -> RunRecord:
    """queued -> starting, taking a slot (ConcurrencyLimited when all ``max_active`` are taken)."""
    return move(svc, org_id, run_id, frm=[_S.queued], to=_S.starting, fields=fields, max_active=max_active)


def mark_running(
    svc: Services, org_id: str, run_id: str, fields: Mapping[str, Any], running_until: datetime
) -> RunRecord:
    """starting -> running, once the sandbox is up; the reaper lists the run until it ends, by its
    deadline ``running_until``."""
    return move(svc, org_id, run_id, frm=[_S.starting], to=_S.running, fields=fields, running_until=running_until)


def finish_run(svc: Services, org_id: str, run_id: str, status: RunStatus, fields: dict[str, Any]) -> RunRecord | None:
    """Move a run that is not yet terminal to ``status`` (releasing its concurrency slot if it held
    one) and emit the matching event. None if it was already terminal: the first finisher wins."""
    # A finished run leaves the reaper's index (the repository takes it out on a terminal move).
    # Its secrets' ciphertext goes too: only a sandbox being started needs them (shared/secrets.py).
    fields = {"finished_at": svc.clock.now().isoformat(), "secrets_sealed": None, **fields}
    item = None
    for group in (sources(status, HOLDS_SLOT), sources(status, TRANSITIONS.keys() - HOLDS_SLOT)):
        try:
            item = move(svc, org_id, run_id, frm=group, to=status, fields=fields)
            break
        except ConditionalCheckFailed:
            continue
    if item is None:
        return None
    if item.session_id:  # a session's task: its browser is free again
        task_ended(svc, item)
    try:
        svc.events.publish(_FINISHED_EVENT[status], run_summary(item), resources=[run_id])
    except EventPublishFailed as exc:  # the run is final either way; integrations may miss one event
        log.error("run_finished_event_failed", run_id=run_id, error=exc.message)
    return item


def fail_run(svc: Services, org_id: str, run_id: str, code: str, message: str) -> RunRecord | None:
    """Move a run that is not terminal to failed with an error code; None if it was already terminal."""
    return finish_run(
        svc, org_id, run_id, RunStatus.failed, {"error": RunError(code=code, message=message).model_dump()}
    )
