"""Project models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.models.common import ApiModel, Metadata, Model, Name


class CreateProjectRequest(ApiModel):
    name: Name = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=1000)
    metadata: Metadata | None = None


class Project(Model):
    id: str
    object: str = "project"
    name: str
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    is_default: bool = False
    created_at: datetime


class ProjectList(Model):
    object: str = "list"
    data: list[Project]
    next_cursor: str | None = None
