"""Run models: the create request, the 202 acknowledgement and the run envelope."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PrivateAttr, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.models.common import ApiModel, DomainList, DomainPattern, Metadata, Model, Name, RunStatus, WebUrl

MAX_COST_USD = Decimal(10_000)


def _cost_in_range(value: Decimal) -> Decimal:
    # One error type for every out-of-range spelling (number or decimal string), so a client and
    # the contract test can tell it from a schema violation: a string's range is not in its schema.
    if not value.is_finite() or not 0 < value <= MAX_COST_USD or value != value.quantize(Decimal("0.000001")):
        raise PydanticCustomError(
            "max_cost_out_of_range", "max_cost_usd must be more than 0 and at most 10000, with at most 6 decimals"
        )
    return value


# A number, or a decimal string (money keeps its digits); more than 0, at most 10,000, 6 decimals.
CostUsd = Annotated[
    Decimal,
    AfterValidator(_cost_in_range),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000},
                {"type": "string", "pattern": r"^[0-9]{1,5}(\.[0-9]{1,6})?$"},
            ]
        }
    ),
]


class RunLimits(ApiModel):
    """Per-run bounds; each is capped by the org's limits and defaults to them."""

    max_duration_s: int | None = Field(None, ge=10, le=3600, description="Wall-clock budget in seconds.")
    max_steps: int | None = Field(None, ge=1, le=200, description="Maximum browser actions.")
    max_input_tokens: int | None = Field(None, ge=1000, le=5_000_000, description="LLM input token budget.")
    max_output_tokens: int | None = Field(None, ge=100, le=500_000, description="LLM output token budget.")
    max_cost_usd: CostUsd | None = Field(
        None,
        description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. '
        "The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run "
        "when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.",
    )


class RunOptions(RunLimits):
    """Everything a run can be given besides the prompt; shared by runs and job overrides."""

    inputs: dict[str, Any] | None = Field(
        None, description="Values for `{{name}}` placeholders in the prompt; also handed to the agent."
    )
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema the result must validate against (any draft jsonschema knows)."
    )
    model: Name | None = Field(None, min_length=1, max_length=100, description="LLM to drive the browser.")
    project_id: str | None = Field(None, description="Project; defaults to the org's 'API Runs' project.")
    webhook_url: WebUrl | None = Field(
        None,
        description="Receives this run's events (signed). Checked like a webhook endpoint's URL, without DNS "
        "at creation: an address literal in any spelling must be public (422 `webhook_url_not_allowed`).",
    )
    start_url: WebUrl | None = Field(None, description="Page the browser opens first.")
    allowed_domains: DomainList | None = Field(
        None, description="If set, the browser may only visit these domains ('example.com', '*.example.com')."
    )
    blocked_domains: DomainList | None = Field(None, description="Domains the browser may never visit.")
    metadata: Metadata | None = Field(None, description="Up to 16 string pairs, returned as given.")


# A secret's field name: what the model sees, as the placeholder `<secret:NAME>`.
SecretFieldName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
SecretValue = Annotated[str, Field(min_length=1, max_length=1000)]


class RunSecret(ApiModel):
    """Credentials for the sites a domain pattern matches. The model never sees a value: it types
    the placeholder `<secret:NAME>` and the agent fills the value in, on a matching page only."""

    match: DomainPattern = Field(
        description="Domain pattern (as in `allowed_domains`) of the pages these fields may be typed on; "
        "when the run has `allowed_domains`, it must lie inside them."
    )
    fields: dict[SecretFieldName, SecretValue] = Field(
        min_length=1,
        max_length=10,
        # pydantic states the name rule as patternProperties only; no other name is accepted.
        json_schema_extra={"additionalProperties": False},
        description='Field name → value, e.g. `{"email": "...", "password": "..."}`. Values are '
        "encrypted at rest, never shown by the API, never logged, and removed when the run ends.",
    )


class RunSecretsOption(ApiModel):
    secrets: list[RunSecret] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Per-domain secrets (see RunSecret); at most 3,000 bytes of names and values in all.",
    )


class RunFilesOption(ApiModel):
    file_ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Files of your org (POST /v1/files, `ready`) placed in the sandbox before the agent starts; "
        "the agent puts them on file inputs by name (`upload_file`), and the prompt may name them.",
    )


