"""The path into a session's sandbox: a command is pushed through the sandbox provider (a file in
the sandbox's mailbox) and its reply read back from the out dir. Nothing in the sandbox asks the
API for work, so an idle session costs no Lambda time and no state transition."""

from __future__ import annotations

from typing import Any

from shared.errors import Conflict, ServiceUnavailable
from shared.logging import get_logger
from shared.sandbox.base import SandboxError, SandboxNotFound
from shared.services import Services

log = get_logger(__name__)
# How often a waiting request reads the reply file (local: a file read; E2B: an envd request).
REPLY_POLL_S = 0.02


def send(svc: Services, sandbox_id: str, kind: str, **body: Any) -> str:
    """Push one command; its id (ULIDs: the agent runs them in the order sent)."""
    command_id = svc.ids.new("cmd")
    try:
        svc.sandbox.send_command(sandbox_id, {"id": command_id, "kind": kind, **body})
    except SandboxNotFound as exc:
        raise Conflict("the session's sandbox is gone", code="session_sandbox_gone") from exc
    except SandboxError as exc:
        raise ServiceUnavailable(
            f"the session's sandbox did not take the command: {exc}", code="sandbox_unavailable"
        ) from exc
    return command_id


def await_reply(svc: Services, sandbox_id: str, command_id: str, timeout_s: float) -> dict[str, Any] | None:
    """The agent's reply, or None if none came within ``timeout_s``."""
    deadline = svc.clock.monotonic() + timeout_s
    while True:
        try:
            reply = svc.sandbox.read_reply(sandbox_id, command_id)
        except SandboxNotFound as exc:
            raise Conflict("the session's sandbox is gone", code="session_sandbox_gone") from exc
        except SandboxError as exc:
            log.warning("session_reply_read_failed", sandbox_id=sandbox_id, error=str(exc))
            reply = None
        if reply is not None:
            return reply
        remaining = deadline - svc.clock.monotonic()
        if remaining <= 0:
            return None
        svc.clock.sleep(min(REPLY_POLL_S, remaining))
