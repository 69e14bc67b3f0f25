"""Deliver one run event to its targets: the run's own ``webhook_url`` and the org's endpoints
subscribed to the event type.

Every target's progress is kept in the (run, event) delivery state, so a retry re-sends only to
targets that have not answered 2xx yet. Every attempt is appended to the run's delivery log. The
``webhook-id`` is derived from (run, event type): the same on every retry and redelivery, so
receivers can deduplicate. The payload follows Standard Webhooks:
``{"type": "run.succeeded", "timestamp": <event time>, "data": <run envelope>}``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter

from shared.errors import NotFound
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.run_record import RunRecord
from shared.models.webhooks import DeliveryAttempt, DeliveryList
from shared.services import Services
from shared.webhooks import signing, transport
from shared.webhooks.endpoints import subscribed
from shared.webhooks.secrets import signing_secrets
from shared.webhooks.ssrf import Resolver, UrlNotAllowed, UrlPolicy, check_url

log = get_logger(__name__)

RUN_TARGET = "run"  # the target key of the run's own webhook_url
LOG_TTL_S = 30 * 24 * 3600  # delivery log and state expire (DynamoDB TTL) after 30 days
MAX_PARALLEL = 8
_DATETIME = TypeAdapter(datetime)


@dataclass(frozen=True)
class Target:
    key: str  # RUN_TARGET or an endpoint id
    url: str


@dataclass(frozen=True)
class DeliveryOutcome:
    webhook_id: str
    delivered: bool  # every target has answered 2xx (in this call or an earlier one)
    sent: list[str] = field(default_factory=list)  # target keys attempted in this call
    failed: list[str] = field(default_factory=list)  # target keys still not delivered


def webhook_id(run_id: str, event_type: str, occurrence: str | None = None) -> str:
    """The stable ``webhook-id`` of a run's event (of its ``occurrence``, for an event a run can have
    more than once: each input request or tool call is its own message)."""
    base = f"msg_{run_id}_{event_type.replace('.', '_')}"
    return f"{base}_{occurrence}" if occurrence else base


def state_key(event_type: str, occurrence: str | None = None) -> str:
    """What the delivery state of one event is kept under (shared/db/webhooks.py)."""
    return f"{event_type}#{occurrence}" if occurrence else event_type


def _targets(svc: Services, org_id: str, run: RunRecord, event_type: str) -> list[Target]:
    targets = [Target(RUN_TARGET, run.webhook_url)] if run.webhook_url else []
    targets += [Target(e.id, e.url) for e in subscribed(svc, org_id, event_type)]
    return targets


def _expires_at(svc: Services) -> int:
    return svc.clock.now_ms() // 1000 + LOG_TTL_S


def _iso(value: str) -> str:
    """A stored ISO time in the API's own format (as the run envelope renders times)."""
    return str(_DATETIME.dump_python(datetime.fromisoformat(value), mode="json"))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@dataclass
class _Round:
    """What one call to deliver_event shares between its targets."""

    svc: Services
    org_id: str
    run_id: str
    event_type: str
    state_key: str
    webhook_id: str
    body: str
    secrets: list[str]
    redelivery: bool
    resolver: Resolver | None
    tls_context: Any


def _attempt(r: _Round, target: Target, prior: dict[str, Any]) -> bool:
    svc = r.svc
    number = int(prior.get("attempts", 0)) + 1
    try:
        checked = check_url(target.url, UrlPolicy.from_settings(svc.settings), resolver=r.resolver)
    except UrlNotAllowed as exc:
        result = transport.HttpResult(None, exc.message, 0)
    else:
        timestamp = int(svc.clock.now().timestamp())
        result = transport.post(
            checked,
            r.body.encode(),
            signing.headers(r.secrets, r.webhook_id, timestamp, r.body),
            connect_timeout=svc.settings.webhook_connect_timeout_s,
            read_timeout=svc.settings.webhook_read_timeout_s,
            monotonic=svc.clock.monotonic,
            tls_context=r.tls_context,
        )
    now = svc.clock.now()
    attempt = DeliveryAttempt(
        id=svc.ids.new("dlv"),
        run_id=r.run_id,
        event_type=r.event_type,  # type: ignore[arg-type]
        webhook_id=r.webhook_id,
        target=target.key,
        url=target.url,
        attempt=number,
        outcome="delivered" if result.ok else "failed",
        status_code=result.status,
        error=result.error,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        redelivery=r.redelivery,
        created_at=now,
    )
    svc.webhooks.put_attempt(r.org_id, attempt, _expires_at(svc))
    state = {
        "url": target.url,
        "attempts": number,
        "last_status": result.status,
        "last_error": result.error,
        "delivered_at": now.isoformat() if result.ok else None,
    }
    svc.webhooks.record_target(r.org_id, r.run_id, r.state_key, target.key, state)
    log.info(
        "webhook_attempt",
        run_id=r.run_id,
        event_type=r.event_type,
        target=target.key,
        host=_host(target.url),
        attempt=number,
        status_code=result.status,
        ok=result.ok,
        error=result.error,
        duration_ms=result.duration_ms,
    )
    return result.ok