class RunProfileOption(ApiModel):
    profile_id: str | None = Field(
        None, description="Browser profile (POST /v1/profiles) whose storage_state is loaded before the first step."
    )
    persist_profile: bool = Field(
        False,
        strict=True,
        description="Save the browser's state back into `profile_id` when the run ends gracefully (succeeded, or "
        "failed by its own limits, the model or its schema; not a crash or cancel). The run holds the "
        "profile's single-writer lease until it ends: another writer meanwhile gets 409 `profile_in_use`.",
    )


class RunFile(Model):
    """A file the browser downloaded during the run, kept with the evidence."""

    name: str
    size: int
    sha256: str
    source_url: str | None = None
    content_type: str | None = None
    download_url: str | None = Field(None, description="Short-lived presigned GET URL (once the evidence is stored).")


class SecretInfo(Model):
    """A run's secret as the API shows it: the pattern and the field names, never the values."""

    match: str
    fields: list[str]


class ReplayStep(ApiModel):
    """One recorded browser action; a replay performs these with no LLM and ends with `done`."""

    action: Literal["navigate", "click", "type", "select", "upload_file", "scroll", "go_back", "wait", "done"]
    args: dict[str, Any] = Field(default_factory=dict)


# The agent's own tools: a custom tool may not take one of these names.
BUILTIN_TOOLS = frozenset(
    {"navigate", "click", "type", "select", "scroll", "go_back", "wait", "extract", "done", "ask_human", "upload_file"}
)
MAX_TOOLS = 16


class ToolDefinition(ApiModel):
    """A tool the caller runs: the agent may call it; the run waits for `POST /v1/runs/{id}/tool-results`."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="Not one of the agent's own tools.")
    description: str = Field(min_length=1, max_length=1000, description="What it does, for the model.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments (an object schema).",
    )

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, name: str) -> str:
        if name in BUILTIN_TOOLS:
            raise PydanticCustomError("tool_name_taken", "the agent has its own tool of this name")
        return name

    @field_validator("parameters")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import SchemaError  # lazy: only runs that define tools need it
        from jsonschema.validators import validator_for

        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise PydanticCustomError(
                "tool_parameters_invalid", "not a valid JSON Schema: {why}", {"why": exc.message}
            ) from exc
        if schema.get("type", "object") != "object":
            raise PydanticCustomError("tool_parameters_invalid", "parameters must describe an object")
        return schema


class RunCallerLoopOptions(ApiModel):
    """Asking a person and the caller's own tools: the waits' bounds and the tools; shared by runs,
    jobs' defaults and job run overrides (each has its own ``human_input``)."""

    input_timeout_s: int | None = Field(
        None,
        ge=10,
        le=3600,
        description="How long one question may wait for its answer (default 300 s, at most the org's limit); "
        "past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.",
    )

    tools: list[ToolDefinition] | None = Field(
        None,
        max_length=MAX_TOOLS,
        description="Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; "
        "answer with `POST /v1/runs/{id}/tool-results`.",
    )
    tool_timeout_s: int | None = Field(
        None,
        ge=5,
        le=900,
        description="How long one tool call waits for its result (default 120 s); past it the agent gets a "
        "timeout error as the result and carries on. Waiting does not count against `max_duration_s`.",
    )

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[ToolDefinition] | None) -> list[ToolDefinition] | None:
        names = [t.name for t in tools or []]
        if len(set(names)) != len(names):
            raise PydanticCustomError("tool_name_taken", "tool names must be unique")
        return tools


