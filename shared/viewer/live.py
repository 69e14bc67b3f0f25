"""The live view's domain (docs/sessions.md, "Live view"): a session's ``live_url``, the page behind
it, its state and the input of control mode.

Frames never pass through here: the page shows them straight from the sandbox's frame endpoint
(openhelm_agent/live.py), at the URL the provider exposes (:meth:`SandboxProvider.live_endpoint`),
with a frame token that this module mints from the sandbox's secret and that expires with the link.
The secret itself is derived from the viewer key and the session id (never stored, never shown): it
goes into the sandbox at its start and nowhere else.

Every request re-checks the session, not only the link: a live view ends with its session (410),
whatever the link's expiry. Control-mode input is a person's manual action through
:func:`shared.sessions.manual.manual_action` (a step ``by: person``, told to the agent on release);
the first input on a session that nobody has taken over takes it over.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.errors import NotFound, OpenHelmError
from shared.logging import get_logger
from shared.models.sessions import ActionResult, Session, SessionStatus
from shared.models.viewer import LiveState, LiveStep
from shared.sandbox.base import SandboxError
from shared.services import Services
from shared.sessions import manual
from shared.sessions.envelope import envelope, load
from shared.viewer import live_links
from shared.viewer.live_links import LiveClaims, LiveMode
from shared.viewer.live_secret import frame_token, sandbox_secret, viewer_key

log = get_logger(__name__)
_S = SessionStatus
# Statuses whose browser can be watched (its sandbox is up and its agent serves frames).
WATCHABLE = frozenset({_S.ready, _S.busy, _S.paused, _S.manual})
STEPS_SHOWN = 8


class LiveViewEnded(OpenHelmError):
    status = 410
    type = "invalid_request_error"
    code = "live_view_ended"


def live_url(
    svc: Services, org_id: str, item: dict[str, Any] | Session, base_url: str, mode: LiveMode = "view"
) -> str | None:
    """A fresh signed link to the session's live page, or None while it has nothing to show
    (starting, closed) or on a deployment that makes no links."""
    status = item.status if isinstance(item, Session) else SessionStatus(item["status"])
    session_id = item.id if isinstance(item, Session) else item["id"]
    key = viewer_key(svc)
    if key is None or status not in WATCHABLE:
        return None
    expires = int(svc.clock.now().timestamp()) + svc.settings.viewer_url_ttl_s
    token = live_links.mint(key, org_id, session_id, mode, expires)
    return f"{base_url.rstrip('/')}/v1/sessions/{session_id}/live?token={token}"


def with_live_url(svc: Services, session: Session, org_id: str, base_url: str, mode: LiveMode = "view") -> Session:
    return session.model_copy(update={"live_url": live_url(svc, org_id, session, base_url, mode)})


# -- behind a link -------------------------------------------------------------------------------


def _open(svc: Services, session_id: str, token: str | None) -> tuple[LiveClaims, dict[str, Any]]:
    """The link's claims and the session, if both still hold: 403/410/404 for the link, 410 once
    the session is closed (or failed), 404 while it has no browser to show yet."""
    key = viewer_key(svc)
    if key is None:
        raise NotFound(f"no live view for {session_id}", code="live_view_not_found")
    claims = live_links.verify(key, token, session_id, int(svc.clock.now().timestamp()))
    item = load(svc, claims.org_id, session_id)
    status = SessionStatus(item["status"])
    if status not in WATCHABLE:
        if status == _S.starting:
            raise NotFound(
                f"session {session_id} has no browser yet; retry once it is ready", code="live_view_not_found"
            )
        raise LiveViewEnded(f"session {session_id} is {status.value}: its live view has ended")
    return claims, item


def frame_source(svc: Services, item: dict[str, Any], claims: LiveClaims) -> dict[str, str]:
    """Where the page reads frames (the sandbox's exposed port) and its frame token."""
    try:
        base = svc.sandbox.live_endpoint(item["sandbox_id"]) if item.get("sandbox_id") else None
    except SandboxError:
        base = None
    secret = sandbox_secret(svc, item["id"])
    if not base or not secret:
        raise NotFound(f"session {item['id']} has no live view on this sandbox provider", code="live_view_not_found")
    return {"url": base.rstrip("/"), "token": frame_token(secret, claims.expires_at)}


def _state(svc: Services, claims: LiveClaims, item: dict[str, Any]) -> LiveState:
    steps = envelope(svc, item).steps[-STEPS_SHOWN:]
    return LiveState(
        session_id=item["id"],
        status=item["status"],
        mode=claims.mode,
        current_url=item.get("current_url"),
        current_task=item.get("current_task"),
        steps=[LiveStep(index=s.index, action=s.action, by=s.by, url=s.url, error=s.error) for s in steps],
    )


def state(svc: Services, session_id: str, token: str | None) -> LiveState:
    """What the page polls besides the frames: the session's status, page and last steps."""
    claims, item = _open(svc, session_id, token)
    return _state(svc, claims, item)


def page_data(svc: Services, session_id: str, token: str | None) -> dict[str, Any]:
    """Everything the live page is rendered with (shared/viewer/live_page.py)."""
    claims, item = _open(svc, session_id, token)
    return {
        **_state(svc, claims, item).model_dump(mode="json"),
        "frames": frame_source(svc, item, claims),
        "expires_at": claims.expires_at,
    }


def send_input(svc: Services, session_id: str, token: str | None, action: BaseModel) -> ActionResult:
    """A click or key on the picture (control links only, 403 otherwise): a person's manual action,
    taking the session over first if nobody has."""
    claims, item = _open(svc, session_id, token)
    live_links.require_control(claims)
    if SessionStatus(item["status"]) != _S.manual:
        manual.take_over(svc, claims.org_id, session_id, note="taken over from the live view")
        log.info("live_view_took_over", session_id=session_id)
    return manual.manual_action(svc, claims.org_id, session_id, action)


def release(svc: Services, session_id: str, token: str | None) -> Session:
    """Hand the browser back to the agent from the live page (control links only)."""
    claims, _item = _open(svc, session_id, token)
    live_links.require_control(claims)
    return manual.release(svc, claims.org_id, session_id)
