"""A session's browser profile (issue 13): the session takes the profile's write lease at its
creation (``persist_profile``; its own id is the holder), its browser context starts from the
profile's storage_state, and at a graceful close the agent writes the context's final state,
which is saved back under that lease (shared/profiles.py). Any other close only releases it.

Graceful: the session closed with no task cut off: closed by request or expired while ``ready``,
or closed after its ``keep_alive: false`` task ended. A failed session, or one closed while a task
ran (that task is cancelled), saves nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import profiles
from shared.errors import OpenHelmError, Unprocessable
from shared.logging import get_logger
from shared.models.sessions import CloseReason, SessionStatus
from shared.sandbox.base import SandboxError
from shared.services import Services
from shared.sessions import commands

log = get_logger(__name__)
# The idle agent writes the state at once; this bounds the wait (the close request waits for it).
SAVE_REPLY_S = 8.0
STATE_PATH = "session/storage_state.json"  # the agent's serve.py PROFILE_STATE_PATH


def claim(svc: Services, org_id: str, session_id: str, profile_id: str | None, persist: bool, until_s: int) -> None:
    """422 if the org has no such profile (or ``persist`` without one); 409 if another writer holds it."""
    if persist and not profile_id:
        raise Unprocessable(
            "persist_profile needs a profile_id", code="profile_not_found", details=[{"loc": ["persist_profile"]}]
        )
    if profile_id:
        profiles.claim_for_run(svc, org_id, profile_id, session_id, persist, until_s)


def release(svc: Services, org_id: str, session_id: str, profile_id: str | None, persist: bool) -> None:
    """Give the lease back (a session that never got going)."""
    if profile_id and persist:
        try:
            profiles.save_state(svc, org_id, profile_id, session_id, None)
        except OpenHelmError as exc:  # the lease runs out by itself
            log.warning("session_profile_release_failed", session_id=session_id, error=exc.message)


def state_for(svc: Services, org_id: str, profile_id: str | None) -> dict[str, Any] | None:
    return profiles.load_profile_state(svc, org_id, profile_id) if profile_id else None


def graceful(reason: CloseReason, status: SessionStatus) -> bool:
    if reason == CloseReason.task_done:
        return True
    return reason != CloseReason.failed and status == SessionStatus.ready


def save_at_close(svc: Services, org_id: str, before: Mapping[str, Any], reason: CloseReason) -> None:
    """Called by the close (``before``: the session as it was), before the sandbox is killed. Never raises."""
    profile_id, session_id = before.get("profile_id"), before["id"]
    if not profile_id or not before.get("persist_profile"):
        return
    raw = None
    sandbox_id = before.get("sandbox_id")
    if sandbox_id and graceful(reason, SessionStatus(before["status"])):
        raw = _fetch_state(svc, sandbox_id, session_id)
    try:
        outcome = profiles.save_state(svc, org_id, profile_id, session_id, raw)
    except OpenHelmError as exc:  # S3 or the table refused: the lease runs out by itself
        outcome = f"failed: {exc.message[:200]}"
    log.info("session_profile_persisted", session_id=session_id, profile_id=profile_id, outcome=outcome)


def _fetch_state(svc: Services, sandbox_id: str, session_id: str) -> bytes | None:
    try:
        command_id = commands.send(svc, sandbox_id, "save_profile")
        reply = commands.await_reply(svc, sandbox_id, command_id, SAVE_REPLY_S)
        if reply is None or not reply.get("ok"):
            log.warning("session_profile_not_written", session_id=session_id, error=(reply or {}).get("error"))
            return None
        return svc.sandbox.read_file(sandbox_id, STATE_PATH)
    except (OpenHelmError, SandboxError) as exc:
        log.warning("session_profile_not_read", session_id=session_id, error=str(exc)[:200])
        return None