class CreateRunRequest(RunOptions, RunSecretsOption, RunFilesOption, RunProfileOption, RunCallerLoopOptions):
    prompt: str = Field(
        min_length=3,
        max_length=20_000,
        description="What the agent should do. Kept exactly as given, control characters included: it is "
        "handed to the model verbatim.",
    )
    job_id: str | None = Field(None, description="Job this run belongs to (set by POST /v1/jobs/{id}/runs).")
    replay_of: str | None = Field(
        None, description="Replay the steps of this succeeded run with no LLM (model becomes `replay`)."
    )
    replay_steps: list[ReplayStep] | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Replay this recorded workflow with no LLM (model becomes `replay`). The last step, and "
        "only the last, is `done` (else 422 with `details[].type` `replay_steps_invalid`).",
    )

    human_input: bool = Field(
        False,
        description="Offer the agent the `ask_human` tool: when it cannot go on alone (a one-time code, a "
        "choice) the run goes to `needs_input` and waits for `POST /v1/runs/{id}/input`. Off by default for "
        "one-shot runs: nobody may be watching, and a run that asks would wait out `input_timeout_s`.",
    )

    @field_validator("replay_steps")
    @classmethod
    def _done_last(cls, steps: list[ReplayStep] | None) -> list[ReplayStep] | None:
        # The agent refuses any other shape (sandbox_image/agent/openhelm_agent/spec.py); refusing it
        # here answers 422 at once instead of a run that fails AGENT_CRASHED.
        if steps:
            if steps[-1].action != "done":
                raise PydanticCustomError("replay_steps_invalid", "the last replay step must be 'done'")
            if any(step.action == "done" for step in steps[:-1]):
                raise PydanticCustomError("replay_steps_invalid", "'done' may only be the last replay step")
        return steps


class JobRunRequest(RunOptions, RunSecretsOption, RunFilesOption, RunProfileOption, RunCallerLoopOptions):
    """POST /v1/jobs/{id}/runs: inputs plus overrides of the job's stored defaults (`tools` given here
    replace the job's, not add to them)."""

    human_input: bool | None = Field(
        None, description="Offer the agent `ask_human` (as on POST /v1/runs); without it, the job's default."
    )


class RunAccepted(Model):
    task_id: str = Field(description="The run id; poll it at poll_url.")
    poll_url: str
    status: RunStatus


class Confidence(Model):
    score: float = Field(ge=0, le=1)
    reason: str


class EvidenceItem(Model):
    step: int
    url: str | None = None
    time: datetime | None = None
    sha256: str | None = None
    path: str | None = Field(None, description="Path of the screenshot in the run's evidence.")
    screenshot_url: str | None = Field(None, description="Short-lived presigned GET URL of the PNG.")


class StepRecord(Model):
    index: int
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None
    title: str | None = None
    started_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    llm_call: int | None = Field(
        None, description="Number of the LLM call that chose this step (1 = the run's first call)."
    )
    input_tokens: int | None = Field(None, description="Input tokens of that call, as the LLM gateway counted them.")
    output_tokens: int | None = Field(None, description="Output tokens of that call, as the LLM gateway counted them.")
    cost_micros: int | None = Field(None, description="Those tokens at the model's prices, in micro-dollars.")
    cost_usd: str | None = None


class NetworkEntry(Model):
    url: str
    time: datetime | None = None
    status: int | None = None
    blocked: bool = False


class Usage(Model):
    """What the run used and costs, by the control plane's counters (the same figures its usage
    record bills). While the run goes, ``cost_status`` is ``estimate`` (the cost so far, priced by the
    same code); once billed it is ``billed`` and every figure is the usage record's."""

    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    sandbox_seconds: float = Field(0.0, description="Sandbox time in seconds (millisecond precision).")
    cost_micros: int = Field(0, description="Cost in micro-dollars (1 USD = 1,000,000).")
    cost_usd: str = Field("0.00", description="cost_micros in USD as a decimal string.")
    cost_status: Literal["estimate", "billed"] = "estimate"
    charged_micros: int | None = Field(None, description="What was debited from the balance (once billed).")
    capped: bool = Field(False, description="The run reached its max_cost_usd and is billed the cap.")
    waived_reason: str | None = Field(None, description="Why nothing is charged (infrastructure failures).")


class RunError(Model):
    code: str
    message: str


class Progress(Model):
    step: int = 0
    last_url: str | None = None
    last_action: str | None = None
    updated_at: datetime | None = None


