"""The webhook queue: enqueue a run event, process one SQS record, redeliver on request.

Message body: ``{"org_id", "run_id", "event_type", "redelivery"}`` (from :func:`enqueue`), or the
detail of an ``Evidence Ready`` event (``{"org_id", "run_id", "status", ...}``, routed by an
EventBridge rule), whose event type is that of the terminal ``status``. The delivery function processes
each record with :func:`process_sqs_record`; a record that still has undelivered targets is made
invisible for the next backoff delay (ChangeMessageVisibility) and reported as a batch item failure,
so SQS hands it back then. The attempt number is the record's ``ApproximateReceiveCount``. After the
last attempt the undelivered targets are marked ``exhausted`` and the record is reported failed once
more, so the queue's redrive policy (maxReceiveCount = attempts) moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
import random
from typing import Any

from pydantic import Field, ValidationError, model_validator

from shared.aws.webhook_queue import WebhookQueueUnavailable
from shared.errors import Conflict, NotFound
from shared.ids import is_id
from shared.logging import bind_context, clear_context, get_logger
from shared.models.common import Model, RunStatus
from shared.models.runs import Run
from shared.models.webhooks import SESSION_EVENT_TYPES, EventType, RedeliveryAccepted
from shared.runs.envelope import get_run, public_run
from shared.services import Services
from shared.viewer.service import with_viewer_url
from shared.webhooks.delivery import DeliveryOutcome, deliver_event, deliver_session_event, mark_exhausted, webhook_id
from shared.webhooks.retry import max_attempts, retry_delay_s
from shared.webhooks.ssrf import Resolver

log = get_logger(__name__)

EVENT_FOR_STATUS: dict[RunStatus, str] = {
    RunStatus.succeeded: "run.succeeded",
    RunStatus.failed: "run.failed",
    RunStatus.cancelled: "run.cancelled",
}


class WebhookMessage(Model):
    """A queued run event, or a session's; other fields (of an Evidence Ready or a Session Started /
    Closed detail) are ignored."""

    org_id: str
    run_id: str | None = None
    session_id: str | None = None  # Session Started / Closed: the session's (never with run_id)
    event_type: EventType | None = None
    # Evidence Ready: the run's terminal status; Session Started / Closed: the session's status.
    status: str | None = None
    redelivery: bool = False
    # An event a run can have more than once (run.needs_input, run.tool_call): the request or call id,
    # so that each occurrence is its own delivery with its own webhook-id.
    occurrence: str | None = Field(None, pattern=r"^[a-z]{2,8}_[A-Za-z0-9]{1,64}$")

    @model_validator(mode="after")
    def _event_type(self) -> WebhookMessage:
        if (self.run_id is None) == (self.session_id is None):
            raise ValueError("one of run_id and session_id is required")
        if self.session_id is not None:
            if self.event_type is None:
                self.event_type = "session.started" if self.status == "ready" else "session.closed"  # type: ignore[assignment]
            if self.event_type not in SESSION_EVENT_TYPES:
                raise ValueError(f"{self.event_type} is not a session event")
            return self
        if self.event_type is None:
            derived = event_for_status(self.status) if self.status else None
            if derived is None:
                raise ValueError("event_type, or the terminal status of the run, is required")
            self.event_type = derived  # type: ignore[assignment]
        return self


def event_for_status(status: RunStatus | str) -> str | None:
    """The webhook event type of a terminal status (None for a run that has not finished)."""
    return EVENT_FOR_STATUS.get(RunStatus(status))


def enqueue(
    svc: Services, org_id: str, run_id: str, event_type: str, redelivery: bool = False, occurrence: str | None = None
) -> None:
    """Queue the delivery of a run event (``occurrence``: which one, for an event a run can have more
    than once). Raises ServiceUnavailable if the queue cannot be reached."""
    message = WebhookMessage(
        org_id=org_id,
        run_id=run_id,
        event_type=event_type,  # type: ignore[arg-type]
        redelivery=redelivery,
        occurrence=occurrence,
    )
    fields = {"org_id", "run_id", "event_type", "redelivery", "occurrence"}
    body = message.model_dump_json(include=fields, exclude_none=True)
    svc.webhook_queue.send(body)


def _postpone(svc: Services, record: dict[str, Any], delay: int) -> None:
    try:
        svc.webhook_queue.postpone(record.get("eventSourceARN", ""), record["receiptHandle"], delay)
    except WebhookQueueUnavailable as exc:  # the queue's own visibility timeout applies instead
        log.error("webhook_postpone_failed", delay_s=delay, error=exc.message)


def process_sqs_record(
    svc: Services,
    record: dict[str, Any],
    *,
    rng: random.Random | None = None,
    resolver: Resolver | None = None,
    tls_context: Any = None,
) -> bool:
    """Deliver the record's event. True when it is done with (delete it); False when SQS should
    keep it (a retry is scheduled, or attempts are exhausted and the redrive policy takes it)."""
    try:
        msg = WebhookMessage.model_validate(json.loads(record["body"]))
    except (ValueError, ValidationError) as exc:
        log.error("webhook_message_invalid", message_id=record.get("messageId"), error=str(exc)[:500])
        return False  # left for the dead-letter queue, where it can be inspected
    attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    schedule = svc.settings.webhook_retry_schedule_s
    limit = max_attempts(schedule)
    subject = msg.session_id or msg.run_id
    ctx = {"run_id": subject, "org_id": msg.org_id, "event_type": msg.event_type, "attempt": attempt}
    if attempt > limit:
        log.warning("webhook_already_exhausted", **ctx)
        return False

    assert subject is not None and msg.event_type is not None  # the validator's
    if msg.session_id is not None:
        outcome = _deliver_session(
            svc, msg.org_id, msg.session_id, msg.event_type, resolver, tls_context, redelivery=msg.redelivery
        )
        if outcome is None:
            log.warning("webhook_session_missing", session_id=msg.session_id, **ctx)
            return True
    else:
        run = _payload_run(svc, msg.org_id, subject)
        if run is None:
            log.warning("webhook_run_missing", **ctx)
            return True
        outcome = deliver_event(
            svc,
            msg.org_id,
            subject,
            msg.event_type,
            run.model_dump(mode="json"),
            redelivery=msg.redelivery,
            resolver=resolver,
            tls_context=tls_context,
            occurrence=msg.occurrence,
        )
    if outcome.delivered:
        return True
    if attempt < limit:
        delay = retry_delay_s(attempt, schedule, rng)
        _postpone(svc, record, delay)
        log.info("webhook_retry_scheduled", delay_s=delay, failed=outcome.failed, **ctx)
        return False
    mark_exhausted(svc, msg.org_id, subject, msg.event_type, redelivery=msg.redelivery, occurrence=msg.occurrence)
    return False


def _deliver_session(
    svc: Services,
    org_id: str,
    session_id: str,
    event_type: str,
    resolver: Resolver | None,
    tls_context: Any,
    *,
    redelivery: bool = False,
) -> DeliveryOutcome | None:
    """A session's event with the session envelope as its data; None if there is no such session."""
    from shared.sessions.envelope import get_session  # the sessions domain only when a session event comes

    try:
        session = get_session(svc, org_id, session_id)
    except NotFound:
        return None
    event_time = session.ready_at if event_type == "session.started" else session.closed_at
    return deliver_session_event(
        svc,
        org_id,
        session_id,
        event_type,
        session.model_dump(mode="json"),
        event_time,
        resolver=resolver,
        tls_context=tls_context,
        redelivery=redelivery,
    )


