"""Sessions: one live browser that runs many tasks (docs/sessions.md). Request bodies, the session
envelope and the direct actions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from shared.models.common import ApiModel, DomainList, Metadata, Model, Name, WebUrl
from shared.models.runs import (
    CreateRunRequest,
    RunCallerLoopOptions,
    RunError,
    RunFilesOption,
    RunLimits,
    RunSecretsOption,
    StepRecord,
)

DEFAULT_IDLE_TIMEOUT_S = 300
MAX_IDLE_TIMEOUT_S = 3600


class SessionStatus(StrEnum):
    starting = "starting"
    ready = "ready"
    busy = "busy"
    paused = "paused"
    manual = "manual"  # a person has control (POST /v1/sessions/{id}/control); the agent takes no step
    closed = "closed"
    expired = "expired"
    failed = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (SessionStatus.closed, SessionStatus.expired, SessionStatus.failed)


class CloseReason(StrEnum):
    terminated = "terminated"
    idle_timeout = "idle_timeout"
    max_duration = "max_duration"
    task_done = "task_done"  # keep_alive: false, after the initial task
    failed = "failed"


class SessionTaskRequest(RunLimits, RunSecretsOption, RunFilesOption, RunCallerLoopOptions):
    """The body of a run, less what a session decides for its tasks: the domain policy is the
    session's (its sandbox enforces it), the browser profile is the session's (CreateSessionRequest),
    and jobs and replays start runs of their own. ``start_url`` opens in the session's current tab
    first if given. ``secrets`` and ``file_ids`` are the task's own: its files are placed into the
    running sandbox before it starts, its secrets serve this task only."""

    prompt: str = Field(min_length=3, max_length=20_000, description="What the agent should do, kept exactly as given.")
    inputs: dict[str, Any] | None = Field(None, description="Values for `{{name}}` placeholders in the prompt.")
    output_schema: dict[str, Any] | None = Field(None, description="JSON Schema the result must validate against.")
    model: Name | None = Field(None, min_length=1, max_length=100, description="LLM to drive the browser.")
    project_id: str | None = Field(None, description="Project; defaults to the org's 'API Runs' project.")
    webhook_url: WebUrl | None = Field(None, description="Receives this task's run events (signed).")
    start_url: WebUrl | None = Field(None, description="Page to open first, in the session's current tab.")
    metadata: Metadata | None = Field(None, description="Up to 16 string pairs, returned as given.")
    human_input: bool = Field(
        True,
        description="Offer the agent `ask_human` (the task goes to `needs_input`, answered with "
        "`POST /v1/runs/{task_id}/input`). On by default for a session's tasks: someone is at hand.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_profile(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("profile_id" in data or "persist_profile" in data):
            raise ValueError(
                "a session's task cannot take a profile: its browser is the session's; give profile_id "
                "(and persist_profile) when creating the session"
            )
        return data

    def as_run(self) -> CreateRunRequest:
        return CreateRunRequest.model_validate(self.model_dump(mode="json", exclude_none=True))


class CreateSessionRequest(ApiModel):
    start_url: WebUrl | None = Field(None, description="Page the browser opens when the session starts.")
    allowed_domains: DomainList | None = Field(None, description="Only these domains (and subdomains with *.).")
    blocked_domains: DomainList | None = Field(None, description="Domains the browser may never visit.")
    idle_timeout_s: int = Field(
        DEFAULT_IDLE_TIMEOUT_S,
        ge=30,
        le=MAX_IDLE_TIMEOUT_S,
        description="Close the session after this long without a task or an action.",
    )
    max_duration_s: int | None = Field(
        None,
        ge=60,
        le=24 * 3600,
        description="Absolute lifetime; at most the org's session limit and the sandbox provider's maximum.",
    )
    keep_alive: bool = Field(
        True,
        strict=True,
        description="False: the session closes itself once `initial_task` ends (one run in a fresh browser).",
    )
    initial_task: SessionTaskRequest | None = Field(None, description="A task to run as soon as the browser is up.")
    metadata: Metadata | None = Field(None, description="Up to 16 string pairs, returned as given.")
    profile_id: str | None = Field(
        None, description="Browser profile (POST /v1/profiles) whose storage_state the session's browser starts with."
    )
    persist_profile: bool = Field(
        False,
        strict=True,
        description="Save the browser's state back into `profile_id` when the session closes gracefully (closed "
        "by request, after its task with `keep_alive: false`, or expired; not failed). The session holds the "
        "profile's single-writer lease while live: another writer meanwhile gets 409 `profile_in_use`.",
    )


class SessionUsage(Model):
    sandbox_seconds: float = Field(0.0, description="The session's sandbox time, idle time included.")
    input_tokens: int = Field(0, description="Tokens of the session's own model calls (extract with a schema).")
    output_tokens: int = 0
    cost_micros: int = 0
    cost_usd: str = "0.00"
    cost_status: Literal["estimate", "billed"] = "estimate"
    waived_reason: str | None = None


class SessionStep(StepRecord):
    screenshot_url: str | None = Field(None, description="Short-lived presigned GET URL of the step's screenshot.")
    by: Literal["api", "person"] | None = Field(
        None,
        description="`api`: a direct action; `person`: a manual action while taken over (typed text kept "
        "nowhere, its length only).",
    )


class Session(Model):
    id: str
    object: str = "session"
    status: SessionStatus
    project_id: str
    start_url: str | None = None
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    idle_timeout_s: int
    max_duration_s: int
    keep_alive: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)
    profile_id: str | None = None
    persist_profile: bool = False
    created_at: datetime
    ready_at: datetime | None = None
    last_active_at: datetime | None = None
    expires_at: datetime = Field(description="When the session closes at the latest (max_duration_s).")
    idle_expires_at: datetime | None = Field(None, description="When it closes if nothing happens before.")
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    current_task: str | None = Field(None, description="The run id of the task running now.")
    manual_since: datetime | None = Field(None, description="When a person took control (status `manual`).")
    tasks: list[str] = Field(default_factory=list, description="Run ids of the session's tasks, oldest first.")
    current_url: str | None = None
    current_title: str | None = None
    screenshot_url: str | None = Field(None, description="Presigned URL of the latest action's screenshot.")
    live_url: str | None = Field(
        None,
        description="Short-lived signed link (no API key in it) to the session's live view: its browser as it "
        "moves, the current URL and the last steps, frames straight from the sandbox. Read-only unless "
        "asked for with `live_mode=control` on GET /v1/sessions/{id}: then clicks and keys on the picture "
        "are a person's manual actions (the first takes the session over). Set while the session is "
        "ready, busy, paused or manual; the link stops working (410) when the session ends.",
    )
    steps: list[SessionStep] = Field(default_factory=list, description="Direct actions, oldest first.")
    usage: SessionUsage | None = None
    error: RunError | None = None


class SessionList(Model):
    object: str = "list"
    data: list[Session]
    next_cursor: str | None = None


class SessionTaskAccepted(Model):
    task_id: str = Field(description="The run id of the task; GET /v1/runs/{id} has its envelope.")
    session_id: str
    poll_url: str
    status: str


# -- direct actions ------------------------------------------------------------------------------


class BrowserAction(ApiModel):
    def agent_args(self) -> dict[str, Any]:
        """What the sandbox's agent is sent: the action's name and the arguments that apply."""
        return self.model_dump(mode="json", exclude_none=True)


class NavigateAction(BrowserAction):
    action: Literal["navigate"]
    url: WebUrl


class EvaluateAction(BrowserAction):
    action: Literal["evaluate"]
    expression: str = Field(
        min_length=1, max_length=20_000, description="A JavaScript expression (may use await); its value as JSON."
    )
    timeout_s: float = Field(5.0, gt=0, le=15)


class ScreenshotAction(BrowserAction):
    action: Literal["screenshot"]


class ExtractAction(BrowserAction):
    action: Literal["extract"]
    output_schema: dict[str, Any] | None = Field(
        None,
        description="With it, the model reads the page's text once (billed as tokens to the session) and the "
        "answer, validated against this JSON Schema, is `result.data`; an answer that does not validate is "
        "`ok: false` with `error_code` `extract_invalid`. Without it: the page as readable text, no model.",
    )
    instruction: str | None = Field(
        None, max_length=2000, description="What to extract, for the model (only with `output_schema`)."
    )


class DoubleClickAction(BrowserAction):
    action: Literal["double_click"]
    x: float = Field(ge=0, le=10_000)
    y: float = Field(ge=0, le=10_000)


class ClickAction(BrowserAction):
    action: Literal["click"]
    ref: str | None = Field(None, max_length=20, description="Element ref from the latest `extract` snapshot.")
    x: float | None = Field(None, ge=0, le=10_000)
    y: float | None = Field(None, ge=0, le=10_000)


class TypeAction(BrowserAction):
    action: Literal["type"]
    ref: str | None = Field(None, max_length=20, description="Field to fill; without it, types into the focus.")
    text: str = Field(max_length=10_000)
    submit: bool = Field(False, strict=True, description="Press Enter afterwards.")
    human_like: bool = Field(False, strict=True, description="Type with a pause between characters.")


class KeyPressAction(BrowserAction):
    action: Literal["key_press"]
    key: str = Field(min_length=1, max_length=50, description="A Playwright key name: Enter, Tab, Control+A ...")


class ScrollAction(BrowserAction):
    action: Literal["scroll"]
    direction: Literal["up", "down"] = "down"
    amount: float = Field(1.0, gt=0, le=20)
    dx: float | None = Field(
        None, ge=-10_000, le=10_000, description="Wheel pixels right (with dy: instead of direction and amount)."
    )
    dy: float | None = Field(None, ge=-10_000, le=10_000, description="Wheel pixels down.")

    def agent_args(self) -> dict[str, Any]:
        body = super().agent_args()
        if "dx" in body or "dy" in body:  # a wheel delta: direction and amount (defaults) do not apply
            body.pop("direction", None)
            body.pop("amount", None)
        return body


class GoBackAction(BrowserAction):
    action: Literal["go_back"]


class WaitForAction(BrowserAction):
    action: Literal["wait_for"]
    text: str | None = Field(None, max_length=1000)
    selector: str | None = Field(None, max_length=1000)
    timeout_s: float = Field(5.0, gt=0, le=15)


class UploadFileAction(BrowserAction):
    action: Literal["upload_file"]
    ref: str = Field(max_length=20, description="The file input's ref, from the latest `extract` snapshot.")
    file_id: str = Field(description="A `ready` file of your org (POST /v1/files): placed in the sandbox, then set.")


SessionAction = Annotated[
    NavigateAction
    | EvaluateAction
    | ScreenshotAction
    | ExtractAction
    | ClickAction
    | DoubleClickAction
    | TypeAction
    | KeyPressAction
    | ScrollAction
    | GoBackAction
    | WaitForAction
    | UploadFileAction,
    Field(discriminator="action"),
]


class ActionResult(Model):
    object: str = "session_action"
    session_id: str
    action: str
    ok: bool
    result: Any = None
    error: str | None = None
    error_code: str | None = Field(
        None,
        description="Why `ok` is false, where there is a code: `extract_invalid` (the model's answer is not JSON "
        "matching `output_schema`; `result.answer` has it), `extract_model_error` (the model did not answer).",
    )
    step: SessionStep | None = None


class SessionControlRequest(ApiModel):
    action: Literal["take_over", "release"] = Field(
        description="`take_over`: a person takes control (a running task pauses between steps; status `manual`). "
        "`release`: the agent goes on, told what the person did, from a fresh look at the page."
    )
    note: str | None = Field(
        None, max_length=1000, description="Kept with the take-over; told to the agent on release."
    )
