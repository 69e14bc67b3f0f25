"""The trace bundle's answer (GET /v1/runs/{id}/bundle)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.models.common import Model


class RunBundle(Model):
    """Where to download a run's trace bundle: a zip built once into the evidence bucket."""

    object: Literal["run_bundle"] = "run_bundle"
    run_id: str
    url: str = Field(description="Short-lived presigned GET URL of the zip (also the 303's Location).")
    expires_at: datetime = Field(description="When `url` stops working.")
    bytes: int = Field(description="Size of the zip.")
    files: int | None = Field(None, description="Files in the zip besides manifest.json (null when it was cached).")
    cached: bool = Field(description="The zip was already built for this state of the run.")


class LiveStep(Model):
    index: int
    action: str
    by: Literal["api", "person"] | None = Field(None, description="`person`: a manual action of a take-over.")
    url: str | None = None
    error: str | None = None


class LiveState(Model):
    """What a live page polls besides its frames (GET /v1/sessions/{id}/live/state or
    /v1/runs/{id}/live/state, by signed link)."""

    object: Literal["live_state"] = "live_state"
    session_id: str | None = Field(None, description="The session watched (null for a one-shot run).")
    run_id: str | None = Field(None, description="The one-shot run watched, or the session's current task.")
    status: str = Field(
        description="The session's status (ready, busy, paused, manual), or the run's (running, needs_input, "
        "waiting_for_tool)."
    )
    mode: Literal["view", "control"] = Field(description="What the link allows: watch, or act on the picture.")
    current_url: str | None = None
    current_task: str | None = Field(None, description="The run id of the task running now.")
    steps: list[LiveStep] = Field(default_factory=list, description="The session's last direct and manual actions.")