def _payload_run(svc: Services, org_id: str, run_id: str) -> Run | None:
    """The run envelope a delivery carries, with a fresh signed ``viewer_url`` (minted at each attempt,
    good for OPENHELM_VIEWER_URL_TTL_S) on the API's base URL: the configured one, else the one the run
    was created through. None if the org has no such run."""
    record = svc.runs.get(org_id, run_id) if is_id(run_id, "run") else None
    if record is None:
        return None
    run = public_run(svc, record)
    base = svc.settings.public_url or record.control_url
    return with_viewer_url(svc, run, org_id, base) if base else run


def redeliver(svc: Services, org_id: str, run_id: str) -> RedeliveryAccepted:
    """Send a finished run's event again to all its targets (same webhook-id)."""
    run = get_run(svc, org_id, run_id)
    event_type = event_for_status(run.status)
    if event_type is None:
        raise Conflict(
            f"run {run_id} is {run.status.value}; only a finished run's event can be redelivered",
            code="run_not_finished",
            details={"status": run.status.value},
        )
    svc.webhooks.reset_delivery(org_id, run_id, event_type)
    enqueue(svc, org_id, run_id, event_type, redelivery=True)
    return RedeliveryAccepted(run_id=run_id, event_type=event_type, webhook_id=webhook_id(run_id, event_type))  # type: ignore[arg-type]


def process_sqs_batch(svc: Services, records: list[dict[str, Any]]) -> list[str]:
    """Process a batch's records concurrently; the message ids to report as batch item failures.

    Concurrently because of the function's Timeout: one record whose receivers all time out takes up to
    ceil(21 targets / 8 at a time) x (connect + read timeout), about 40 s, so ten of them in a row would
    overrun the 120 s Timeout, and SQS would hand the whole batch back with every record's receive
    count (its attempt number) raised. Side by side, a batch takes about as long as its slowest record.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(record: dict[str, Any]) -> bool:
        clear_context()
        bind_context(message_id=record.get("messageId"))
        try:
            return process_sqs_record(svc, record)
        except Exception:  # one bad record must not fail the batch; SQS retries it
            log.exception("webhook_record_failed")
            return False
        finally:
            clear_context()

    if not records:
        return []
    with ThreadPoolExecutor(max_workers=len(records), thread_name_prefix="webhook-record") as pool:
        done = list(pool.map(one, records))
    return [r["messageId"] for r, ok in zip(records, done, strict=True) if not ok]
