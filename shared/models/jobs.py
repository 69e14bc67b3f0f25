"""Job models: named task templates that runs are created from."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from shared.models.common import DomainList, Metadata, Model, Name, WebUrl
from shared.models.runs import RunCallerLoopOptions, RunLimits, ToolDefinition


class JobFields(RunLimits, RunCallerLoopOptions):
    human_input: bool | None = Field(
        None, description="The runs' default for offering `ask_human` (a run's own value wins; else off)."
    )
    description: str | None = Field(None, max_length=1000)
    output_schema: dict[str, Any] | None = None
    model: Name | None = Field(None, min_length=1, max_length=100)
    project_id: str | None = None
    default_inputs: dict[str, Any] | None = Field(None, description="Inputs used when a run omits them.")
    webhook_url: WebUrl | None = Field(
        None, description="Checked like a run's webhook_url (422 `webhook_url_not_allowed`)."
    )
    start_url: WebUrl | None = None
    allowed_domains: DomainList | None = None
    blocked_domains: DomainList | None = None
    metadata: Metadata | None = None


class CreateJobRequest(JobFields):
    name: Name = Field(min_length=1, max_length=100)
    prompt: str = Field(min_length=3, max_length=20_000, description="Prompt with `{{name}}` placeholders.")


class UpdateJobRequest(JobFields):
    """PATCH: only the fields given change; null clears an optional field."""

    # Omitted means unchanged; they cannot be cleared, so the document does not offer null.
    name: Annotated[Name, Field(min_length=1, max_length=100)] | SkipJsonSchema[None] = None
    prompt: Annotated[str, Field(min_length=3, max_length=20_000)] | SkipJsonSchema[None] = None


class Job(Model):
    id: str
    object: str = "job"
    name: str
    prompt: str
    placeholders: list[str] = Field(default_factory=list, description="Placeholder names in the prompt.")
    description: str | None = None
    output_schema: dict[str, Any] | None = None
    model: str | None = None
    project_id: str | None = None
    default_inputs: dict[str, Any] | None = None
    webhook_url: str | None = None
    start_url: str | None = None
    allowed_domains: list[str] | None = None
    blocked_domains: list[str] | None = None
    max_duration_s: int | None = None
    max_steps: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    max_cost_usd: str | None = Field(None, description="Default cost cap of the job's runs, USD decimal string.")
    human_input: bool | None = None
    input_timeout_s: int | None = None
    tools: list[ToolDefinition] | None = Field(None, description="The runs' tools (a run's own list replaces them).")
    tool_timeout_s: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime

    @field_validator("metadata", mode="before")
    @classmethod
    def _cleared_metadata_is_empty(cls, value: object) -> object:
        return {} if value is None else value


class JobList(Model):
    object: str = "list"
    data: list[Job]
    next_cursor: str | None = None
