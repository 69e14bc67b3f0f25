"""The trace bundle's answer (GET /v1/runs/{id}/bundle)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RunBundle(BaseModel):
    """Where to download a run's trace bundle: a zip built once into the evidence bucket."""

    object: Literal["run_bundle"] = "run_bundle"
    run_id: str
    url: str = Field(description="Short-lived presigned GET URL of the zip (also the 303's Location).")
    expires_at: datetime = Field(description="When `url` stops working.")
    bytes: int = Field(description="Size of the zip.")
    files: int | None = Field(None, description="Files in the zip besides manifest.json (null when it was cached).")
    cached: bool = Field(description="The zip was already built for this state of the run.")
