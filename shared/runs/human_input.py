"""Asking a person: the agent's ``ask_human`` puts its run in ``needs_input``; the caller's answer
puts it back to ``running`` and is handed to the agent once.

Delivery to the agent is a bounded long poll on its callback channel (``GET
/internal/runs/{id}/input``, each poll well under API Gateway's 30 s): :func:`take_answer` is the
one place that hands an answer over, so a push through the sandbox provider (sessions) can call it
and send the answer instead of the agent polling.

Waiting does not use up the run: the time between the question and the answer is added to
``paused_s`` (RunRecord.deadline, which the agent, the LLM gateway, Cleanup and the reaper all go
by) and is not billed as sandbox time. The input deadline (``input_timeout_s``) does run: past it the
poll says so and the agent ends ``INPUT_TIMEOUT``; the reaper ends the run if the agent is gone.

Answers are secrets: kept on the run only sealed (encrypt-then-MAC under a key derived from the token
secret) until the agent fetches it, then removed; never logged, never in events or step records.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime, timedelta
from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Conflict, EventPublishFailed, NotFound, ServiceUnavailable, Unprocessable
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import InputAnswer
from shared.runs import sandbox_pause
from shared.runs.envelope import run_summary
from shared.runs.lifecycle import move
from shared.schemas import check_output_schema
from shared.services import Services
from shared.webhooks.queue import enqueue

log = get_logger(__name__)
MAX_QUESTION = 2000
MAX_ANSWER_BYTES = 16_384
# Longest a run may wait in all (its sandbox and its Step Functions task live this much longer).
MAX_ASKS = 3
TOOL_WAITS = 4  # a run's custom-tool calls may wait this many tool_timeout_s in all


def wait_allowance_s(run: RunRecord) -> int:
    """Extra lifetime the run's sandbox and task get for its waits (0 for a run that never waits)."""
    asks = MAX_ASKS * (run.input_timeout_s or 0) if run.human_input else 0
    tools = TOOL_WAITS * (run.tool_timeout_s or 0) if run.tools else 0
    return asks + tools


# -- sealing ---------------------------------------------------------------------------------------
# The Lambda layer has no cryptography package; HMAC-SHA256 as a keystream (counter mode) plus an
# HMAC tag over nonce and ciphertext is standard encrypt-then-MAC from hashlib/hmac alone.
def _keys(secret: str | bytes) -> tuple[bytes, bytes]:
    raw = secret.encode() if isinstance(secret, str) else secret
    root = hashlib.sha256(b"openhelm-input-answer\0" + raw).digest()
    return hmac.digest(root, b"enc", "sha256"), hmac.digest(root, b"mac", "sha256")


