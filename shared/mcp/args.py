"""Argument types and the error mapping the toolsets share (:mod:`shared.mcp.tools`,
:mod:`shared.mcp.session_tools`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from shared.config import MAX_WAIT_S
from shared.mcp.backend import ToolFailure

WaitS = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_WAIT_S,
        description=f"Seconds to wait for the run to finish before answering (0..{MAX_WAIT_S}); the answer comes "
        "at once when it finishes, else with the run still going.",
    ),
]
SessionWaitS = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_WAIT_S,
        description=f"Seconds to wait (0..{MAX_WAIT_S}) while the session is starting or busy with a task; the "
        "answer comes at once when it is ready (or paused, or ended), else with it still starting or busy.",
    ),
]
RunId = Annotated[str, Field(min_length=1, max_length=40, description="The run id (run_...).")]
Status = Literal["queued", "starting", "running", "needs_input", "waiting_for_tool", "succeeded", "failed", "cancelled"]


def _call(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except ToolFailure as exc:
        raise ToolError(str(exc)) from exc
