"""The runs service: create (idempotent, rate limited), read, list, cancel, wait.

Sits above :mod:`shared.runs.envelope` (the shape it returns) and :mod:`shared.runs.lifecycle`
(the status changes it asks for). Takes and returns models; data access goes through the
repositories on :class:`Services`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared import billing, files, profiles
from shared import secrets as run_secrets
from shared.billing import budget
from shared.db.ratelimit import RateDecision
from shared.db.runs import IdempotencyConflict
from shared.errors import (
    Conflict,
    EventPublishFailed,
    NotFound,
    OpenHelmError,
    RateLimited,
    Unprocessable,
)
from shared.ids import is_id
from shared.logging import get_logger, secret_values
from shared.models.common import RunStatus
from shared.models.orgs import Org
from shared.models.run_record import RunRecord
from shared.models.runs import CreateRunRequest, Run, RunError, RunList
from shared.ratelimit import decision_headers
from shared.runs.envelope import envelope, get_run, run_summary
from shared.runs.lifecycle import fail_run, finish_run
from shared.schemas import check_output_schema
from shared.services import Services
from shared.templating import render
from shared.webhooks.ssrf import check_webhook_url

log = get_logger(__name__)
_LIMIT_FIELDS = ("max_duration_s", "max_steps", "max_input_tokens", "max_output_tokens")
MAX_RENDERED_PROMPT = 20_000
DEFAULT_INPUT_TIMEOUT_S = 300
DEFAULT_TOOL_TIMEOUT_S = 120


@dataclass(frozen=True)
class CreatedRun:
    run: Run
    replayed: bool  # True when an Idempotency-Key returned an earlier run
    rate: RateDecision | None = None  # the rate limiter's answer (None for an idempotent replay)


def request_hash(req: CreateRunRequest, secrets_key: str = "") -> str:
    body = req.model_dump(mode="json", exclude_none=True)
    if "secrets" in body:  # the idempotency record keeps this hash: no secret value goes into it
        body["secrets"] = run_secrets.hash_view(body["secrets"], secrets_key)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _resolve_limits(org: Org, req: CreateRunRequest) -> dict[str, int]:
    limits: dict[str, int] = {}
    over = []
    for name in _LIMIT_FIELDS:
        cap = getattr(org.limits, name)
        asked = getattr(req, name)
        if asked is not None and asked > cap:
            over.append({"loc": [name], "msg": f"at most {cap} for this org", "limit": cap, "requested": asked})
        limits[name] = asked if asked is not None else cap
    cap = org.limits.max_input_timeout_s
    if req.input_timeout_s is not None and req.input_timeout_s > cap:
        over.append(
            {
                "loc": ["input_timeout_s"],
                "msg": f"at most {cap} for this org",
                "limit": cap,
                "requested": req.input_timeout_s,
            }
        )
    if over:
        raise Unprocessable(
            f"{', '.join(o['loc'][0] for o in over)} above the org's limits",
            code="limit_exceeded",
            details=over,
        )
    return limits


def _validate(svc: Services, org: Org, req: CreateRunRequest) -> tuple[str, str, dict[str, int]]:
    """Everything that can refuse a request before anything is written. Returns (prompt, project, limits)."""
    project_id = req.project_id or org.default_project_id
    # The org's default project always exists; only a project the caller names is looked up.
    if req.project_id and (not is_id(project_id, "prj") or svc.projects.get(org.id, project_id) is None):
        raise Unprocessable(f"no project {project_id}", code="project_not_found", details=[{"loc": ["project_id"]}])
    if req.job_id and (not is_id(req.job_id, "job") or svc.jobs.get(org.id, req.job_id) is None):
        raise Unprocessable(f"no job {req.job_id}", code="job_not_found", details=[{"loc": ["job_id"]}])
    if req.output_schema is not None:
        check_output_schema(req.output_schema)
    if req.webhook_url is not None:
        # Scheme, credentials, port and literal addresses now; every delivery resolves and checks again.
        check_webhook_url(str(req.webhook_url), svc.settings)
    _check_replay(req)
    run_secrets.check_secrets(req.secrets, req.allowed_domains)
    prompt = render(req.prompt, req.inputs)
    if len(prompt) > MAX_RENDERED_PROMPT:
        raise Unprocessable(
            f"the prompt is {len(prompt)} characters once inputs are filled in; at most {MAX_RENDERED_PROMPT}",
            code="prompt_too_long",
        )
    return prompt, project_id, _resolve_limits(org, req)


REPLAY_MODEL = "replay"


def _check_replay(req: CreateRunRequest) -> None:
    replaying = req.replay_of is not None or req.replay_steps is not None
    if req.replay_of is not None and req.replay_steps is not None:
        raise Unprocessable(
            "give replay_of or replay_steps, not both", code="replay_conflict", details=[{"loc": ["replay_steps"]}]
        )
    if replaying and req.model not in (None, REPLAY_MODEL):
        raise Unprocessable(
            f"a replay runs with model '{REPLAY_MODEL}'", code="replay_conflict", details=[{"loc": ["model"]}]
        )
    if req.model == REPLAY_MODEL and not replaying:
        raise Unprocessable(
            "model 'replay' needs replay_of or replay_steps", code="replay_conflict", details=[{"loc": ["model"]}]
        )


def _replay_workflow(svc: Services, org_id: str, req: CreateRunRequest) -> list[dict[str, Any]] | None:
    if req.replay_steps is not None:
        return [s.model_dump() for s in req.replay_steps]
    if req.replay_of is None:
        return None
    source = svc.runs.get(org_id, req.replay_of) if is_id(req.replay_of, "run") else None
    if source is None or source.status != RunStatus.succeeded or not source.steps:
        raise Unprocessable(
            f"replay_of must name a succeeded run with recorded steps; {req.replay_of} is not one",
            code="replay_source_invalid",
        )
    # Keep the actions that worked; a run that repaired its result recorded earlier, refused `done`s.
    good = [st for st in source.steps if not st.get("error")]
    actions = [{"action": st["action"], "args": st.get("args") or {}} for st in good if st["action"] != "done"]
    final = [st for st in good if st["action"] == "done"]
    if not final:
        raise Unprocessable(f"run {req.replay_of} recorded no successful done step", code="replay_source_invalid")
    return [*actions, {"action": "done", "args": final[-1].get("args") or {}}]


def create_run(
    svc: Services,
    org: Org,
    req: CreateRunRequest,
    idempotency_key: str | None = None,
    control_url: str = "",
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> CreatedRun:
    """Validate, rate-limit, write and start a run. ``control_url`` is the API's own base URL, which
    the run's sandbox will call back on (unless configuration names another). A session's task
    names its session (and the run id the session already reserved for it: shared/sessions/service.py)."""
    if session_id and (req.profile_id or req.persist_profile):
        # A session's browser context is the session's, created once at its start: its profile too.
        raise Unprocessable(
            "a session's task cannot take a profile: give profile_id (and persist_profile) when creating the session",
            code="not_supported_in_session",
            details=[{"loc": ["profile_id"]}],
        )
    with secret_values(run_secrets.values(req.secrets)):  # no log line of this request shows one
        return _create_run(svc, org, req, idempotency_key, control_url, session_id=session_id, run_id=run_id)


def _create_run(
    svc: Services,
    org: Org,
    req: CreateRunRequest,
    idempotency_key: str | None,
    control_url: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> CreatedRun:
    key_hash = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else None
    body_hash = request_hash(req, svc.settings.run_token_secret)
    if key_hash:
        existing = svc.runs.get_idempotency(org.id, key_hash)
        if existing is not None:
            return _replay(svc, org, existing, body_hash)

    prompt, project_id, limits = _validate(svc, org, req)
    input_files = files.resolve_run_files(svc, org.id, req.file_ids)  # 422 for another org's or pending ones
    if req.persist_profile and not req.profile_id:
        raise Unprocessable(
            "persist_profile needs a profile_id", code="profile_not_found", details=[{"loc": ["persist_profile"]}]
        )
    model = REPLAY_MODEL if (req.replay_of or req.replay_steps) else (req.model or svc.settings.default_model)
    cap = budget.resolve_cap(org, req.max_cost_usd)
    # The cap also bounds the run's time: max_duration_s becomes the moment sandbox time alone would
    # reach it, if that comes first (the sandbox, the agent and the reaper all go by max_duration_s).
    limits["max_duration_s"], by_cost = budget.time_limit(svc.settings.pricing, limits["max_duration_s"], cap)
    billing.ensure_affordable(svc, org.id, model, limits, cap)  # 402 before anything is written
    decision = svc.rate_limiter.take(
        org.id, per_minute=org.limits.rate_per_minute, burst=org.limits.rate_burst, now_ms=svc.clock.now_ms()
    )
    if not decision.allowed:
        raise RateLimited(
            f"too many runs created; retry in {decision.retry_after_s} s",
            details={"retry_after_s": decision.retry_after_s},
            headers=decision_headers(decision),
        )

    run = Run(
        id=run_id or svc.ids.new("run"),
        session_id=session_id,
        status=RunStatus.queued,
        prompt=prompt,
        inputs=req.inputs,
        output_schema=req.output_schema,
        model=model,
        replay_of=req.replay_of,
        project_id=project_id,
        job_id=req.job_id,
        webhook_url=str(req.webhook_url) if req.webhook_url else None,
        start_url=str(req.start_url) if req.start_url else None,
        allowed_domains=req.allowed_domains or [],
        blocked_domains=req.blocked_domains or [],
        metadata=req.metadata or {},
        secrets=run_secrets.public_info(req.secrets) if req.secrets else None,
        file_ids=req.file_ids,
        profile_id=req.profile_id,
        persist_profile=req.persist_profile,
        created_at=svc.clock.now(),
        max_cost_micros=cap,
        max_cost_usd=billing.usd(cap),
        human_input=req.human_input,
        tools=[t.model_dump() for t in req.tools] if req.tools else None,
        tool_timeout_s=(req.tool_timeout_s or DEFAULT_TOOL_TIMEOUT_S) if req.tools else None,
        input_timeout_s=(req.input_timeout_s or min(DEFAULT_INPUT_TIMEOUT_S, org.limits.max_input_timeout_s))
        if req.human_input
        else None,
        **limits,
    )
    internal: dict[str, Any] = {"deadline_by_cost": True} if by_cost else {}
    if req.secrets:  # sealed with KMS before anything is written; 503 if KMS refuses
        internal.update(run_secrets.seal(svc, org.id, run.id, req.secrets))
        internal.pop("secrets")  # the names are the envelope's already
    if input_files:
        internal["input_files"] = input_files
    if req.profile_id:  # 422 if the org has no such profile; 409 if another run is writing it
        deadline_s = int(run.created_at.timestamp()) + limits["max_duration_s"] + svc.settings.sandbox_grace_s
        profiles.claim_for_run(svc, org.id, req.profile_id, run.id, req.persist_profile, deadline_s)
    record = RunRecord(
        **run.model_dump(),
        org_id=org.id,
        replay=_replay_workflow(svc, org.id, req),
        control_url=control_url or None,
        **internal,
    )
    idem = None
    if key_hash:
        idem = {
            "key_hash": key_hash,
            "body_hash": body_hash,
            "run_id": run.id,
            "expires_at": svc.clock.now_ms() // 1000 + svc.settings.idempotency_ttl_s,
        }
    try:
        svc.runs.create(record, idem)
    except IdempotencyConflict as exc:  # a concurrent request with the same key won the race
        return _replay(svc, org, exc.record, body_hash)
    _start(svc, record)
    return CreatedRun(run=run, replayed=False, rate=decision)


def _replay(svc: Services, org: Org, record: dict[str, Any], body_hash: str) -> CreatedRun:
    if record.get("body_hash") != body_hash:
        raise Conflict(
            "this Idempotency-Key was used with a different request body",
            code="idempotency_key_reused",
        )
    run = svc.runs.get(org.id, record["run_id"], consistent=True)
    if run is None:  # pragma: no cover - the run and its key are written in one transaction
        raise NotFound("the run of this Idempotency-Key no longer exists", code="run_not_found")
    if run.status == RunStatus.queued:
        # The first request may have died between writing the run and starting it; starting again
        # is safe because executions are named by the run id.
        _start(svc, run, publish=False)
    return CreatedRun(run=envelope(svc, run), replayed=True)


def _start(svc: Services, run: RunRecord, publish: bool = True) -> None:
    try:
        svc.orchestrator.start(run.id, run.org_id)
    except OpenHelmError:
        fail_run(svc, run.org_id, run.id, "ORCHESTRATION_UNAVAILABLE", "the run could not be started")
        raise
    if publish:
        try:
            svc.events.publish("Run Queued", run_summary(run), resources=[run.id])
        except EventPublishFailed as exc:  # the run is started; a missing integration event must not fail it
            log.error("run_queued_event_failed", run_id=run.id, error=exc.message)


def list_runs(
    svc: Services,
    org_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: RunStatus | None,
    project_id: str | None,
    job_id: str | None,
) -> RunList:
    items, next_cursor = svc.runs.list(
        org_id, limit=limit, cursor=cursor, status=status, project_id=project_id, job_id=job_id
    )
    return RunList(data=[envelope(svc, i) for i in items], next_cursor=next_cursor)


def cancel_run(svc: Services, org_id: str, run_id: str) -> Run:
    get_run(svc, org_id, run_id)  # 404 before anything else
    error = RunError(code="CANCELLED", message="cancelled by request").model_dump()
    run = finish_run(svc, org_id, run_id, RunStatus.cancelled, {"error": error})
    if run is None:
        current = get_run(svc, org_id, run_id)
        raise Conflict(
            f"run {run_id} is already {current.status.value} and cannot be cancelled",
            code="run_not_cancellable",
            details={"status": current.status.value},
        )
    if run.task_token:
        # The execution is waiting on the sandbox: fail its task so the Catch path kills the sandbox now.
        # A run without a token yet is noticed by the next state (it checks the status first).
        svc.orchestrator.fail_task(run.task_token, "CANCELLED", "cancelled by request")
    return envelope(svc, run)


def wait_for_terminal(svc: Services, org_id: str, run_id: str, seconds: float, poll_s: float = 0.25) -> Run | None:
    """Poll until the run is terminal or ``seconds`` pass; the run if terminal, else None."""
    deadline = svc.clock.monotonic() + seconds
    while True:
        run = svc.runs.get(org_id, run_id, consistent=True)
        if run and run.status.is_terminal:
            return envelope(svc, run)
        remaining = deadline - svc.clock.monotonic()
        if remaining <= 0:
            return None
        svc.clock.sleep(min(poll_s, remaining))


__all__ = [
    "CreatedRun",
    "cancel_run",
    "create_run",
    "fail_run",
    "finish_run",
    "get_run",
    "list_runs",
    "request_hash",
    "wait_for_terminal",
]
