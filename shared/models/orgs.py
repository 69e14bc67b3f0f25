"""Org and API key records. Orgs are managed by operators (``openhelm admin``); keys by the org
(``/v1/keys``, shared/models/keys.py) and by operators."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.models.common import Model

# `full`: everything the API offers the org. `read`: GET only (any write answers 403 insufficient_scope).
Scope = Literal["full", "read"]


class OrgLimits(Model):
    """Bounds every run of the org must stay within; also the defaults a run gets."""

    max_duration_s: int = Field(600, ge=10, le=3600)
    max_steps: int = Field(50, ge=1, le=200)
    max_input_tokens: int = Field(500_000, ge=1000)
    max_output_tokens: int = Field(50_000, ge=100)
    max_cost_micros: int = Field(
        10_000_000, ge=1, description="Most one run may cost, in micro-dollars; also a run's default max_cost_usd."
    )
    max_concurrent_runs: int = Field(5, ge=1)
    max_input_timeout_s: int = Field(900, ge=10, le=3600, description="Longest a run may wait for one answer.")
    rate_per_minute: int = Field(120, ge=1, description="Run creations per minute (token bucket refill).")
    rate_burst: int = Field(30, ge=1, description="Token bucket size.")
    max_concurrent_sessions: int = Field(2, ge=0, description="Live sessions at once (docs/sessions.md).")
    max_session_duration_s: int = Field(3600, ge=60, le=24 * 3600, description="Longest life of one session.")


class Org(Model):
    id: str
    name: str
    created_at: datetime
    default_project_id: str
    limits: OrgLimits = Field(default_factory=OrgLimits)


class ApiKeyRecord(Model):
    key_id: str
    org_id: str
    prefix: str = Field(description="First characters of the key, for display; the key itself is not stored.")
    created_at: datetime
    name: str = "default"
    scopes: list[Scope] = Field(default_factory=lambda: ["full"])
    # An ISO string, never a number: the table's TTL attribute is also called expires_at, and TTL
    # ignores items whose attribute is not a Number, so an expired key stays listed (and refused).
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked: bool = False
    revoked_at: datetime | None = None
