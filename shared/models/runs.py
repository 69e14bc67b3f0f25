"""Run models: the create request, the 202 acknowledgement and the run envelope."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from shared.models.common import ApiModel, DomainList, Metadata, Name, RunStatus, WebUrl

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


class ReplayStep(ApiModel):
    """One recorded browser action; a replay performs these with no LLM and ends with `done`."""

    action: Literal["navigate", "click", "type", "select", "scroll", "go_back", "wait", "done"]
    args: dict[str, Any] = Field(default_factory=dict)


class CreateRunRequest(RunOptions):
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


class JobRunRequest(RunOptions):
    """POST /v1/jobs/{id}/runs: inputs plus overrides of the job's stored defaults."""


class RunAccepted(BaseModel):
    task_id: str = Field(description="The run id; poll it at poll_url.")
    poll_url: str
    status: RunStatus


class Confidence(BaseModel):
    score: float = Field(ge=0, le=1)
    reason: str


class EvidenceItem(BaseModel):
    step: int
    url: str | None = None
    time: datetime | None = None
    sha256: str | None = None
    path: str | None = Field(None, description="Path of the screenshot in the run's evidence.")
    screenshot_url: str | None = Field(None, description="Short-lived presigned GET URL of the PNG.")


class StepRecord(BaseModel):
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


class NetworkEntry(BaseModel):
    url: str
    time: datetime | None = None
    status: int | None = None
    blocked: bool = False


class Usage(BaseModel):
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


class RunError(BaseModel):
    code: str
    message: str


class Progress(BaseModel):
    step: int = 0
    last_url: str | None = None
    last_action: str | None = None
    updated_at: datetime | None = None


class Run(BaseModel):
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
    steps: list[StepRecord] | None = None
    network: list[NetworkEntry] | None = None
    usage: Usage | None = None
    error: RunError | None = None


class RunList(BaseModel):
    object: str = "list"
    data: list[Run]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null at the end.")
