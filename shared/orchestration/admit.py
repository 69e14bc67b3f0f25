"""Admit: a queued run gets one of its org's concurrent-run slots, or waits for one."""

from __future__ import annotations

from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.db.runs import ConcurrencyLimited
from shared.models.common import RunStatus
from shared.runs.human_input import wait_allowance_s
from shared.runs.lifecycle import admit as admit_run
from shared.runs.lifecycle import fail_run
from shared.services import Services
from shared.sessions.task_clock import pause_allowance_s

SLOT_WAIT_S = 5
# A run that could not get a slot for this long fails instead of waiting forever.
QUEUE_TIMEOUT_S = 3600


def _answer(admitted: bool, stop: bool, task_timeout_s: int = 0) -> dict[str, Any]:
    # Every key is always present: the ASL ResultSelector reads all four.
    return {"admitted": admitted, "stop": stop, "wait_s": SLOT_WAIT_S, "task_timeout_s": task_timeout_s}


def admit(svc: Services, run_id: str, org_id: str) -> dict[str, Any]:
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.status.is_terminal:
        return _answer(False, True)
    timeout = run.max_duration_s + svc.settings.sandbox_grace_s + wait_allowance_s(run) + pause_allowance_s(svc, run)
    if run.status != RunStatus.queued:  # a retried Admit after it already succeeded
        return _answer(True, False, timeout)
    org = svc.orgs.get(org_id)
    if org is None:
        fail_run(svc, org_id, run_id, "ORG_NOT_FOUND", "the run's org no longer exists")
        return _answer(False, True)
    try:
        admit_run(svc, org_id, run_id, org.limits.max_concurrent_runs, {"admitted_at": svc.clock.now().isoformat()})
    except ConcurrencyLimited:
        waited = (svc.clock.now() - run.created_at).total_seconds()
        if waited > QUEUE_TIMEOUT_S:
            fail_run(svc, org_id, run_id, "QUEUE_TIMEOUT", "no concurrency slot became free in time")
            return _answer(False, True)
        return _answer(False, False)
    except ConditionalCheckFailed:  # cancelled meanwhile, or a concurrent Admit won
        return admit(svc, run_id, org_id)
    return _answer(True, False, timeout)
