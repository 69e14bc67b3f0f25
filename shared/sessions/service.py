"""The sessions service: create, read, list, terminate, tasks, pause / resume / stop, and the agent's
ready report (docs/sessions.md). Direct actions are in :mod:`shared.sessions.actions`."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from shared import billing, tokens
from shared import secrets as run_secrets
from shared.db.dynamo import ConditionalCheckFailed
from shared.db.sessions import SessionLimitReached
from shared.errors import Conflict, OpenHelmError, RateLimited, ServiceUnavailable, Unprocessable
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.orgs import Org
from shared.models.runs import RunError
from shared.models.sessions import CloseReason, CreateSessionRequest, Session, SessionStatus
from shared.models.sessions import SessionTaskRequest as TaskRequest
from shared.ratelimit import decision_headers
from shared.runs.lifecycle import finish_run
from shared.runs.service import CreatedRun, create_run
from shared.sandbox.base import SandboxError, SandboxRequest
from shared.services import Services
from shared.sessions import commands, profile, task_clock
from shared.sessions.envelope import envelope, get_session, load, wrong_state
from shared.sessions.lifecycle import LIVE, close, move, publish
from shared.viewer.live_secret import sandbox_secret
from shared.webhooks.ssrf import check_webhook_url

log = get_logger(__name__)
_S = SessionStatus
CONTROL_REPLY_S = 5.0


# -- create --------------------------------------------------------------------------------------


def _max_duration(svc: Services, org: Org, asked: int | None) -> int:
    provider_cap = svc.sandbox.max_lifetime_s - svc.settings.sandbox_grace_s
    cap = min(org.limits.max_session_duration_s, provider_cap)
    if asked is not None and asked > cap:
        raise Unprocessable(
            f"max_duration_s is at most {cap} for this org and sandbox provider",
            code="limit_exceeded",
            details=[{"loc": ["max_duration_s"], "msg": f"at most {cap}", "limit": cap, "requested": asked}],
        )
    return asked if asked is not None else cap


def _check_task(svc: Services, req: TaskRequest, allowed_domains: list[str] | None) -> None:
    """What can refuse a task before the session is claimed (create_run checks the rest): its
    secrets' patterns must lie inside the session's allowed_domains, when it has them."""
    if req.webhook_url is not None:
        check_webhook_url(str(req.webhook_url), svc.settings)
    run_secrets.check_secrets(req.secrets, allowed_domains)


def create_session(svc: Services, org: Org, req: CreateSessionRequest, control_url: str) -> Session:
    max_duration = _max_duration(svc, org, req.max_duration_s)
    if req.initial_task is not None:
        _check_task(svc, req.initial_task, req.allowed_domains)
        if req.initial_task.secrets:  # it waits in the session's record until the browser is up
            raise Unprocessable(
                "an initial_task cannot carry secrets (no value is stored in clear): submit the task "
                "to POST /v1/sessions/{id}/tasks once the session is ready",
                code="not_supported_in_session",
                details=[{"loc": ["initial_task", "secrets"]}],
            )
    # The sandbox's whole life is billed: refuse (402) a session whose longest life the balance cannot pay.
    billing.ensure_affordable(
        svc,
        org.id,
        svc.settings.default_model,
        {"max_duration_s": max_duration, "max_input_tokens": 0, "max_output_tokens": 0},
        None,
    )
    decision = svc.rate_limiter.take(
        org.id, per_minute=org.limits.rate_per_minute, burst=org.limits.rate_burst, now_ms=svc.clock.now_ms()
    )
    if not decision.allowed:
        raise RateLimited(
            f"too many runs and sessions created; retry in {decision.retry_after_s} s",
            details={"retry_after_s": decision.retry_after_s},
            headers=decision_headers(decision),
        )
    now = svc.clock.now()
    session_id = svc.ids.new("ses")
    item: dict[str, Any] = {
        "id": session_id,
        "status": _S.starting.value,
        "project_id": org.default_project_id,
        "start_url": str(req.start_url) if req.start_url else None,
        "allowed_domains": req.allowed_domains or [],
        "blocked_domains": req.blocked_domains or [],
        "idle_timeout_s": req.idle_timeout_s,
        "max_duration_s": max_duration,
        "keep_alive": req.keep_alive,
        "metadata": req.metadata or {},
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=max_duration)).isoformat(),
        "control_url": control_url or None,
        "tasks": [],
        "spec": {"initial_task": req.initial_task.model_dump(mode="json", exclude_none=True)}
        if req.initial_task
        else None,
        "profile_id": req.profile_id,
        "persist_profile": req.persist_profile,
    }
    # 422 for no such profile; with persist_profile the session holds its write lease (409 if taken).
    until_s = int(now.timestamp()) + max_duration + svc.settings.sandbox_grace_s
    profile.claim(svc, org.id, session_id, req.profile_id, req.persist_profile, until_s)
    try:
        svc.sessions.create(org.id, item, max_live=org.limits.max_concurrent_sessions)
    except SessionLimitReached as exc:
        profile.release(svc, org.id, session_id, req.profile_id, req.persist_profile)
        raise RateLimited(
            f"the org has {org.limits.max_concurrent_sessions} live sessions, its limit; close one first",
            code="session_limit",
            details={"max_concurrent_sessions": org.limits.max_concurrent_sessions},
        ) from exc
    try:
        started = _start_sandbox(svc, org.id, item)
    except ServiceUnavailable:
        raise
    except Exception:  # whatever went wrong, the session must not hold its slot as "starting"
        error = {"code": "SANDBOX_START_FAILED", "message": "internal error"}
        close(svc, org.id, session_id, CloseReason.failed, error=error)
        raise
    return envelope(svc, started)


def keep_alive_for(svc: Services, item: dict[str, Any], seconds: int) -> None:
    """Where the provider's sandboxes have a movable end (E2B's set_timeout), keep the session's
    alive for ``seconds`` more (plus grace), never past the session's own end: an idle session's
    sandbox then ends by the provider's clock even if the reaper is late. One call per activity,
    none while idle."""
    if not svc.sandbox.extendable or not item.get("sandbox_id"):
        return
    left = (datetime.fromisoformat(item["expires_at"]) - svc.clock.now()).total_seconds()
    timeout = int(min(seconds, max(0, left))) + svc.settings.sandbox_grace_s
    try:
        svc.sandbox.extend(item["sandbox_id"], timeout)
    except SandboxError as exc:  # the sandbox keeps its earlier end; the reaper reconciles a dead one
        log.warning("session_keep_alive_failed", session_id=item["id"], error=str(exc))


def _start_sandbox(svc: Services, org_id: str, item: dict[str, Any]) -> dict[str, Any]:
    session_id = item["id"]
    life = int(item["max_duration_s"])
    if svc.sandbox.extendable:  # kept alive by activity (keep_alive_for)
        life = min(life, int(item["idle_timeout_s"]))
    lifetime = life + svc.settings.sandbox_grace_s
    token_life = int(item["max_duration_s"]) + svc.settings.sandbox_grace_s
    now_s = int(svc.clock.now().timestamp())
    control_url = svc.settings.control_url or item.get("control_url") or svc.settings.sandbox_control_url
    request = SandboxRequest(
        run_id=session_id,
        org_id=org_id,
        timeout_s=lifetime,
        run_spec={
            "mode": "session",
            "session_id": session_id,
            "start_url": item.get("start_url"),
            "allowed_domains": item["allowed_domains"],
            "blocked_domains": item["blocked_domains"],
        },
        storage_state=profile.state_for(svc, org_id, item.get("profile_id")),
        control_url=control_url,
        run_token=tokens.mint(svc.settings.token_secret(), session_id, org_id, expires_at=now_s + token_life + 300),
        llm_url=svc.settings.sandbox_llm_url,
        allowed_domains=tuple(item["allowed_domains"]),
        blocked_domains=tuple(item["blocked_domains"]),
        metadata={"session_id": session_id, "org_id": org_id},
        mailbox=True,
        live_secret=sandbox_secret(svc, session_id),
    )
    try:
        info = svc.sandbox.start(request)
    except SandboxError as exc:
        log.warning("session_sandbox_start_failed", session_id=session_id, error=str(exc))
        close(
            svc,
            org_id,
            session_id,
            CloseReason.failed,
            error={"code": "SANDBOX_START_FAILED", "message": str(exc)[:500]},
        )
        raise ServiceUnavailable("no sandbox could be had for the session; try again", code="no_capacity") from exc
    try:
        return svc.sessions.transition(
            org_id,
            session_id,
            from_statuses=[_S.starting],
            to_status=None,
            fields={
                "sandbox_id": info.sandbox_id,
                "sandbox_provider": info.provider,
                "sandbox_started_at": svc.clock.now().isoformat(),
            },
        )
    except ConditionalCheckFailed:  # terminated while its sandbox started
        svc.sandbox.kill(info.sandbox_id)
        return load(svc, org_id, session_id)


def mark_ready(
    svc: Services, org_id: str, session_id: str, url: str | None, title: str | None, control_url: str
) -> None:
    """The agent's report that Chromium is up (its one call of its own): starting → ready, then the
    initial task, if any, is submitted."""
    now = svc.clock.now().isoformat()
    try:
        item = move(
            svc,
            org_id,
            session_id,
            frm=[_S.starting],
            to=_S.ready,
            fields={"ready_at": now, "last_active_at": now, "current_url": url, "current_title": title},
        )
    except ConditionalCheckFailed as exc:
        raise Conflict("the session is not starting", code="session_state") from exc
    publish(svc, "Session Started", item)
    keep_alive_for(svc, item, int(item["idle_timeout_s"]))
    initial = (item.get("spec") or {}).get("initial_task")
    if initial:
        org = svc.orgs.get(org_id)
        if org is None:
            return
        try:
            submit_task(svc, org, session_id, TaskRequest.model_validate(initial), control_url)
        except OpenHelmError as exc:  # e.g. 402 by now: the session stays ready, the caller sees no task
            log.warning("initial_task_refused", session_id=session_id, code=exc.code, error=exc.message)


# -- tasks ---------------------------------------------------------------------------------------


def submit_task(
    svc: Services, org: Org, session_id: str, req: TaskRequest, control_url: str, idempotency_key: str | None = None
) -> CreatedRun:
    """A task for a ready session: the session is claimed for it (ready → busy, conditional), then
    the task is created and started as a run with ``session_id``. One task at a time: a busy session
    answers 409 (no queue; docs/sessions.md says why)."""
    item = load(svc, org.id, session_id)
    _check_task(svc, req, item.get("allowed_domains"))
    run_id = svc.ids.new("run")
    try:
        claimed = move(
            svc,
            org.id,
            session_id,
            frm=[_S.ready],
            to=_S.busy,
            fields={"current_task": run_id, "last_active_at": svc.clock.now().isoformat()},
        )
    except ConditionalCheckFailed:
        raise wrong_state(load(svc, org.id, session_id), "take a task (one runs at a time)") from None
    try:
        created = create_run(svc, org, req.as_run(), idempotency_key, control_url, session_id=session_id, run_id=run_id)
    except Exception:
        _release(svc, org.id, session_id, run_id)
        raise
    # The task may run up to its max_duration_s (plus the idle time after it) before anything else happens.
    keep_alive_for(svc, claimed, created.run.max_duration_s + int(claimed["idle_timeout_s"]))
    svc.sessions.transition(
        org.id,
        session_id,
        from_statuses=LIVE,
        to_status=None,
        fields={"tasks": [*(claimed.get("tasks") or []), run_id][-200:]},
    )
    del item
    return created


def _release(svc: Services, org_id: str, session_id: str, run_id: str) -> None:
    with contextlib.suppress(ConditionalCheckFailed):
        move(
            svc,
            org_id,
            session_id,
            frm=[_S.busy],
            to=_S.ready,
            fields={"current_task": None},
            condition="current_task = :task",
            condition_values={":task": run_id},
        )


def _end_task(
    svc: Services,
    org_id: str,
    run_id: str,
    status: RunStatus,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """End a session's running task (stop, terminate, a dead sandbox) and wake its execution."""
    fields = {"error": RunError(code=code, message=message).model_dump(), **(extra or {})}
    item = finish_run(svc, org_id, run_id, status, fields)
    if item is not None and item.task_token:
        svc.orchestrator.fail_task(item.task_token, code, message)


