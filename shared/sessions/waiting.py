"""A bounded wait on a session: until it settles (its browser up, its task done, or it ended).

The MCP tools' ``wait_s`` (create_session, get_session) wait here, as run tools wait on
``runs.service.wait_for_terminal``; the bound is the caller's, never past ``settings.max_wait_s``
(API Gateway ends every request at 30 s).
"""

from __future__ import annotations

from shared.models.sessions import Session, SessionStatus
from shared.services import Services
from shared.sessions.envelope import envelope, load

# Statuses that change by themselves, soon: a browser starting, a task running. The rest wait on a
# caller (ready, paused), on a person (manual) or are final (closed, expired, failed).
SETTLING = frozenset({SessionStatus.starting, SessionStatus.busy})


def wait_until_settled(svc: Services, org_id: str, session_id: str, seconds: float, poll_s: float = 0.25) -> Session:
    """The session once it is not starting or busy, or as it is when ``seconds`` (capped at
    ``settings.max_wait_s``) pass. An unknown session is a 404 before any wait."""
    bound = max(0.0, min(float(seconds), float(svc.settings.max_wait_s)))
    deadline = svc.clock.monotonic() + bound
    while True:
        item = load(svc, org_id, session_id)
        remaining = deadline - svc.clock.monotonic()
        if SessionStatus(item["status"]) not in SETTLING or remaining <= 0:
            return envelope(svc, item)
        svc.clock.sleep(min(poll_s, remaining))


__all__ = ["SETTLING", "wait_until_settled"]
