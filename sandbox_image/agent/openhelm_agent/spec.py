"""The run spec (docs/agent-contract.md), validated on entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from openhelm_agent.policy import normalize_pattern

ActionName = Literal[
    "navigate", "click", "type", "select", "upload_file", "scroll", "go_back", "wait", "extract", "done"
]


class SpecError(ValueError):
    """The run spec is missing, unreadable or invalid (the run ends as AGENT_CRASHED)."""


class ReplayStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: ActionName
    args: dict[str, Any] = Field(default_factory=dict)


class ReplaySpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    steps: list[ReplayStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _ends_with_done(self) -> ReplaySpec:
        if self.steps[-1].action != "done":
            raise ValueError("replay.steps must end with a 'done' step")
        if any(step.action == "done" for step in self.steps[:-1]):
            raise ValueError("replay.steps may contain 'done' only as the last step")
        return self


class SecretSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    match: str
    fields: dict[str, str] = Field(min_length=1, repr=False)

    @field_validator("match")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return normalize_pattern(value)


class FileSpec(BaseModel):
    """A file placed in the sandbox for this run (POST /v1/files): the model names it by ``name``."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    path: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    content_type: str = "application/octet-stream"


class RunSpec(BaseModel):
    # The control plane may add fields the agent does not need. A bad secret never shows in an error.
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    run_id: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1)
    start_url: str | None = None
    output_schema: dict[str, Any] | bool | None = None
    model: str = Field(min_length=1)
    max_steps: int = Field(default=25, ge=1, le=1000)
    max_duration_s: float = Field(default=300, gt=0, le=24 * 3600)
    # When the control plane's clock says the run's time is up (Unix seconds): the run's clock starts
    # when its sandbox is started, not when this process got through its imports.
    deadline_at: float | None = Field(default=None, gt=0)
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    replay: ReplaySpec | None = None
    # Per-domain secrets (openhelm_agent/secrets.py): the model sees only their placeholders.
    secrets: list[SecretSpec] = Field(default_factory=list, repr=False)
    files: list[FileSpec] = Field(default_factory=list)
    # A browser profile's Playwright storage_state to start from, and whether to write the final one.
    storage_state: dict[str, Any] | None = Field(default=None, repr=False)
    persist_profile: bool = False
    # Offer ask_human (the run waits in needs_input for the caller's answer).
    human_input: bool = False
    # Tools the caller runs ({name, description, parameters}); a call waits for their result.
    tools: list[dict[str, Any]] = Field(default_factory=list, max_length=16)
    tool_timeout_s: float | None = None

    @field_validator("start_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("start_url must be an http(s) URL")
        return value

    @field_validator("output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | bool | None) -> dict[str, Any] | bool | None:
        if value is not None:
            try:
                validator_for(value).check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"output_schema is not a valid JSON Schema: {exc.message}") from exc
        return value

    @field_validator("allowed_domains", "blocked_domains")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return [normalize_pattern(p) for p in value]


def parse_spec(data: Any) -> RunSpec:
    """Validate a decoded spec; SpecError with a readable message if it is invalid."""
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(spec)'}: {err['msg']}" for err in exc.errors()
        )
        raise SpecError(f"invalid run spec: {problems}") from exc


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Read the spec JSON file; SpecError if it is missing or not a JSON object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read run spec {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError("invalid run spec: not a JSON object")
    return data