def sandbox_died(svc: Services, org_id: str, session_id: str, exit_info: dict[str, Any] | None = None) -> bool:
    """The session's sandbox or agent is gone (an exit report, or the reaper found it): the session
    fails (``SANDBOX_DIED``), its running task ``AGENT_CRASHED``. False if it was already closed."""
    item = svc.sessions.get(org_id, session_id, consistent=True)
    if item is None or SessionStatus(item["status"]) not in LIVE:
        return False
    task = item.get("current_task")
    how = f" ({', '.join(f'{k}={v}' for k, v in exit_info.items())})" if exit_info else ""
    error = {"code": "SANDBOX_DIED", "message": f"the session's sandbox ended while the session was live{how}"[:500]}
    if close(svc, org_id, session_id, CloseReason.failed, error=error) is None:
        return False
    if task:  # the supervisor's reason (exit code, signal, OOM kills) is the task's too
        reason = f"the session's agent ended during the task{how}"[:500]
        extra = {"agent_exit": dict(exit_info)} if exit_info else None
        _end_task(svc, org_id, task, RunStatus.failed, "AGENT_CRASHED", reason, extra)
    return True


# -- state ---------------------------------------------------------------------------------------


def terminate(svc: Services, org_id: str, session_id: str) -> Session:
    item = load(svc, org_id, session_id)
    if SessionStatus(item["status"]) not in LIVE:
        raise wrong_state(item, "terminate it")
    task = item.get("current_task")
    closed = close(svc, org_id, session_id, CloseReason.terminated)
    if closed is None:
        raise wrong_state(load(svc, org_id, session_id), "terminate it")
    if task:
        _end_task(svc, org_id, task, RunStatus.cancelled, "CANCELLED", "the session was terminated")
    return envelope(svc, closed)


