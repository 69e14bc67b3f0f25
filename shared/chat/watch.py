"""Drive one chat request's run: watch it until it answers, and cancel it if the caller leaves.

Everything here goes through :mod:`shared.runs.service` and the run record (no second
implementation of runs): the run is created like any other, read with consistent reads, and
cancelled with ``cancel_run``. What the caller gets is a sequence of :class:`Tick` (progress while
the agent works) ending in one :class:`Outcome`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from shared.chat import mapping
from shared.errors import Conflict, OpenHelmError
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.runs import Run
from shared.runs import service as runs
from shared.runs.envelope import public_run
from shared.services import Services

log = get_logger(__name__)

POLL_S = 0.25  # how often the run record is read (what the layer adds to a run's end, at most)
EVIDENCE_WAIT_S = 5.0  # after the run ends, how long to wait for its screenshots' URLs
ANSWER_MARGIN_S = 10.0  # the invocation's time kept for answering and cancelling


@dataclass(frozen=True)
class Tick:
    """The run as it goes (a new step, or nothing new: the caller may send a keep-alive)."""

    run: Run
    note: str | None  # a new progress line, or None


@dataclass(frozen=True)
class Outcome:
    run: Run
    error: OpenHelmError | None  # None: run.result is the answer


class ClientGone(Exception):
    """The caller closed its connection."""


def watch(
    svc: Services,
    org_id: str,
    run_id: str,
    *,
    deadline: float,
    disconnected: threading.Event | None = None,
    poll_s: float = POLL_S,
) -> Iterator[Tick | Outcome]:
    """Ticks until the run answers, then its Outcome. ``deadline`` (monotonic) is when the
    invocation must have answered; past it (less the answer margin) the run is cancelled and the
    outcome is a timeout. A set ``disconnected`` raises ClientGone (the caller cancels)."""
    last_note: str | None = None
    while True:
        item = svc.runs.get(org_id, run_id, consistent=True)
        if item is None:  # pragma: no cover - the run was just created by this request
            raise OpenHelmError(f"run {run_id} disappeared")
        run = public_run(svc, item)
        status = run.status
        if status.is_terminal or status == RunStatus.needs_input:
            break
        note = mapping.progress_note(run)
        yield Tick(run, note if note != last_note else None)
        last_note = note or last_note
        if svc.clock.monotonic() + poll_s >= deadline - ANSWER_MARGIN_S:
            cancel(svc, org_id, run_id, "the answer's time ran out")
            raise mapping.RunEndedWithoutAnswer(
                504,
                "timeout_error",
                "chat_timeout",
                f"run {run_id} did not finish within this request's time; it was cancelled",
                {"x-should-retry": "false"},
            )
        _pause(svc, poll_s, disconnected)
    request = item.input_request if status == RunStatus.needs_input else None
    question = (request or {}).get("question")
    yield Outcome(run, mapping.outcome_error(run, question))


def _pause(svc: Services, seconds: float, disconnected: threading.Event | None) -> None:
    if disconnected is None:
        svc.clock.sleep(seconds)
    elif disconnected.wait(seconds):
        raise ClientGone


def with_evidence(svc: Services, org_id: str, run: Run, *, deadline: float, seconds: float = EVIDENCE_WAIT_S) -> Run:
    """The run once its evidence is stored (presigned screenshot URLs), or as it is after
    ``seconds``: the evidence function runs on the Run Succeeded event, just after the run ends."""
    end = min(svc.clock.monotonic() + seconds, deadline - 1)
    while run.evidence_status is None and svc.clock.monotonic() < end:
        svc.clock.sleep(POLL_S)
        item = svc.runs.get(org_id, run.id, consistent=True)
        run = public_run(svc, item) if item else run
    return run


def cancel(svc: Services, org_id: str, run_id: str, why: str) -> None:
    """Cancel a run its caller no longer waits for (a run that already ended stays as it is)."""
    try:
        runs.cancel_run(svc, org_id, run_id)
        log.info("chat_run_cancelled", run_id=run_id, reason=why)
    except Conflict:
        pass
    except OpenHelmError as exc:  # the reaper ends it at its deadline anyway
        log.error("chat_run_cancel_failed", run_id=run_id, reason=why, error=exc.message)
