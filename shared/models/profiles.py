"""Browser profiles: a Playwright ``storage_state`` (cookies, local storage per origin) runs share."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from shared.models.common import ApiModel, Model, Name

MAX_PROFILE_BYTES = 1024 * 1024  # a storage_state as JSON
MAX_PROFILES_PER_ORG = 200


class CreateProfileRequest(ApiModel):
    name: Name = Field(min_length=1, max_length=100)


class Cookie(Model):
    # Strict: a storage_state is machine-written JSON; `"secure": 0` is a broken one, not False.
    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    value: str
    domain: str = Field(min_length=1)
    path: str = "/"
    expires: float = Field(-1, description="Unix seconds; -1 for a session cookie (kept by the round trip).")
    httpOnly: bool = False
    secure: bool = False
    sameSite: Literal["Strict", "Lax", "None"] = "Lax"


class StorageItem(Model):
    model_config = ConfigDict(strict=True)

    name: str
    value: str


class OriginState(Model):
    model_config = ConfigDict(extra="allow", strict=True)

    origin: str = Field(min_length=1)
    localStorage: list[StorageItem] = Field(default_factory=list)


class StorageState(ApiModel):
    """Playwright's ``storage_state`` (``BrowserContext.storage_state()``), validated on upload."""

    # Bounded by bytes, not counts: the request body limit here, MAX_PROFILE_BYTES for a run's state.
    cookies: list[Cookie] = Field(default_factory=list)
    origins: list[OriginState] = Field(default_factory=list)


class Profile(Model):
    id: str
    object: str = "profile"
    name: str
    cookie_domains: list[str] = Field(default_factory=list, description="Domains of its cookies, sorted.")
    size: int = Field(0, description="Bytes of its storage_state JSON (0: empty).")
    created_at: datetime
    updated_at: datetime | None = Field(None, description="When its state was last saved (upload or a run).")
    last_used_at: datetime | None = Field(None, description="When a run last loaded it.")
    locked_by_run: str | None = Field(None, description="The run that holds its write lease (persist_profile).")


class ProfileList(Model):
    object: str = "list"
    data: list[Profile]
    next_cursor: str | None = None


class ProfileDownload(Model):
    url: str = Field(description="Short-lived presigned GET URL of the storage_state JSON.")
    expires_at: datetime