class Run(Model):
    """The run envelope. Fields a run has not reached yet are null."""

    id: str
    object: str = "run"
    status: RunStatus
    prompt: str
    inputs: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    model: str
    project_id: str
    job_id: str | None = None
    session_id: str | None = Field(None, description="The session whose browser runs this task (docs/sessions.md).")
    replay_of: str | None = None
    webhook_url: str | None = None
    start_url: str | None = None
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    max_duration_s: int
    max_steps: int
    max_input_tokens: int
    max_output_tokens: int
    max_cost_micros: int | None = Field(None, description="The run's cost cap in micro-dollars.")
    max_cost_usd: str | None = Field(None, description="The run's cost cap in USD as a decimal string.")
    metadata: dict[str, str] = Field(default_factory=dict)
    secrets: list[SecretInfo] | None = Field(
        None, description="The run's secrets: domain patterns and field names (values are never shown)."
    )
    file_ids: list[str] | None = Field(None, description="The files placed in the run's sandbox.")
    profile_id: str | None = None
    persist_profile: bool = False
    files: list[RunFile] | None = Field(
        None, description="Files the browser downloaded (size-capped), with SHA-256 and presigned download URLs."
    )
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress | None = None
    result: Any = None
    confidence: Confidence | None = None
    evidence: list[EvidenceItem] | None = None
    evidence_status: Literal["ready", "unavailable", "failed"] | None = Field(
        None,
        description="Null until the evidence pipeline has run after the run ended. `ready`: screenshots and "
        "step records are stored (presigned URLs in `evidence` and `evidence_manifest_url`); `unavailable`: "
        "there was nothing to copy (no sandbox, or it was gone); `failed`: storing them failed "
        "(`evidence_error` says why).",
    )
    evidence_error: str | None = None
    evidence_manifest_url: str | None = Field(
        None, description="Short-lived presigned GET URL of manifest.json (every file with its SHA-256)."
    )
    viewer_url: str | None = Field(
        None,
        description="Short-lived signed link to the run's page (prompt, result, steps with screenshots, "
        "network log, usage, errors) for a browser: no API key needed, good for this run only until its "
        "expiry (OPENHELM_VIEWER_URL_TTL_S).",
    )
    live_url: str | None = Field(
        None,
        description="While the run is running, needs_input or waiting_for_tool: a short-lived read-only "
        "signed link to its live view (the browser as it moves, several frames a second; no API key). A "
        "session's task links to its session's live view (whose `live_mode=control` acts on it); a one-shot "
        "run to GET /v1/runs/{id}/live (read-only: manual control is a sessions feature). Null once the run "
        "has ended, and for a run whose sandbox serves no live view (a warm local sandbox, a provider "
        "without one).",
    )
    # Internal (not in the envelope): the run's sandbox serves the live view (RunRecord.live_view).
    _live_view: bool = PrivateAttr(default=False)
    steps: list[StepRecord] | None = None
    network: list[NetworkEntry] | None = None
    usage: Usage | None = None
    error: RunError | None = None
    human_input: bool = False
    input_timeout_s: int | None = None
    input_request: InputRequest | None = Field(None, description="Set while the run is `needs_input`.")
    tools: list[dict[str, Any]] | None = None
    tool_timeout_s: int | None = None
    tool_call: ToolCall | None = Field(None, description="Set while the run is `waiting_for_tool`.")


class InputRequest(Model):
    """What a run in `needs_input` asks (`POST /v1/runs/{id}/input` answers it)."""

    id: str = Field(description="Pass as `request_id` with the answer.")
    question: str
    schema_: dict[str, Any] | None = Field(
        None, alias="schema", serialization_alias="schema", description="JSON Schema the answer must match."
    )
    asked_at: datetime
    expires_at: datetime = Field(description="Past this the run fails `INPUT_TIMEOUT`.")

    model_config = {"defer_build": True, "populate_by_name": True}


class ToolCall(Model):
    """A call of one of the run's own tools, waiting for its result."""

    id: str = Field(description="Pass as `call_id` with the result.")
    name: str
    arguments: dict[str, Any]
    called_at: datetime
    expires_at: datetime = Field(description="Past this the agent gets a timeout error as the result.")


MAX_TOOL_OUTPUT_BYTES = 32_768


class ToolResult(ApiModel):
    call_id: str = Field(min_length=1, max_length=100)
    output: Any = Field(None, description="The tool's output (JSON, at most 32 KiB); or give `error`.")
    error: str | None = Field(None, max_length=2000, description="Why the tool failed; the agent sees it.")

    @model_validator(mode="after")
    def _one(self) -> ToolResult:
        if (self.output is None) == (self.error is None):
            raise PydanticCustomError("tool_result_invalid", "give exactly one of output and error")
        return self


class InputAnswer(ApiModel):
    request_id: str = Field(min_length=1, max_length=100)
    answer: Any = Field(description="Validated against the request's `schema`; a secret: never stored in clear.")


class RunList(Model):
    object: str = "list"
    data: list[Run]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null at the end.")
