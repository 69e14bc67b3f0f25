"""Direct browser actions of a session (no LLM), synchronous: pushed into the sandbox, the reply
awaited within a bound that fits API Gateway's 30 s, the step's screenshot copied to the evidence
bucket and the step kept in the session's history."""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import BaseModel

from shared import files
from shared.aws.evidence_store import EvidenceStoreUnavailable
from shared.aws.file_store import FileStoreUnavailable
from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import ServiceUnavailable
from shared.logging import get_logger
from shared.models.sessions import ActionResult, SessionStatus
from shared.sandbox.base import SandboxError, SandboxFile
from shared.schemas import check_output_schema
from shared.services import Services
from shared.sessions import commands
from shared.sessions.envelope import load, wrong_state
from shared.sessions.paths import SESSION_DIR
from shared.sessions.service import keep_alive_for

log = get_logger(__name__)
# The agent gives an action 20 s (session_actions.ACTION_BUDGET_S); the screenshot and the record
# follow. The whole request stays under API Gateway's 30 s.
REPLY_TIMEOUT_S = 24.0
MAX_STEPS_KEPT = 200


def act(svc: Services, org_id: str, session_id: str, action: BaseModel) -> ActionResult:
    """A direct action of a ready session or one whose task is paused (a taken-over session's
    actions are :func:`shared.sessions.manual.manual_action`)."""
    item = load(svc, org_id, session_id)
    status = SessionStatus(item["status"])
    if status not in (SessionStatus.ready, SessionStatus.paused):
        raise wrong_state(
            item,
            "take a direct action" + (" while a task runs (pause it first)" if status == SessionStatus.busy else ""),
        )
    return perform(svc, org_id, item, action, by="api", statuses=[SessionStatus.ready, SessionStatus.paused])


def perform(
    svc: Services,
    org_id: str,
    item: dict[str, Any],
    action: BaseModel,
    *,
    by: str,
    statuses: list[SessionStatus],
    fields: dict[str, Any] | None = None,
) -> ActionResult:
    """Push one action into the session's sandbox and keep its step (marked ``by``); ``fields``
    go into the session record with the step, while it is in one of ``statuses``."""
    session_id = item["id"]
    body = action.model_dump(mode="json", exclude_none=True)
    name = body.pop("action")
    if body.get("output_schema") is not None:  # 422 before anything reaches the browser
        check_output_schema(body["output_schema"], field="output_schema")
    sandbox_id = item["sandbox_id"]
    if name == "upload_file":
        body = _place_file(svc, org_id, sandbox_id, body)
    command_id = commands.send(svc, sandbox_id, "action", action=name, args=body, by=by)
    reply = commands.await_reply(svc, sandbox_id, command_id, REPLY_TIMEOUT_S)
    if reply is None:
        raise ServiceUnavailable(
            f"the browser did not finish {name} within {REPLY_TIMEOUT_S:g} s", code="action_timeout"
        )
    step = reply.get("step") if isinstance(reply.get("step"), dict) else None
    fields = {**(fields or {}), "last_active_at": svc.clock.now().isoformat()}
    if step is not None:
        step = {**step, "by": by}
        if by == "person" and "text" in (step.get("args") or {}):  # never kept: its length only
            args = dict(step["args"])
            args["text_length"] = len(str(args.pop("text")))
            step["args"] = args
        step = _keep_screenshot(svc, org_id, session_id, sandbox_id, step)
        fields.update({"current_url": step.get("url"), "current_title": step.get("title")})
        if step.get("screenshot_key"):
            fields["screenshot_key"] = step["screenshot_key"]
        with contextlib.suppress(ConditionalCheckFailed):
            svc.sessions.append_step(org_id, session_id, step, MAX_STEPS_KEPT)
    with contextlib.suppress(ConditionalCheckFailed):  # closed meanwhile: the action's answer still stands
        svc.sessions.transition(org_id, session_id, from_statuses=statuses, to_status=None, fields=fields)
    keep_alive_for(svc, item, int(item["idle_timeout_s"]))
    ttl = svc.settings.evidence_url_ttl_s
    if step is not None and step.get("screenshot_key"):
        step = {**step, "screenshot_url": svc.evidence_store.presigned_url(step["screenshot_key"], ttl)}
    return ActionResult(
        session_id=session_id,
        action=name,
        ok=bool(reply.get("ok")),
        result=reply.get("result"),
        error=reply.get("error"),
        error_code=reply.get("error_code"),
        step=step,
    )


def _place_file(svc: Services, org_id: str, sandbox_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The action's file into the sandbox (422 for a file the org does not have or a pending one);
    the agent's args: the ref, the file's name and where it is."""
    (meta,) = files.resolve_run_files(svc, org_id, [body["file_id"]])
    try:
        data = svc.file_store.get(files.object_key(org_id, meta["id"]))
        where = svc.sandbox.put_files(
            sandbox_id, f"files-{meta['id']}", [SandboxFile(meta["name"], data, meta["content_type"])]
        )
    except (SandboxError, FileStoreUnavailable) as exc:
        raise ServiceUnavailable(
            f"the file could not be placed in the session: {exc}", code="sandbox_unavailable"
        ) from exc
    return {"ref": body["ref"], "file": meta["name"], "path": f"{where}/{meta['name']}"}


def _keep_screenshot(
    svc: Services, org_id: str, session_id: str, sandbox_id: str, step: dict[str, Any]
) -> dict[str, Any]:
    """Copy the step's screenshot to the evidence bucket (the sandbox's files go when it does)."""
    path = step.get("screenshot")
    if not isinstance(path, str) or not path.startswith("screenshots/") or ".." in path:
        return step
    key = f"evidence/{org_id}/{session_id}/{SESSION_DIR}{path}"
    try:
        data = svc.sandbox.read_file(sandbox_id, SESSION_DIR + path)
        svc.evidence_store.put(key, data, "image/png")
    except (SandboxError, EvidenceStoreUnavailable) as exc:  # the action happened; its picture is a nicety
        log.warning("session_screenshot_not_kept", session_id=session_id, error=str(exc))
        return step
    return {**step, "screenshot_key": key}
