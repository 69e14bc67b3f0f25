"""The reaper: the backstop that makes sure nothing is left running.

- A running run whose sandbox is gone (the agent died without a callback) ends as AGENT_CRASHED.
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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.orchestration.finalize import cleanup
from shared.services import Services

log = get_logger("reaper")


@dataclass
class ReapReport:
    crashed: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)


def reap(svc: Services) -> ReapReport:
    report = ReapReport()
    now = svc.clock.now()
    alive = {s.sandbox_id: s for s in svc.sandbox.list_running()}
    for run in svc.runs.list_running():
        started = datetime.fromisoformat(run["started_at"]) if run.get("started_at") else now
        deadline = started + timedelta(seconds=int(run["max_duration_s"]) + svc.settings.sandbox_grace_s)
        if now > deadline:
            _end(svc, run, "AGENT_TIMEOUT", "the run overran its deadline")
            report.timed_out.append(run["id"])
        elif (
            run.get("sandbox_id") not in alive and (now - started).total_seconds() >= svc.settings.reaper_start_grace_s
        ):
            _end(svc, run, "AGENT_CRASHED", "the sandbox exited without reporting a result")
            report.crashed.append(run["id"])
    for sandbox_id, info in alive.items():
        org_id = info.metadata.get("org_id")
        run = svc.runs.get(org_id, info.run_id, consistent=True) if org_id and info.run_id else None
        if _done_with(svc, run, now) and svc.sandbox.kill(sandbox_id):
            report.killed.append(sandbox_id)
    if report.crashed or report.timed_out or report.killed:
        log.warning("reaped", crashed=report.crashed, timed_out=report.timed_out, killed=report.killed)
    return report


def _done_with(svc: Services, run: dict | None, now: datetime) -> bool:
    if run is None:
        return True
    if not RunStatus(run["status"]).is_terminal:
        return False
    if run.get("evidence_status") in ("ready", "unavailable"):
        return True
    finished = datetime.fromisoformat(run["finished_at"]) if run.get("finished_at") else now
    return (now - finished).total_seconds() >= svc.settings.evidence_grace_s


def _end(svc: Services, run: dict, code: str, cause: str) -> None:
    cleanup(svc, run["id"], run["org_id"], {"Error": code, "Cause": cause})
    if run.get("task_token"):
        svc.orchestrator.fail_task(run["task_token"], code, cause)