def _stream(key: bytes, nonce: bytes, n: int) -> bytes:
    blocks = (hmac.digest(key, nonce + i.to_bytes(4, "big"), "sha256") for i in range((n + 31) // 32))
    return b"".join(blocks)[:n]


def seal(secret: str | bytes, value: Any) -> str:
    plain = json.dumps(value, separators=(",", ":")).encode()
    enc, mac = _keys(secret)
    nonce = os.urandom(16)
    cipher = bytes(a ^ b for a, b in zip(plain, _stream(enc, nonce, len(plain)), strict=True))
    tag = hmac.digest(mac, nonce + cipher, "sha256")
    return base64.b64encode(nonce + tag + cipher).decode()


def unseal(secret: str | bytes, sealed: str) -> Any:
    raw = base64.b64decode(sealed)
    nonce, tag, cipher = raw[:16], raw[16:48], raw[48:]
    enc, mac = _keys(secret)
    if not hmac.compare_digest(tag, hmac.digest(mac, nonce + cipher, "sha256")):
        raise ValueError("sealed answer does not verify")
    return json.loads(bytes(a ^ b for a, b in zip(cipher, _stream(enc, nonce, len(cipher)), strict=True)))


# -- the agent asks --------------------------------------------------------------------------------
def ask(svc: Services, org_id: str, run_id: str, question: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """running -> needs_input with the question; the input request. Conflict if the run is not
    running or may not ask; 422 if ``schema`` is not a valid JSON Schema."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if not run.human_input:
        raise Conflict("this run was started with human_input false", code="human_input_off")
    if schema is not None:
        check_output_schema(schema, field="schema")
    now = svc.clock.now()
    request = {
        "id": svc.ids.new("inp"),
        "question": question[:MAX_QUESTION],
        "schema": schema,
        "asked_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=run.input_timeout_s or 300)).isoformat(),
    }
    try:
        item = move(
            svc,
            org_id,
            run_id,
            frm=[RunStatus.running],
            to=RunStatus.needs_input,
            fields={"input_request": request, "paused_since": now.isoformat()},
        )
    except ConditionalCheckFailed as exc:
        raise Conflict("the run is not running", code="run_not_active") from exc
    _announce(svc, item)
    log.info("input_requested", run_id=run_id, request_id=request["id"])
    return request


def _announce(svc: Services, item: RunRecord) -> None:
    """``Run Needs Input`` on the bus and the ``run.needs_input`` webhook; a failure is logged (the
    caller can still see the request on the envelope)."""
    detail = {**run_summary(item), "input_request_id": (item.input_request or {}).get("id")}
    try:
        svc.events.publish("Run Needs Input", detail, resources=[item.id])
    except EventPublishFailed as exc:
        log.error("run_needs_input_event_failed", run_id=item.id, error=exc.message)
    try:
        enqueue(svc, item.org_id, item.id, "run.needs_input", occurrence=(item.input_request or {}).get("id"))
    except ServiceUnavailable as exc:
        log.error("run_needs_input_webhook_failed", run_id=item.id, error=exc.message)


# -- the caller answers ----------------------------------------------------------------------------
def answer(svc: Services, org_id: str, run_id: str, body: InputAnswer) -> RunRecord:
    """Check the answer against the open request's schema and resume the run. 409 for a request
    that is not the open one (answered, expired or unknown); 422 with details[].loc for an answer
    that does not match."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    request = run.input_request or {}
    now = svc.clock.now()
    if run.status != RunStatus.needs_input or request.get("id") != body.request_id:
        raise Conflict("no open input request with this id", code="input_request_stale")
    if now >= datetime.fromisoformat(request["expires_at"]):
        raise Conflict("the input request expired", code="input_request_stale")
    if len(json.dumps(body.answer)) > MAX_ANSWER_BYTES:
        raise Unprocessable("the answer is too large", code="answer_too_large", details=[{"loc": ["body", "answer"]}])
    _check_answer(request.get("schema"), body.answer)
    return _resume(
        svc, run, now, {"request_id": body.request_id, "sealed": seal(svc.settings.token_secret(), body.answer)}
    )


def _check_answer(schema: dict[str, Any] | None, value: Any) -> None:
    if schema is None:
        if not isinstance(value, str):
            raise Unprocessable(
                "the answer must be a string",
                code="answer_invalid",
                details=[{"loc": ["body", "answer"], "msg": "not a string"}],
            )
        return
    # Imported on the first answer with a schema, for cold start: jsonschema (attrs, referencing, its
    # format checkers) is ~60 ms of the API function's import and this module is on every route table.
    from jsonschema.validators import validator_for

    errors = sorted(validator_for(schema)(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        # Messages name the schema's rule, never the value (it may be a secret).
        details = [
            {"loc": ["body", "answer", *e.absolute_path], "msg": f"fails '{e.validator}'", "type": "answer_invalid"}
            for e in errors[:20]
        ]
        raise Unprocessable("the answer does not match the request's schema", code="answer_invalid", details=details)


def _resume(svc: Services, run: RunRecord, now: datetime, sealed: dict[str, str] | None) -> RunRecord:
    paused_s = run.paused_total_s(now)
    waited = paused_s - run.paused_s
    request_id = (run.input_request or {}).get("id")
    fields: dict[str, Any] = {
        "input_request": None,
        "paused_since": None,
        "paused_s": paused_s,
        "answered_requests": [*run.answered_requests, request_id][-20:],
        "input_sealed": sealed,
    }
    try:
        item = move(svc, run.org_id, run.id, frm=[RunStatus.needs_input], to=RunStatus.running, fields=fields)
    except ConditionalCheckFailed as exc:
        raise Conflict("no open input request with this id", code="input_request_stale") from exc
    sandbox_pause.resume_if_paused(svc, item, now)
    log.info(
        "input_resumed", run_id=run.id, request_id=request_id, waited_s=round(waited, 3), answered=sealed is not None
    )
    return item


# -- the agent collects ----------------------------------------------------------------------------
def take_answer(svc: Services, org_id: str, run_id: str, request_id: str) -> dict[str, Any]:
    """One look for the answer to ``request_id``: {"status": "answered", "answer": ...} (handed over
    once, then removed from the run), {"status": "waiting", "expires_at"}, or {"status": "expired"}
    (the run is back to running, its wait counted as paused, and the agent ends INPUT_TIMEOUT).
    Beats the run's task heartbeat while it waits."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    sealed = run.input_sealed or {}
    if sealed.get("request_id") == request_id:
        value = unseal(svc.settings.token_secret(), sealed["sealed"])
        try:
            svc.runs.transition(
                org_id, run_id, from_statuses=[RunStatus.running], to_status=None, fields={"input_sealed": None}
            )
        except ConditionalCheckFailed as exc:
            raise Conflict("the run is not running; stop", code="run_not_active") from exc
        return {"status": "answered", "answer": value, "paused_s": run.paused_s}
    request = run.input_request or {}
    if run.status != RunStatus.needs_input or request.get("id") != request_id:
        if request_id in run.answered_requests and run.status == RunStatus.running:
            return {"status": "expired", "paused_s": run.paused_s}
        raise Conflict("no open input request with this id", code="run_not_active")
    now = svc.clock.now()
    if now >= datetime.fromisoformat(request["expires_at"]):
        item = _resume(svc, run, now, None)
        return {"status": "expired", "paused_s": item.paused_s}
    if run.task_token:
        svc.orchestrator.heartbeat(run.task_token)
    sandbox_pause.maybe_pause(svc, run, now)
    return {"status": "waiting", "expires_at": request["expires_at"]}