def pause(svc: Services, org_id: str, session_id: str) -> Session:
    """busy → paused: the agent takes no step until resumed (its task's clock stops; the session's
    absolute deadline does not)."""
    return _control(svc, org_id, session_id, "pause", [_S.busy], _S.paused)


def resume(svc: Services, org_id: str, session_id: str) -> Session:
    return _control(svc, org_id, session_id, "resume", [_S.paused], _S.busy)


def _control(
    svc: Services, org_id: str, session_id: str, kind: str, frm: list[SessionStatus], to: SessionStatus
) -> Session:
    item = load(svc, org_id, session_id)
    task = item.get("current_task")
    try:
        moved = move(
            svc,
            org_id,
            session_id,
            frm=frm,
            to=to,
            fields={"last_active_at": svc.clock.now().isoformat()},
            condition="current_task = :task",
            condition_values={":task": task or "-"},
        )
    except ConditionalCheckFailed:
        raise wrong_state(load(svc, org_id, session_id), f"{kind} it") from None
    # A paused task waits for a person: keep the sandbox up to the session's own end (the reaper
    # still closes it idle_timeout_s after the last activity).
    keep_alive_for(svc, moved, int(item["max_duration_s"]))
    extra = {}
    if kind == "resume" and item.get("resume_note"):  # a person had control while it was paused
        extra["note"] = item["resume_note"]
        with contextlib.suppress(ConditionalCheckFailed):
            svc.sessions.transition(
                org_id, session_id, from_statuses=LIVE, to_status=None, fields={"resume_note": None}
            )
    send_control(svc, moved, kind, task, **extra)
    return envelope(svc, moved)


