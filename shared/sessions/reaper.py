"""Expiry and reconciliation of sessions, from the scheduled reaper (shared/reaper.py).

- A live session past its ``expires_at`` (max_duration_s) closes as ``expired`` / ``max_duration``;
  a ready or paused one idle for ``idle_timeout_s`` closes as ``expired`` / ``idle_timeout``.
- A live session whose sandbox is gone is ``failed`` (``SANDBOX_DIED``), its running task
  ``AGENT_CRASHED``; one that never reported ready within ``START_TIMEOUT_S`` fails too.
- A live sandbox whose session is missing or closed is killed (after ``evidence_grace_s`` when the
  session closed after its last task, so the evidence function can still copy that task's files).

Time comes from ``svc.clock``: tests move an injected clock instead of waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.sessions import CloseReason, SessionStatus
from shared.sandbox.base import SandboxInfo
from shared.services import Services
from shared.sessions.lifecycle import TERMINAL, close
from shared.sessions.paths import is_session_id
from shared.sessions.service import _end_task, sandbox_died

log = get_logger(__name__)
START_TIMEOUT_S = 120


@dataclass
class SessionReapReport:
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)


def reap_sessions(svc: Services, alive: dict[str, SandboxInfo]) -> SessionReapReport:
    """One pass. The live list (one Query, with the fields the checks read) settles every healthy
    session; only one the list says is due is read again (consistently) and checked on that, so a
    change the index has not caught up with is never acted on. Each minute an idle org costs one
    Query, and a session's sandbox one read only when its session is not on the live list."""
    report = SessionReapReport()
    now = svc.clock.now()
    live: set[str] = set()
    for listed in svc.sessions.list_live():
        projected = "status" in listed  # a session listed before gsi4 has its ids only: read it
        if projected and _check(svc, listed, now, alive, act=False) is None:
            live.add(listed["id"])
            continue
        item = svc.sessions.get(listed["org_id"], listed["id"], consistent=True)
        if item is None or SessionStatus(item["status"]) in TERMINAL:
            continue
        outcome = _check(svc, item, now, alive)
        if outcome is None:
            live.add(item["id"])
        elif outcome == "expired":
            report.expired.append(item["id"])
        elif outcome == "failed":
            report.failed.append(item["id"])
    for sandbox_id, info in alive.items():
        session_id = info.metadata.get("session_id") or (info.run_id if is_session_id(info.run_id) else None)
        org_id = info.metadata.get("org_id")
        if not session_id or session_id in live or session_id in report.expired:
            continue  # a live session's own sandbox, or one its close in this pass has just killed
        item = svc.sessions.get(org_id, session_id, consistent=True) if org_id else None
        if _done_with(svc, item, now) and svc.sandbox.kill(sandbox_id):
            report.killed.append(sandbox_id)
    if report.expired or report.failed or report.killed:
        log.warning("sessions_reaped", expired=report.expired, failed=report.failed, killed=report.killed)
    return report


def _check(
    svc: Services, item: dict[str, Any], now: datetime, alive: dict[str, SandboxInfo], *, act: bool = True
) -> str | None:
    """What is due for the session: "failed", "expired" or None; done only if ``act``."""
    org_id, session_id, status = item["org_id"], item["id"], SessionStatus(item["status"])
    task = item.get("current_task")
    created = datetime.fromisoformat(item["created_at"])
    if (
        item.get("sandbox_id")
        and item["sandbox_id"] not in alive
        and ((now - created).total_seconds() >= svc.settings.reaper_start_grace_s)
    ):
        if act:
            sandbox_died(svc, org_id, session_id)
        return "failed"
    if status == SessionStatus.starting and (now - created).total_seconds() > START_TIMEOUT_S:
        if not act:
            return "failed"
        error = {"code": "SESSION_START_TIMEOUT", "message": f"the browser was not ready within {START_TIMEOUT_S} s"}
        close(svc, org_id, session_id, CloseReason.failed, error=error)
        return "failed"
    if now >= datetime.fromisoformat(item["expires_at"]):
        if not act:
            return "expired"
        if close(svc, org_id, session_id, CloseReason.max_duration) and task:
            _end_task(svc, org_id, task, RunStatus.failed, "AGENT_TIMEOUT", "the session reached its max_duration_s")
        return "expired"
    last = item.get("last_active_at")
    idle = status in (SessionStatus.ready, SessionStatus.paused, SessionStatus.manual) and last
    if idle and now >= datetime.fromisoformat(str(last)) + timedelta(seconds=int(item["idle_timeout_s"])):
        if not act:
            return "expired"
        if close(svc, org_id, session_id, CloseReason.idle_timeout) and task:
            _end_task(svc, org_id, task, RunStatus.cancelled, "CANCELLED", "the session was idle too long")
        return "expired"
    return None


def _done_with(svc: Services, item: dict[str, Any] | None, now: datetime) -> bool:
    if item is None:
        return True
    if SessionStatus(item["status"]) not in TERMINAL:
        return False
    if item.get("close_reason") != CloseReason.task_done.value:
        return True
    closed = datetime.fromisoformat(item["closed_at"]) if item.get("closed_at") else now
    return (now - closed).total_seconds() >= svc.settings.evidence_grace_s