def deliver_event(
    svc: Services,
    org_id: str,
    run_id: str,
    event_type: str,
    payload_data: dict[str, Any],
    *,
    redelivery: bool = False,
    resolver: Resolver | None = None,
    tls_context: Any = None,
    occurrence: str | None = None,
) -> DeliveryOutcome:
    """Send the event to every target that has not received it yet. Never raises for receiver
    failures (they are logged and returned); data-store failures propagate."""
    run = svc.runs.get(org_id, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    targets = _targets(svc, org_id, run, event_type)
    when = run.finished_at
    return _deliver(
        svc, org_id, run_id, event_type, payload_data, targets, when, redelivery, resolver, tls_context, occurrence
    )


def deliver_session_event(
    svc: Services,
    org_id: str,
    session_id: str,
    event_type: str,
    payload_data: dict[str, Any],
    event_time: datetime | None,
    *,
    resolver: Resolver | None = None,
    tls_context: Any = None,
    redelivery: bool = False,
) -> DeliveryOutcome:
    """A session's event (session.started / session.closed) to the org's endpoints that name it (a
    session has no webhook_url of its own), with the delivery state, retries and signing of a run's;
    the webhook-id is derived from (session, event type)."""
    targets = [Target(e.id, e.url) for e in subscribed(svc, org_id, event_type)]
    return _deliver(
        svc, org_id, session_id, event_type, payload_data, targets, event_time, redelivery, resolver, tls_context
    )


def _deliver(
    svc: Services,
    org_id: str,
    run_id: str,
    event_type: str,
    payload_data: dict[str, Any],
    targets: list[Target],
    event_time: datetime | None,
    redelivery: bool,
    resolver: Resolver | None,
    tls_context: Any,
    occurrence: str | None = None,
) -> DeliveryOutcome:
    """``run_id``: the subject's id (a run's, or a session's)."""
    wid = webhook_id(run_id, event_type, occurrence)
    key = state_key(event_type, occurrence)
    if not targets:
        return DeliveryOutcome(webhook_id=wid, delivered=True)
    now = svc.clock.now()
    state = svc.webhooks.start_delivery(
        org_id,
        run_id,
        key,
        webhook_id=wid,
        now=(event_time or now).isoformat(),
        expires_at=_expires_at(svc),
    )
    done = {k for k, t in (state.get("targets") or {}).items() if t.get("delivered_at")}
    pending = [t for t in targets if t.key not in done]
    if pending:
        body = json.dumps(
            {"type": event_type, "timestamp": _iso(state["event_time"]), "data": payload_data},
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
        r = _Round(
            svc,
            org_id,
            run_id,
            event_type,
            key,
            wid,
            body,
            signing_secrets(svc, org_id),
            redelivery,
            resolver,
            tls_context,
        )
        priors = state.get("targets") or {}
        if len(pending) == 1:
            oks = [_attempt(r, pending[0], priors.get(pending[0].key) or {})]
        else:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(pending))) as pool:
                oks = list(pool.map(lambda t: _attempt(r, t, priors.get(t.key) or {}), pending))
        failed = [t.key for t, ok in zip(pending, oks, strict=True) if not ok]
    else:
        failed = []
    if not failed and state.get("final") != "delivered":
        svc.webhooks.finish_delivery(org_id, run_id, key, "delivered", now.isoformat())
    return DeliveryOutcome(webhook_id=wid, delivered=not failed, sent=[t.key for t in pending], failed=failed)


def mark_exhausted(
    svc: Services,
    org_id: str,
    run_id: str,
    event_type: str,
    *,
    redelivery: bool = False,
    occurrence: str | None = None,
) -> int:
    """No attempts left: log an ``exhausted`` entry for every target still undelivered and mark the
    delivery final. Returns how many targets were given up."""
    key = state_key(event_type, occurrence)
    state = svc.webhooks.get_delivery(org_id, run_id, key) or {}
    now = svc.clock.now()
    given_up = 0
    for target_key, t in sorted((state.get("targets") or {}).items()):
        if t.get("delivered_at"):
            continue
        given_up += 1
        attempt = DeliveryAttempt(
            id=svc.ids.new("dlv"),
            run_id=run_id,
            event_type=event_type,  # type: ignore[arg-type]
            webhook_id=webhook_id(run_id, event_type, occurrence),
            target=target_key,
            url=t.get("url", ""),
            attempt=int(t.get("attempts", 0)),
            outcome="exhausted",
            status_code=t.get("last_status"),
            error=f"gave up after {t.get('attempts', 0)} attempts; last error: {t.get('last_error')}",
            redelivery=redelivery,
            created_at=now,
        )
        svc.webhooks.put_attempt(org_id, attempt, _expires_at(svc))
    svc.webhooks.finish_delivery(org_id, run_id, key, "exhausted", now.isoformat())
    log.warning("webhook_exhausted", run_id=run_id, event_type=event_type, targets=given_up)
    return given_up


def list_deliveries(
    svc: Services, org_id: str, run_id: str, limit: int = 50, cursor: str | None = None
) -> DeliveryList:
    """The run's delivery attempts, newest first; 404 for an unknown run (or another org's)."""
    if not is_id(run_id, "run") or svc.runs.get(org_id, run_id) is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    items, next_cursor = svc.webhooks.list_attempts(org_id, run_id, limit, cursor)
    return DeliveryList(data=items, next_cursor=next_cursor)
