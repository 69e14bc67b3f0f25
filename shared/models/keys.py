"""API key management models: POST /v1/keys, GET /v1/keys, DELETE /v1/keys/{id}."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.models.common import ApiModel, Model
from shared.models.orgs import Scope


class CreateKeyRequest(ApiModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$", description="What the key is for.")
    scopes: list[Scope] = Field(
        default_factory=lambda: ["full"],
        min_length=1,
        max_length=2,
        description="`full` (everything) or `read` (GET only; writes answer 403 `insufficient_scope`).",
    )
    expires_at: datetime | None = Field(
        None, description="After this instant the key answers 401 `api_key_expired`; must be in the future."
    )


class ApiKey(Model):
    """An API key as listed: never the key itself."""

    id: str
    object: str = "api_key"
    name: str
    prefix: str = Field(description="First characters of the key, to recognise it.")
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(None, description="Last request made with it (to within a minute).")
    revoked: bool = False
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself (`oh_live_…` / `oh_test_…`): shown only in this response.")


class ApiKeyList(Model):
    object: str = "list"
    data: list[ApiKey]
