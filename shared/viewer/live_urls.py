"""Live-view links (docs/sessions.md, "Live view"): a session's ``live_url`` and a running run's.

Apart from live.py, which serves the page behind them, so that reading a run or a session mints its
link without importing manual control.
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn

from shared.errors import OpenHelmError
from shared.models.common import RunStatus
from shared.models.runs import Run
from shared.models.sessions import Session, SessionStatus
from shared.services import Services
from shared.viewer import live_links
from shared.viewer.live_links import LiveMode
from shared.viewer.live_secret import viewer_key

_S = SessionStatus
# Statuses whose browser can be watched (its sandbox is up and its agent serves frames).
WATCHABLE = frozenset({_S.ready, _S.busy, _S.paused, _S.manual})
# A run's (its sandbox is up; queued and starting have none yet).
RUN_WATCHABLE = frozenset({RunStatus.running, RunStatus.needs_input, RunStatus.waiting_for_tool})
TargetKind = Literal["run", "session"]


def live_url(
    svc: Services, org_id: str, item: dict[str, Any] | Session, base_url: str, mode: LiveMode = "view"
) -> str | None:
    """A fresh signed link to the session's live page, or None while it has nothing to show
    (starting, closed) or on a deployment that makes no links."""
    status = item.status if isinstance(item, Session) else SessionStatus(item["status"])
    session_id = item.id if isinstance(item, Session) else item["id"]
    if status not in WATCHABLE:
        return None
    return _link(svc, org_id, "session", session_id, base_url, mode)


def run_live_url(svc: Services, org_id: str, run: Run, base_url: str) -> str | None:
    """A running run's read-only live link: a one-shot run's own live page while its sandbox serves
    frames, a session task's its session's; None once it has ended (or before it runs)."""
    if run.status not in RUN_WATCHABLE:
        return None
    if run.session_id:
        return _link(svc, org_id, "session", run.session_id, base_url, "view")
    if not run._live_view:  # a warm local sandbox, or a provider without live views: no broken link
        return None
    return _link(svc, org_id, "run", run.id, base_url, "view")


def _link(svc: Services, org_id: str, kind: TargetKind, target_id: str, base_url: str, mode: LiveMode) -> str | None:
    key = viewer_key(svc)
    if key is None:
        return None
    expires = int(svc.clock.now().timestamp()) + svc.settings.viewer_url_ttl_s
    token = live_links.mint(key, org_id, target_id, mode, expires)
    return f"{base_url.rstrip('/')}/v1/{kind}s/{target_id}/live?token={token}"


def with_live_url(svc: Services, session: Session, org_id: str, base_url: str, mode: LiveMode = "view") -> Session:
    return session.model_copy(update={"live_url": live_url(svc, org_id, session, base_url, mode)})


class LiveControlUnsupported(OpenHelmError):
    status = 409
    type = "invalid_request_error"
    code = "live_control_unsupported"


def refuse_run_control(run_id: str, session_id: str | None = None) -> NoReturn:
    """A run's live link is read-only: manual control is a sessions feature (a session's task is
    controlled through its session)."""
    where = (
        f"ask GET /v1/sessions/{session_id}?live_mode=control for its session's control link"
        if session_id
        else "start the task in a session to act on its browser"
    )
    raise LiveControlUnsupported(
        f"run {run_id}'s live view is read-only: take-over and control mode are a sessions feature; {where}"
    )