def send_control(svc: Services, item: dict[str, Any], kind: str, task: str | None, **body: Any) -> None:
    """Pause or resume the session's agent through its mailbox (a bounded wait for its reply); the
    task's own time budget stands still while paused (task_clock)."""
    if task:
        (task_clock.stop_clock if kind == "pause" else task_clock.start_clock)(svc, item["org_id"], task)
    command_id = commands.send(svc, item["sandbox_id"], kind, run_id=task, **body)
    reply = commands.await_reply(svc, item["sandbox_id"], command_id, CONTROL_REPLY_S)
    if reply is not None and not reply.get("ok"):
        log.warning("session_control_refused", session_id=item["id"], kind=kind, error=reply.get("error"))


def stop(svc: Services, org_id: str, session_id: str) -> Session:
    """End the running task as ``cancelled``; the session stays (ready again)."""
    item = load(svc, org_id, session_id)
    task = item.get("current_task")
    if SessionStatus(item["status"]) not in (_S.busy, _S.paused) or not task:
        raise wrong_state(item, "stop a task (none is running)")
    commands.send(svc, item["sandbox_id"], "stop", run_id=task)
    _end_task(svc, org_id, task, RunStatus.cancelled, "CANCELLED", "stopped by request")
    return get_session(svc, org_id, session_id)
