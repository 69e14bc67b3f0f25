"""Manual control of a session (docs/sessions.md): a person takes over the browser, acts on it by
coordinates and keys, and hands it back.

``take_over`` moves a live session to ``manual`` (a running task is paused between steps, with the
same mailbox command as POST /pause); ``release`` moves it back to what it was before, and a task
paused by the take-over resumes with a note of what the person did, so that the agent's next step
starts from a fresh look at the page. Typed text is never kept: a manual ``type`` is recorded as
its length. :func:`manual_action` is the one way in for a person's action (the actions endpoint,
the live view's control mode)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Unprocessable
from shared.logging import get_logger
from shared.models.sessions import ActionResult, Session, SessionControlRequest, SessionStatus
from shared.services import Services
from shared.sessions import actions
from shared.sessions.envelope import envelope, load, wrong_state
from shared.sessions.lifecycle import move, publish
from shared.sessions.service import keep_alive_for, send_control

log = get_logger(__name__)
_S = SessionStatus
# What a person may do while they have control.
MANUAL_ACTIONS = frozenset({"click", "double_click", "type", "key_press", "scroll"})
MAX_ACTIONS_TOLD = 50


def control(svc: Services, org_id: str, session_id: str, req: SessionControlRequest) -> Session:
    if req.action == "take_over":
        return take_over(svc, org_id, session_id, req.note)
    return release(svc, org_id, session_id)


def take_over(svc: Services, org_id: str, session_id: str, note: str | None = None) -> Session:
    """ready | busy | paused → manual (409 otherwise: starting, already manual, closed)."""
    item = load(svc, org_id, session_id)
    status = SessionStatus(item["status"])
    if status not in (_S.ready, _S.busy, _S.paused):
        raise wrong_state(item, "take it over")
    task = item.get("current_task")
    now = svc.clock.now().isoformat()
    try:
        moved = move(
            svc,
            org_id,
            session_id,
            frm=[status],
            to=_S.manual,
            fields={
                "last_active_at": now,
                "manual_since": now,
                "manual_from": status.value,
                "manual_actions": [],
                "manual_note": note,
            },
            condition="attribute_not_exists(current_task) OR current_task = :task",
            condition_values={":task": task or "-"},
        )
    except ConditionalCheckFailed:
        raise wrong_state(load(svc, org_id, session_id), "take it over") from None
    keep_alive_for(svc, moved, int(item["max_duration_s"]))
    if status == _S.busy and task:
        send_control(svc, moved, "pause", task)
    publish(svc, "Session Taken Over", moved)
    log.info("session_taken_over", session_id=session_id, task_id=task, was=status.value)
    return envelope(svc, moved)


def release(svc: Services, org_id: str, session_id: str) -> Session:
    """manual → what it was (busy: the task resumes, told what the person did; ready if the task
    ended meanwhile). 409 if no person has control."""
    item = load(svc, org_id, session_id)
    if SessionStatus(item["status"]) != _S.manual:
        raise wrong_state(item, "release it (nobody has taken it over)")
    task = item.get("current_task")
    was = SessionStatus(item.get("manual_from") or _S.ready.value)
    to = _S.ready if not task else (_S.paused if was == _S.paused else _S.busy)
    note = agent_note(item)
    fields: dict[str, Any] = {
        "last_active_at": svc.clock.now().isoformat(),
        "manual_since": None,
        "manual_from": None,
        "manual_actions": None,
        "manual_note": None,
        # A task the person had paused before taking over hears of it when resumed.
        "resume_note": note if to == _S.paused else None,
    }
    try:
        moved = move(
            svc,
            org_id,
            session_id,
            frm=[_S.manual],
            to=to,
            fields=fields,
            condition="attribute_not_exists(current_task) OR current_task = :task",
            condition_values={":task": task or "-"},
        )
    except ConditionalCheckFailed:
        raise wrong_state(load(svc, org_id, session_id), "release it") from None
    if to == _S.busy:
        send_control(svc, moved, "resume", task, note=note)
    publish(svc, "Session Released", moved)
    log.info(
        "session_released",
        session_id=session_id,
        task_id=task,
        to=to.value,
        actions=len(item.get("manual_actions") or []),
    )
    return envelope(svc, moved)


def agent_note(item: dict[str, Any]) -> str:
    """What the agent is told on release: the person's actions (never what they typed) and where
    the page is now."""
    done = list(item.get("manual_actions") or [])
    if len(done) > MAX_ACTIONS_TOLD:
        done = [f"{len(done) - MAX_ACTIONS_TOLD} earlier actions", *done[-MAX_ACTIONS_TOLD:]]
    did = "; ".join(done) if done else "nothing"
    text = f"A person took control of the browser and did: {did}."
    if item.get("current_url"):
        text += f" The page is now {item['current_url']}."
    if item.get("manual_note"):
        text += f" Their note: {item['manual_note']}"
    return text + " Continue the task from the page as it is now (a fresh snapshot follows)."


def manual_action(svc: Services, org_id: str, session_id: str, action: BaseModel) -> ActionResult:
    """A person's action on a taken-over session (422 for an action a person cannot take this way;
    409 unless the session is ``manual``); a step marked ``by: person``."""
    item = load(svc, org_id, session_id)
    if SessionStatus(item["status"]) != _S.manual:
        raise wrong_state(item, "take a manual action (take it over first)")
    name = getattr(action, "action", "")
    if name not in MANUAL_ACTIONS:
        raise Unprocessable(
            f"while taken over, the actions are {', '.join(sorted(MANUAL_ACTIONS))}; release it for {name}",
            code="not_allowed_while_manual",
            details=[{"loc": ["action"], "msg": f"one of {sorted(MANUAL_ACTIONS)}"}],
        )
    told = [*(item.get("manual_actions") or []), describe(action)][-200:]
    return actions.perform(
        svc, org_id, item, action, by="person", statuses=[_S.manual], fields={"manual_actions": told}
    )


def act(svc: Services, org_id: str, session_id: str, action: BaseModel) -> ActionResult:
    """The actions endpoint: a person's action while the session is taken over, else a direct action."""
    item = load(svc, org_id, session_id)
    if SessionStatus(item["status"]) == _S.manual:
        return manual_action(svc, org_id, session_id, action)
    return actions.act(svc, org_id, session_id, action)


def describe(action: BaseModel) -> str:
    """One manual action in words, for the agent: never the text typed."""
    a: Any = action
    name = a.action
    if name in ("click", "double_click"):
        verb = "click" if name == "click" else "double-click"
        if getattr(a, "x", None) is not None and getattr(a, "y", None) is not None:
            return f"{verb} at ({a.x:g},{a.y:g})"
        return f"{verb} on element {a.ref}"
    if name == "type":
        return f"typed {len(a.text)} characters" + ("; pressed Enter" if a.submit else "")
    if name == "key_press":
        return f"pressed {a.key}"
    if name == "scroll":
        if a.dx is not None or a.dy is not None:
            return f"scrolled by ({a.dx or 0:g},{a.dy or 0:g})"
        return f"scrolled {a.direction}"
    return name
