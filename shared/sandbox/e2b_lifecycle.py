"""Pausing and resuming an E2B sandbox (kept apart from e2b_provider.py's start/read/kill).

E2B pauses a sandbox with its memory (``POST /sandboxes/{id}/pause``): its processes stop where
they are and the sandbox is not charged while paused. A connect (``POST /v2/sandboxes/{id}/connect``)
resumes it, its memory and processes as they were.
"""

from __future__ import annotations

from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)


def pause(e2b: Any, sandbox_id: str, opts: dict[str, Any]) -> bool:
    """Pause with memory; True if this call paused it, False if it was paused already.
    Raises the SDK's exceptions (the provider maps them)."""
    paused = bool(e2b.Sandbox._cls_pause(sandbox_id, keep_memory=True, **opts))
    log.info("e2b_sandbox_paused", sandbox_id=sandbox_id, already=not paused)
    return paused


def resume(e2b: Any, sandbox_id: str, timeout_s: int, opts: dict[str, Any]) -> Any:
    """Resume a paused sandbox (a connect; harmless on a running one) and keep it alive
    ``timeout_s`` more seconds; the connected Sandbox."""
    sbx = e2b.Sandbox.connect(sandbox_id, timeout=timeout_s, **opts)
    log.info("e2b_sandbox_resumed", sandbox_id=sandbox_id)
    return sbx
