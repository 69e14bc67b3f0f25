"""The reaper: the backstop that makes sure nothing is left running.

- A running run whose sandbox is gone (the agent died without a callback) ends as AGENT_CRASHED,
  billed up to its last sign of life (its last progress report, else its start), not up to the
  reaper's visit. Normally the sandbox's supervisor or the local provider reports the exit within a
  second (shared/callbacks.py); the reaper covers what nobody was left to report: on E2B, a sandbox
  that died whole (killed, crashed, its lifetime ran out) with the supervisor in it.
- A running run past its deadline ends as AGENT_TIMEOUT (normally the state machine's own timeout
  does this first).
- A live sandbox whose run is missing or unknown is killed; one whose run is finished is killed
  once its evidence was handled (normally the evidence function kills it itself) or, if the evidence
  function never got to it, ``evidence_grace_s`` after the run ended.

The reaper records the end itself (the same Cleanup every failure path runs: first finisher wins,
so it is safe beside the state machine) and then fails the execution's waiting task, so the
execution stops waiting instead of sitting out its timeout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.db.dynamo import ConditionalCheckFailed
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunningRun, RunRecord
from shared.orchestration.cleanup import cleanup
from shared.runs import sandbox_pause
from shared.services import Services
from shared.sessions.paths import is_session_id
from shared.sessions.reaper import SessionReapReport, reap_sessions

log = get_logger(__name__)


@dataclass
class ReapReport:
    crashed: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # paused sandboxes whose wait expired
    sessions: SessionReapReport = field(default_factory=SessionReapReport)


def reap(svc: Services) -> ReapReport:
    report = ReapReport()
    now = svc.clock.now()
    alive = {s.sandbox_id: s for s in svc.sandbox.list_running()}
    for run in svc.runs.list_running():
        started = run.started_at or now
        deadline = started + timedelta(seconds=run.max_duration_s + svc.settings.sandbox_grace_s)
        if now > deadline:
            code = _overdue(svc, run, now)
            if code:
                _end(svc, run, code, "the run overran its deadline" if code == "AGENT_TIMEOUT" else _INPUT_CAUSE)
                report.timed_out.append(run.id)
        elif run.sandbox_id not in alive and (now - started).total_seconds() >= svc.settings.reaper_start_grace_s:
            _record_last_sign_of_life(svc, run, started)
            _end(svc, run, "AGENT_CRASHED", "the sandbox exited without reporting a result")
            report.crashed.append(run.id)
    for sandbox_id, info in alive.items():
        if info.metadata.get("session_id") or is_session_id(info.run_id):
            continue  # a session's sandbox: reconciled with its session below
        org_id = info.metadata.get("org_id")
        run = svc.runs.get(org_id, info.run_id, consistent=True) if org_id and info.run_id else None
        if run is not None and info.metadata.get("state") == "paused" and sandbox_pause.wake_if_expired(svc, run, now):
            report.resumed.append(sandbox_id)
            continue
        if _done_with(svc, run, now) and svc.sandbox.kill(sandbox_id):
            report.killed.append(sandbox_id)
    report.sessions = reap_sessions(svc, alive)
    if report.crashed or report.timed_out or report.killed:
        log.warning("reaped", crashed=report.crashed, timed_out=report.timed_out, killed=report.killed)
    return report


_INPUT_CAUSE = "no answer to the run's question came by its input deadline"


def _overdue(svc: Services, run: RunningRun, now: datetime) -> str | None:
    """Why a run past started_at + max_duration_s (+ grace) ends, or None: time spent waiting for
    answers does not count (shared/runs/human_input.py), an input deadline past its grace does."""
    full = svc.runs.get(run.org_id, run.id, consistent=True)
    if full is None or not full.paused_total_s(now):
        return "AGENT_TIMEOUT"
    grace = timedelta(seconds=svc.settings.sandbox_grace_s)
    expires = (full.input_request or {}).get("expires_at")
    if full.status == RunStatus.needs_input and expires and now > datetime.fromisoformat(expires) + grace:
        return "INPUT_TIMEOUT"
    end = full.deadline(now)
    return "AGENT_TIMEOUT" if end is not None and now > end + grace else None


def _done_with(svc: Services, run: RunRecord | None, now: datetime) -> bool:
    if run is None:
        return True
    if not run.status.is_terminal:
        return False
    if run.evidence_status in ("ready", "unavailable"):
        return True
    finished = run.finished_at or now
    return (now - finished).total_seconds() >= svc.settings.evidence_grace_s


def _record_last_sign_of_life(svc: Services, run: RunningRun, started: datetime) -> None:
    """``sandbox_ended_at`` = the last progress report (or the start): the sandbox is billed up to
    when it was last seen alive. Kept if a report already recorded the end."""
    last = started
    # The reaper's index holds a few attributes only (template.yaml, gsi3): read the progress.
    full = svc.runs.get(run.org_id, run.id, consistent=True)
    updated = full.progress.updated_at if full and full.progress else None
    if updated:
        last = max(last, updated)
    with contextlib.suppress(ConditionalCheckFailed):
        svc.runs.mark_sandbox_ended(run.org_id, run.id, last, {"agent_exit": {"reporter": "reaper"}})


def _end(svc: Services, run: RunningRun, code: str, cause: str) -> None:
    cleanup(svc, run.id, run.org_id, {"Error": code, "Cause": cause})
    if run.task_token:
        svc.orchestrator.fail_task(run.task_token, code, cause)
