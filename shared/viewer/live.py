"""The live view's domain (docs/sessions.md, "Live view"): the page behind a session's or a one-shot
run's ``live_url`` (shared/viewer/live_urls.py), its state and, for sessions, the input of control mode.

Frames never pass through here: the page shows them straight from the sandbox's frame endpoint
(openhelm_agent/live.py), at the URL the provider exposes (:meth:`SandboxProvider.live_endpoint`),
with a frame token that this module mints from the sandbox's secret and that expires with the link.
The secret itself is derived from the viewer key and the session's or run's id (never stored, never
shown): it goes into the sandbox at its start and nowhere else.

Every request re-checks the session or run, not only the link: a live view ends with it (410),
whatever the link's expiry. A one-shot run's view is read-only: manual control is a sessions
feature. A session's control-mode input is a person's manual action through
:func:`shared.sessions.manual.manual_action` (a step ``by: person``, told to the agent on release);
the first input on a session that nobody has taken over takes it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared.errors import NotFound, OpenHelmError
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.common import TERMINAL_STATUSES
from shared.models.sessions import ActionResult, Session, SessionStatus
from shared.models.viewer import LiveState, LiveStep
from shared.sandbox.base import SandboxError
from shared.services import Services
from shared.sessions import manual
from shared.sessions.envelope import envelope, load
from shared.viewer import live_links
from shared.viewer.live_links import LiveClaims
from shared.viewer.live_secret import frame_token, sandbox_secret, viewer_key
from shared.viewer.live_urls import (
    RUN_WATCHABLE,
    WATCHABLE,
    TargetKind,
    live_url,
    run_live_url,
    with_live_url,
)

__all__ = ["live_url", "run_live_url", "with_live_url"]

log = get_logger(__name__)
_S = SessionStatus
STEPS_SHOWN = 8


class LiveViewEnded(OpenHelmError):
    status = 410
    type = "invalid_request_error"
    code = "live_view_ended"


# -- behind a link -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What a live link shows, a session or a one-shot run, as far as its page is concerned."""

    kind: TargetKind
    id: str
    status: str
    sandbox_id: str | None
    current_url: str | None
    current_task: str | None
    steps: list[LiveStep]


def _open(svc: Services, target_id: str, token: str | None, kind: TargetKind = "session") -> tuple[LiveClaims, _Target]:
    """The link's claims and what it shows, if both still hold: 403/410/404 for the link, 410 once
    the session or run has ended, 404 while it has no browser to show yet."""
    key = viewer_key(svc)
    if key is None:
        raise NotFound(f"no live view for {target_id}", code="live_view_not_found")
    claims = live_links.verify(key, token, target_id, int(svc.clock.now().timestamp()))
    if kind == "run":
        return claims, _run_target(svc, claims.org_id, target_id)
    item = load(svc, claims.org_id, target_id)
    status = SessionStatus(item["status"])
    if status not in WATCHABLE:
        if status == _S.starting:
            raise NotFound(
                f"session {target_id} has no browser yet; retry once it is ready", code="live_view_not_found"
            )
        raise LiveViewEnded(f"session {target_id} is {status.value}: its live view has ended")
    steps = envelope(svc, item).steps[-STEPS_SHOWN:]
    return claims, _Target(
        kind="session",
        id=item["id"],
        status=item["status"],
        sandbox_id=item.get("sandbox_id"),
        current_url=item.get("current_url"),
        current_task=item.get("current_task"),
        steps=[LiveStep(index=s.index, action=s.action, by=s.by, url=s.url, error=s.error) for s in steps],
    )


def _run_target(svc: Services, org_id: str, run_id: str) -> _Target:
    """A one-shot run while its sandbox serves frames (starting/queued: 404, ended: 410). A session's
    task has no live view of its own: its live_url is its session's."""
    record = svc.runs.get(org_id, run_id) if is_id(run_id, "run") else None
    if record is None or record.session_id:
        raise NotFound(f"no live view for {run_id}", code="live_view_not_found")
    if record.status in TERMINAL_STATUSES:
        raise LiveViewEnded(f"run {run_id} is {record.status.value}: its live view has ended")
    if record.status not in RUN_WATCHABLE:
        raise NotFound(f"run {run_id} has no browser yet; retry once it is running", code="live_view_not_found")
    if not record.live_view:
        raise NotFound(f"run {run_id} has no live view on its sandbox", code="live_view_not_found")
    progress = record.progress
    steps = (
        [LiveStep(index=progress.step, action=progress.last_action, url=progress.last_url)]
        if progress is not None and progress.last_action
        else []
    )
    return _Target(
        kind="run",
        id=record.id,
        status=record.status.value,
        sandbox_id=record.sandbox_id,
        current_url=progress.last_url if progress is not None else None,
        current_task=None,
        steps=steps,
    )


def frame_source(svc: Services, target: _Target, claims: LiveClaims) -> dict[str, str]:
    """Where the page reads frames (the sandbox's exposed port) and its frame token."""
    try:
        base = svc.sandbox.live_endpoint(target.sandbox_id) if target.sandbox_id else None
    except SandboxError:
        base = None
    secret = sandbox_secret(svc, target.id)
    if not base or not secret:
        raise NotFound(
            f"{target.kind} {target.id} has no live view on this sandbox provider", code="live_view_not_found"
        )
    return {"url": base.rstrip("/"), "token": frame_token(secret, claims.expires_at)}


def _state(claims: LiveClaims, target: _Target) -> LiveState:
    return LiveState(
        session_id=target.id if target.kind == "session" else None,
        run_id=target.id if target.kind == "run" else target.current_task,
        status=target.status,
        mode=claims.mode,
        current_url=target.current_url,
        current_task=target.current_task,
        steps=target.steps,
    )


def state(svc: Services, target_id: str, token: str | None, kind: TargetKind = "session") -> LiveState:
    """What the page polls besides the frames: the status, page and last steps."""
    claims, target = _open(svc, target_id, token, kind)
    return _state(claims, target)


def page_data(svc: Services, target_id: str, token: str | None, kind: TargetKind = "session") -> dict[str, Any]:
    """Everything the live page is rendered with (shared/viewer/live_page.py)."""
    claims, target = _open(svc, target_id, token, kind)
    return {
        **_state(claims, target).model_dump(mode="json"),
        "title": f"{target.kind} {target.id}",
        "frames": frame_source(svc, target, claims),
        "expires_at": claims.expires_at,
    }


def send_input(svc: Services, session_id: str, token: str | None, action: BaseModel) -> ActionResult:
    """A click or key on the picture (control links only, 403 otherwise): a person's manual action,
    taking the session over first if nobody has."""
    claims, target = _open(svc, session_id, token)
    live_links.require_control(claims)
    if SessionStatus(target.status) != _S.manual:
        manual.take_over(svc, claims.org_id, session_id, note="taken over from the live view")
        log.info("live_view_took_over", session_id=session_id)
    return manual.manual_action(svc, claims.org_id, session_id, action)


def release(svc: Services, session_id: str, token: str | None) -> Session:
    """Hand the browser back to the agent from the live page (control links only)."""
    claims, _target = _open(svc, session_id, token)
    live_links.require_control(claims)
    return manual.release(svc, claims.org_id, session_id)
