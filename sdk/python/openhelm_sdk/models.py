"""Typed models of the OpenHelm API, generated from docs/openapi.json by
sdk/python/generate_models.py. Do not edit: run `python sdk/python/generate_models.py --write`.

Response models accept fields this version does not know yet (``extra="allow"``) and enums values it
does not know (``_OpenEnum``), so an SDK keeps working against a newer server; request models carry
types only, the API validates values.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    'RUNS_MAX_WAIT_S',
    'ActionResult',
    'ApiKey',
    'ApiKeyCreated',
    'ApiKeyList',
    'AskBody',
    'Balance',
    'ClickAction',
    'CloseReason',
    'Confidence',
    'Cookie',
    'CostBreakdown',
    'CreateFileRequest',
    'CreateJobRequest',
    'CreateKeyRequest',
    'CreateProfileRequest',
    'CreateProjectRequest',
    'CreateRunRequest',
    'CreateSessionRequest',
    'CreateWebhookRequest',
    'DeliveryAttempt',
    'DeliveryList',
    'DoubleClickAction',
    'ErrorBody',
    'ErrorResponse',
    'EvaluateAction',
    'EvidenceItem',
    'ExtractAction',
    'FileList',
    'FileObject',
    'FileUpload',
    'GoBackAction',
    'Health',
    'InputAnswer',
    'InputRequest',
    'Job',
    'JobList',
    'JobRunRequest',
    'KeyPressAction',
    'LedgerEntry',
    'LedgerPage',
    'LiveState',
    'LiveStep',
    'NavigateAction',
    'NetworkEntry',
    'OriginState',
    'Profile',
    'ProfileDownload',
    'ProfileList',
    'Progress',
    'Project',
    'ProjectList',
    'ReadyReport',
    'RedeliveryAccepted',
    'ReplayStep',
    'Run',
    'RunAccepted',
    'RunBundle',
    'RunError',
    'RunFile',
    'RunList',
    'RunSecret',
    'RunStatus',
    'ScreenshotAction',
    'ScrollAction',
    'SecretInfo',
    'Session',
    'SessionControlRequest',
    'SessionList',
    'SessionRedeliveryAccepted',
    'SessionStatus',
    'SessionStep',
    'SessionTaskAccepted',
    'SessionTaskRequest',
    'SessionUsage',
    'StepRecord',
    'StorageItem',
    'StorageState',
    'ToolCall',
    'ToolCallBody',
    'ToolDefinition',
    'ToolResult',
    'TypeAction',
    'UpdateJobRequest',
    'UploadFileAction',
    'Usage',
    'UsageRecord',
    'UsageReport',
    'UsageTotals',
    'ValidationError',
    'WaitForAction',
    'WebhookEndpoint',
    'WebhookEndpointList',
    'WebhookSecret',
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _OpenEnum(str, Enum):
    """An enum a newer server may extend: a value this version does not know parses as a member of
    its own (``RunStatus("paused_by_policy")``, not a ValidationError), equal to its string, in no
    known group (not terminal, say)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member


# The most POST /v1/runs?wait= accepts, in seconds.
RUNS_MAX_WAIT_S = 25


class ActionResult(_Model):
    action: str
    error: str | None = Field(default=None)
    error_code: str | None = Field(default=None, description="Why `ok` is false, where there is a code: `extract_invalid` (the model's answer is not JSON matching `output_schema`; `result.answer` has it), `extract_model_error` (the model did not answer).")
    object: str = Field(default='session_action')
    ok: bool
    result: Any | None = Field(default=None)
    session_id: str
    step: SessionStep | None = Field(default=None)


class ApiKey(_Model):
    """An API key as listed: never the key itself."""

    created_at: datetime
    expires_at: datetime | None = Field(default=None)
    id: str
    last_used_at: datetime | None = Field(default=None, description='Last request made with it (to within a minute).')
    name: str
    object: str = Field(default='api_key')
    prefix: str = Field(description='First characters of the key, to recognise it.')
    revoked: bool = Field(default=False)
    revoked_at: datetime | None = Field(default=None)
    scopes: list[Literal['full', 'read']]


class ApiKeyCreated(_Model):
    created_at: datetime
    expires_at: datetime | None = Field(default=None)
    id: str
    key: str = Field(description='The key itself (`oh_live_…` / `oh_test_…`): shown only in this response.')
    last_used_at: datetime | None = Field(default=None, description='Last request made with it (to within a minute).')
    name: str
    object: str = Field(default='api_key')
    prefix: str = Field(description='First characters of the key, to recognise it.')
    revoked: bool = Field(default=False)
    revoked_at: datetime | None = Field(default=None)
    scopes: list[Literal['full', 'read']]


class ApiKeyList(_Model):
    data: list[ApiKey]
    object: str = Field(default='list')


class AskBody(_Model):
    question: str
    schema_: dict[str, Any] | None = Field(default=None, alias='schema')


class Balance(_Model):
    """The org's prepaid balance. Runs are admitted only while it covers their maximum cost."""

    available_micros: int = Field(description='balance - floor: what new runs may spend (0 when below the floor).')
    balance_micros: int = Field(description='Balance in micro-dollars (1 USD = 1,000,000).')
    balance_usd: str = Field(description='The balance in USD as a decimal string, e.g. `"99.68"`.')
    currency: Literal['USD'] = Field(default='USD')
    floor_micros: int = Field(description='Charges never take the balance below this floor.')
    floor_usd: str = Field(description='The floor in USD as a decimal string.')
    object: str = Field(default='balance')
    unpaid_micros: int = Field(default=0, description='Usage that the balance could not cover (charged up to the floor, the rest recorded).')
    updated_at: datetime | None = Field(default=None)


class ClickAction(_Model):
    action: Literal['click']
    ref: str | None = Field(default=None, description='Element ref from the latest `extract` snapshot.')
    x: float | None = Field(default=None)
    y: float | None = Field(default=None)


class CloseReason(_OpenEnum):
    TERMINATED = 'terminated'
    IDLE_TIMEOUT = 'idle_timeout'
    MAX_DURATION = 'max_duration'
    TASK_DONE = 'task_done'
    FAILED = 'failed'


class Confidence(_Model):
    reason: str
    score: float


class Cookie(_Model):
    domain: str
    expires: float = Field(default=-1, description='Unix seconds; -1 for a session cookie (kept by the round trip).')
    httpOnly: bool = Field(default=False)
    name: str
    path: str = Field(default='/')
    sameSite: Literal['Strict', 'Lax', 'None'] = Field(default='Lax')
    secure: bool = Field(default=False)
    value: str


class CostBreakdown(_Model):
    input_micros: int = Field(default=0, description="Input tokens x the model's input price.")
    output_micros: int = Field(default=0, description="Output tokens x the model's output price.")
    run_fee_micros: int = Field(default=0, description='The per-run fee (0 when the run never started a sandbox).')
    sandbox_micros: int = Field(default=0, description='Sandbox seconds x the sandbox price.')


class CreateFileRequest(_Model):
    """A large file: answered with a presigned S3 upload whose size and type are pinned."""

    content_type: Literal['application/pdf', 'application/json', 'application/zip', 'application/octet-stream', 'application/msword', 'application/vnd.ms-excel', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/plain', 'text/csv', 'image/png', 'image/jpeg', 'image/gif', 'image/webp'] = Field(description='MIME type; the upload must send exactly this.')
    name: str
    size: int = Field(description='Exact size in bytes of what will be uploaded.')


class CreateJobRequest(_Model):
    allowed_domains: list[str] | None = Field(default=None)
    blocked_domains: list[str] | None = Field(default=None)
    default_inputs: dict[str, Any] | None = Field(default=None, description='Inputs used when a run omits them.')
    description: str | None = Field(default=None)
    human_input: bool | None = Field(default=None, description="The runs' default for offering `ask_human` (a run's own value wins; else off).")
    input_timeout_s: int | None = Field(default=None, description="How long one question may wait for its answer (default 300 s, at most the org's limit); past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.")
    max_cost_usd: float | str | None = Field(default=None, description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.')
    max_duration_s: int | None = Field(default=None, description='Wall-clock budget in seconds.')
    max_input_tokens: int | None = Field(default=None, description='LLM input token budget.')
    max_output_tokens: int | None = Field(default=None, description='LLM output token budget.')
    max_steps: int | None = Field(default=None, description='Maximum browser actions.')
    metadata: dict[str, str] | None = Field(default=None)
    model: str | None = Field(default=None)
    name: str
    output_schema: dict[str, Any] | None = Field(default=None)
    project_id: str | None = Field(default=None)
    prompt: str = Field(description='Prompt with `{{name}}` placeholders.')
    start_url: str | None = Field(default=None)
    tool_timeout_s: int | None = Field(default=None, description='How long one tool call waits for its result (default 120 s); past it the agent gets a timeout error as the result and carries on. Waiting does not count against `max_duration_s`.')
    tools: list[ToolDefinition] | None = Field(default=None, description='Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; answer with `POST /v1/runs/{id}/tool-results`.')
    webhook_url: str | None = Field(default=None, description="Checked like a run's webhook_url (422 `webhook_url_not_allowed`).")


class CreateKeyRequest(_Model):
    expires_at: datetime | None = Field(default=None, description='After this instant the key answers 401 `api_key_expired`; must be in the future.')
    name: str = Field(description='What the key is for.')
    scopes: list[Literal['full', 'read']] | None = Field(default=None, description='`full` (everything) or `read` (GET only; writes answer 403 `insufficient_scope`).')


class CreateProfileRequest(_Model):
    name: str


class CreateProjectRequest(_Model):
    description: str | None = Field(default=None)
    metadata: dict[str, str] | None = Field(default=None)
    name: str


class CreateRunRequest(_Model):
    allowed_domains: list[str] | None = Field(default=None, description="If set, the browser may only visit these domains ('example.com', '*.example.com').")
    blocked_domains: list[str] | None = Field(default=None, description='Domains the browser may never visit.')
    file_ids: list[str] | None = Field(default=None, description='Files of your org (POST /v1/files, `ready`) placed in the sandbox before the agent starts; the agent puts them on file inputs by name (`upload_file`), and the prompt may name them.')
    human_input: bool = Field(default=False, description='Offer the agent the `ask_human` tool: when it cannot go on alone (a one-time code, a choice) the run goes to `needs_input` and waits for `POST /v1/runs/{id}/input`. Off by default for one-shot runs: nobody may be watching, and a run that asks would wait out `input_timeout_s`.')
    input_timeout_s: int | None = Field(default=None, description="How long one question may wait for its answer (default 300 s, at most the org's limit); past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.")
    inputs: dict[str, Any] | None = Field(default=None, description='Values for `{{name}}` placeholders in the prompt; also handed to the agent.')
    job_id: str | None = Field(default=None, description='Job this run belongs to (set by POST /v1/jobs/{id}/runs).')
    max_cost_usd: float | str | None = Field(default=None, description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.')
    max_duration_s: int | None = Field(default=None, description='Wall-clock budget in seconds.')
    max_input_tokens: int | None = Field(default=None, description='LLM input token budget.')
    max_output_tokens: int | None = Field(default=None, description='LLM output token budget.')
    max_steps: int | None = Field(default=None, description='Maximum browser actions.')
    metadata: dict[str, str] | None = Field(default=None, description='Up to 16 string pairs, returned as given.')
    model: str | None = Field(default=None, description='LLM to drive the browser.')
    output_schema: dict[str, Any] | None = Field(default=None, description='JSON Schema the result must validate against (any draft jsonschema knows).')
    persist_profile: bool = Field(default=False, description="Save the browser's state back into `profile_id` when the run ends gracefully (succeeded, or failed by its own limits, the model or its schema; not a crash or cancel). The run holds the profile's single-writer lease until it ends: another writer meanwhile gets 409 `profile_in_use`.")
    profile_id: str | None = Field(default=None, description='Browser profile (POST /v1/profiles) whose storage_state is loaded before the first step.')
    project_id: str | None = Field(default=None, description="Project; defaults to the org's 'API Runs' project.")
    prompt: str = Field(description='What the agent should do. Kept exactly as given, control characters included: it is handed to the model verbatim.')
    replay_of: str | None = Field(default=None, description='Replay the steps of this succeeded run with no LLM (model becomes `replay`).')
    replay_steps: list[ReplayStep] | None = Field(default=None, description='Replay this recorded workflow with no LLM (model becomes `replay`). The last step, and only the last, is `done` (else 422 with `details[].type` `replay_steps_invalid`).')
    secrets: list[RunSecret] | None = Field(default=None, description='Per-domain secrets (see RunSecret); at most 3,000 bytes of names and values in all.')
    start_url: str | None = Field(default=None, description='Page the browser opens first.')
    tool_timeout_s: int | None = Field(default=None, description='How long one tool call waits for its result (default 120 s); past it the agent gets a timeout error as the result and carries on. Waiting does not count against `max_duration_s`.')
    tools: list[ToolDefinition] | None = Field(default=None, description='Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; answer with `POST /v1/runs/{id}/tool-results`.')
    webhook_url: str | None = Field(default=None, description="Receives this run's events (signed). Checked like a webhook endpoint's URL, without DNS at creation: an address literal in any spelling must be public (422 `webhook_url_not_allowed`).")


class CreateSessionRequest(_Model):
    allowed_domains: list[str] | None = Field(default=None, description='Only these domains (and subdomains with *.).')
    blocked_domains: list[str] | None = Field(default=None, description='Domains the browser may never visit.')
    idle_timeout_s: int = Field(default=300, description='Close the session after this long without a task or an action.')
    initial_task: SessionTaskRequest | None = Field(default=None, description='A task to run as soon as the browser is up.')
    keep_alive: bool = Field(default=True, description='False: the session closes itself once `initial_task` ends (one run in a fresh browser).')
    max_duration_s: int | None = Field(default=None, description="Absolute lifetime; at most the org's session limit and the sandbox provider's maximum.")
    metadata: dict[str, str] | None = Field(default=None, description='Up to 16 string pairs, returned as given.')
    persist_profile: bool = Field(default=False, description="Save the browser's state back into `profile_id` when the session closes gracefully (closed by request, after its task with `keep_alive: false`, or expired; not failed). The session holds the profile's single-writer lease while live: another writer meanwhile gets 409 `profile_in_use`.")
    profile_id: str | None = Field(default=None, description="Browser profile (POST /v1/profiles) whose storage_state the session's browser starts with.")
    start_url: str | None = Field(default=None, description='Page the browser opens when the session starts.')


class CreateWebhookRequest(_Model):
    description: str | None = Field(default=None, description='Free text for your own reference.')
    event_types: list[Literal['run.succeeded', 'run.failed', 'run.cancelled', 'run.needs_input', 'run.tool_call', 'session.started', 'session.closed']] | None = Field(default=None, description='Events to receive; default all of run.succeeded, run.failed, run.cancelled. session.started and session.closed (data: the session) are sent only to endpoints that name them.')
    url: str = Field(description='Where events are POSTed. https in production; the host must resolve only to public addresses; no credentials in the URL; port 80, 443 or 1024 and above.')


class DeliveryAttempt(_Model):
    """One attempt to deliver a run's event to one target, or the final `exhausted` record."""

    attempt: int = Field(description='Attempt number for this target, from 1.')
    created_at: datetime
    duration_ms: int | None = Field(default=None)
    error: str | None = Field(default=None, description='Why the attempt failed (timeout, refused address, 3xx, ...).')
    event_type: Literal['run.succeeded', 'run.failed', 'run.cancelled', 'run.needs_input', 'run.tool_call', 'session.started', 'session.closed']
    id: str = Field(description='Attempt id (dlv_...).')
    object: str = Field(default='webhook_delivery')
    outcome: Literal['delivered', 'failed', 'exhausted'] = Field(description='`delivered`: answered 2xx; `failed`: will be retried; `exhausted`: no attempts left.')
    redelivery: bool = Field(default=False, description='True for attempts requested with the redeliver endpoint.')
    response_excerpt: str | None = Field(default=None, description='At most the first 256 bytes of the response body.')
    run_id: str
    status_code: int | None = Field(default=None, description="The receiver's HTTP status; null when none was received.")
    target: str = Field(description="`run` (the run's own webhook_url) or the endpoint id (whk_...).")
    url: str
    webhook_id: str = Field(description='The `webhook-id` header: the same on every retry and redelivery.')


class DeliveryList(_Model):
    data: list[DeliveryAttempt] = Field(description='Newest first.')
    next_cursor: str | None = Field(default=None, description='Pass as `cursor` to get the next page; null at the end.')
    object: str = Field(default='list')


class DoubleClickAction(_Model):
    action: Literal['double_click']
    x: float
    y: float


class ErrorBody(_Model):
    code: str = Field(description='Stable machine-readable code, e.g. run_not_found.')
    details: Any | None = Field(default=None, description='Where the error is (field paths, limits), when known.')
    message: str = Field(description='Human-readable explanation.')
    type: str = Field(description='Error class: invalid_request_error, authentication_error, ...')


class ErrorResponse(_Model):
    """The one error envelope every endpoint answers with."""

    error: ErrorBody


class EvaluateAction(_Model):
    action: Literal['evaluate']
    expression: str = Field(description='A JavaScript expression (may use await); its value as JSON.')
    timeout_s: float = Field(default=5.0)


class EvidenceItem(_Model):
    path: str | None = Field(default=None, description="Path of the screenshot in the run's evidence.")
    screenshot_url: str | None = Field(default=None, description='Short-lived presigned GET URL of the PNG.')
    sha256: str | None = Field(default=None)
    step: int
    time: datetime | None = Field(default=None)
    url: str | None = Field(default=None)


class ExtractAction(_Model):
    action: Literal['extract']
    instruction: str | None = Field(default=None, description='What to extract, for the model (only with `output_schema`).')
    output_schema: dict[str, Any] | None = Field(default=None, description="With it, the model reads the page's text once (billed as tokens to the session) and the answer, validated against this JSON Schema, is `result.data`; an answer that does not validate is `ok: false` with `error_code` `extract_invalid`. Without it: the page as readable text, no model.")


class FileList(_Model):
    data: list[FileObject]
    next_cursor: str | None = Field(default=None)
    object: str = Field(default='list')


class FileObject(_Model):
    content_type: str
    created_at: datetime
    download_url: str | None = Field(default=None, description='Short-lived presigned GET URL (single reads of a ready file).')
    id: str
    name: str
    object: str = Field(default='file')
    sha256: str | None = Field(default=None, description='SHA-256 of the bytes (small uploads; null for presigned ones).')
    size: int
    status: Literal['pending', 'ready'] = Field(description='`pending` until S3 holds the upload (checked when the file is read or attached); then `ready`.')


class FileUpload(_Model):
    """Where to send a large file: an HTML-form style POST to ``url`` with ``fields`` and the file last."""

    expires_at: datetime
    fields: dict[str, str]
    file: FileObject
    url: str


class GoBackAction(_Model):
    action: Literal['go_back']


class Health(_Model):
    status: str = Field(default='ok')
    version: str


class InputAnswer(_Model):
    answer: Any = Field(description="Validated against the request's `schema`; a secret: never stored in clear.")
    request_id: str


class InputRequest(_Model):
    """What a run in `needs_input` asks (`POST /v1/runs/{id}/input` answers it)."""

    asked_at: datetime
    expires_at: datetime = Field(description='Past this the run fails `INPUT_TIMEOUT`.')
    id: str = Field(description='Pass as `request_id` with the answer.')
    question: str
    schema_: dict[str, Any] | None = Field(default=None, alias='schema', description='JSON Schema the answer must match.')


class Job(_Model):
    allowed_domains: list[str] | None = Field(default=None)
    blocked_domains: list[str] | None = Field(default=None)
    created_at: datetime
    default_inputs: dict[str, Any] | None = Field(default=None)
    description: str | None = Field(default=None)
    human_input: bool | None = Field(default=None)
    id: str
    input_timeout_s: int | None = Field(default=None)
    max_cost_usd: str | None = Field(default=None, description="Default cost cap of the job's runs, USD decimal string.")
    max_duration_s: int | None = Field(default=None)
    max_input_tokens: int | None = Field(default=None)
    max_output_tokens: int | None = Field(default=None)
    max_steps: int | None = Field(default=None)
    metadata: dict[str, str] | None = Field(default=None)
    model: str | None = Field(default=None)
    name: str
    object: str = Field(default='job')
    output_schema: dict[str, Any] | None = Field(default=None)
    placeholders: list[str] | None = Field(default=None, description='Placeholder names in the prompt.')
    project_id: str | None = Field(default=None)
    prompt: str
    start_url: str | None = Field(default=None)
    tool_timeout_s: int | None = Field(default=None)
    tools: list[ToolDefinition] | None = Field(default=None, description="The runs' tools (a run's own list replaces them).")
    updated_at: datetime
    webhook_url: str | None = Field(default=None)


class JobList(_Model):
    data: list[Job]
    next_cursor: str | None = Field(default=None)
    object: str = Field(default='list')


class JobRunRequest(_Model):
    """POST /v1/jobs/{id}/runs: inputs plus overrides of the job's stored defaults (`tools` given here
replace the job's, not add to them)."""

    allowed_domains: list[str] | None = Field(default=None, description="If set, the browser may only visit these domains ('example.com', '*.example.com').")
    blocked_domains: list[str] | None = Field(default=None, description='Domains the browser may never visit.')
    file_ids: list[str] | None = Field(default=None, description='Files of your org (POST /v1/files, `ready`) placed in the sandbox before the agent starts; the agent puts them on file inputs by name (`upload_file`), and the prompt may name them.')
    human_input: bool | None = Field(default=None, description="Offer the agent `ask_human` (as on POST /v1/runs); without it, the job's default.")
    input_timeout_s: int | None = Field(default=None, description="How long one question may wait for its answer (default 300 s, at most the org's limit); past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.")
    inputs: dict[str, Any] | None = Field(default=None, description='Values for `{{name}}` placeholders in the prompt; also handed to the agent.')
    max_cost_usd: float | str | None = Field(default=None, description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.')
    max_duration_s: int | None = Field(default=None, description='Wall-clock budget in seconds.')
    max_input_tokens: int | None = Field(default=None, description='LLM input token budget.')
    max_output_tokens: int | None = Field(default=None, description='LLM output token budget.')
    max_steps: int | None = Field(default=None, description='Maximum browser actions.')
    metadata: dict[str, str] | None = Field(default=None, description='Up to 16 string pairs, returned as given.')
    model: str | None = Field(default=None, description='LLM to drive the browser.')
    output_schema: dict[str, Any] | None = Field(default=None, description='JSON Schema the result must validate against (any draft jsonschema knows).')
    persist_profile: bool = Field(default=False, description="Save the browser's state back into `profile_id` when the run ends gracefully (succeeded, or failed by its own limits, the model or its schema; not a crash or cancel). The run holds the profile's single-writer lease until it ends: another writer meanwhile gets 409 `profile_in_use`.")
    profile_id: str | None = Field(default=None, description='Browser profile (POST /v1/profiles) whose storage_state is loaded before the first step.')
    project_id: str | None = Field(default=None, description="Project; defaults to the org's 'API Runs' project.")
    secrets: list[RunSecret] | None = Field(default=None, description='Per-domain secrets (see RunSecret); at most 3,000 bytes of names and values in all.')
    start_url: str | None = Field(default=None, description='Page the browser opens first.')
    tool_timeout_s: int | None = Field(default=None, description='How long one tool call waits for its result (default 120 s); past it the agent gets a timeout error as the result and carries on. Waiting does not count against `max_duration_s`.')
    tools: list[ToolDefinition] | None = Field(default=None, description='Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; answer with `POST /v1/runs/{id}/tool-results`.')
    webhook_url: str | None = Field(default=None, description="Receives this run's events (signed). Checked like a webhook endpoint's URL, without DNS at creation: an address literal in any spelling must be public (422 `webhook_url_not_allowed`).")


class KeyPressAction(_Model):
    action: Literal['key_press']
    key: str = Field(description='A Playwright key name: Enter, Tab, Control+A ...')


class LedgerEntry(_Model):
    """One change to an org's money, written in the same transaction as the balance change."""

    actor: str = Field(description='Who made the change: `operator:<name>`, `key:<key id>` or `billing`.')
    amount_micros: int = Field(description='Signed change of the balance (0 for a floor change).')
    amount_usd: str
    balance_after_micros: int = Field(description='The balance once this change was applied.')
    balance_after_usd: str
    created_at: datetime
    floor_after_micros: int = Field(description='The floor once this change was applied.')
    id: str
    kind: Literal['credit', 'debit', 'run_charge', 'floor'] = Field(description="credit / debit (by an operator), run_charge (a run's usage), floor.")
    object: str = Field(default='balance_transaction')
    reason: str
    run_id: str | None = Field(default=None, description='The run charged (run_charge only).')


class LedgerPage(_Model):
    """The org's balance transactions, newest first."""

    data: list[LedgerEntry]
    next_cursor: str | None = Field(default=None, description='Pass as `cursor` for the next page; null at the end.')
    object: str = Field(default='list')


class LiveState(_Model):
    """What a live page polls besides its frames (GET /v1/sessions/{id}/live/state or
/v1/runs/{id}/live/state, by signed link)."""

    current_task: str | None = Field(default=None, description='The run id of the task running now.')
    current_url: str | None = Field(default=None)
    mode: Literal['view', 'control'] = Field(description='What the link allows: watch, or act on the picture.')
    object: Literal['live_state'] = Field(default='live_state')
    run_id: str | None = Field(default=None, description="The one-shot run watched, or the session's current task.")
    session_id: str | None = Field(default=None, description='The session watched (null for a one-shot run).')
    status: str = Field(description="The session's status (ready, busy, paused, manual), or the run's (running, needs_input, waiting_for_tool).")
    steps: list[LiveStep] | None = Field(default=None, description="The session's last direct and manual actions.")


class LiveStep(_Model):
    action: str
    by: Literal['api', 'person'] | None = Field(default=None, description='`person`: a manual action of a take-over.')
    error: str | None = Field(default=None)
    index: int
    url: str | None = Field(default=None)


class NavigateAction(_Model):
    action: Literal['navigate']
    url: str


class NetworkEntry(_Model):
    blocked: bool = Field(default=False)
    status: int | None = Field(default=None)
    time: datetime | None = Field(default=None)
    url: str


class OriginState(_Model):
    localStorage: list[StorageItem] | None = Field(default=None)
    origin: str


class Profile(_Model):
    cookie_domains: list[str] | None = Field(default=None, description='Domains of its cookies, sorted.')
    created_at: datetime
    id: str
    last_used_at: datetime | None = Field(default=None, description='When a run last loaded it.')
    locked_by_run: str | None = Field(default=None, description='The run that holds its write lease (persist_profile).')
    name: str
    object: str = Field(default='profile')
    size: int = Field(default=0, description='Bytes of its storage_state JSON (0: empty).')
    updated_at: datetime | None = Field(default=None, description='When its state was last saved (upload or a run).')


class ProfileDownload(_Model):
    expires_at: datetime
    url: str = Field(description='Short-lived presigned GET URL of the storage_state JSON.')


class ProfileList(_Model):
    data: list[Profile]
    next_cursor: str | None = Field(default=None)
    object: str = Field(default='list')


class Progress(_Model):
    last_action: str | None = Field(default=None)
    last_url: str | None = Field(default=None)
    step: int = Field(default=0)
    updated_at: datetime | None = Field(default=None)


class Project(_Model):
    created_at: datetime
    description: str | None = Field(default=None)
    id: str
    is_default: bool = Field(default=False)
    metadata: dict[str, str] | None = Field(default=None)
    name: str
    object: str = Field(default='project')


class ProjectList(_Model):
    data: list[Project]
    next_cursor: str | None = Field(default=None)
    object: str = Field(default='list')


class ReadyReport(_Model):
    title: str | None = Field(default=None)
    url: str | None = Field(default=None)


class RedeliveryAccepted(_Model):
    event_type: Literal['run.succeeded', 'run.failed', 'run.cancelled', 'run.needs_input', 'run.tool_call', 'session.started', 'session.closed']
    object: str = Field(default='redelivery')
    run_id: str
    status: Literal['queued'] = Field(default='queued')
    webhook_id: str = Field(description='The same `webhook-id` as the first delivery, so receivers deduplicate.')


class ReplayStep(_Model):
    """One recorded browser action; a replay performs these with no LLM and ends with `done`."""

    action: Literal['navigate', 'click', 'type', 'select', 'upload_file', 'scroll', 'go_back', 'wait', 'done']
    args: dict[str, Any] | None = Field(default=None)


class Run(_Model):
    """The run envelope. Fields a run has not reached yet are null."""

    allowed_domains: list[str] | None = Field(default=None)
    blocked_domains: list[str] | None = Field(default=None)
    confidence: Confidence | None = Field(default=None)
    created_at: datetime
    error: RunError | None = Field(default=None)
    evidence: list[EvidenceItem] | None = Field(default=None)
    evidence_error: str | None = Field(default=None)
    evidence_manifest_url: str | None = Field(default=None, description='Short-lived presigned GET URL of manifest.json (every file with its SHA-256).')
    evidence_status: Literal['ready', 'unavailable', 'failed'] | None = Field(default=None, description='Null until the evidence pipeline has run after the run ended. `ready`: screenshots and step records are stored (presigned URLs in `evidence` and `evidence_manifest_url`); `unavailable`: there was nothing to copy (no sandbox, or it was gone); `failed`: storing them failed (`evidence_error` says why).')
    file_ids: list[str] | None = Field(default=None, description="The files placed in the run's sandbox.")
    files: list[RunFile] | None = Field(default=None, description='Files the browser downloaded (size-capped), with SHA-256 and presigned download URLs.')
    finished_at: datetime | None = Field(default=None)
    human_input: bool = Field(default=False)
    id: str
    input_request: InputRequest | None = Field(default=None, description='Set while the run is `needs_input`.')
    input_timeout_s: int | None = Field(default=None)
    inputs: dict[str, Any] | None = Field(default=None)
    job_id: str | None = Field(default=None)
    live_url: str | None = Field(default=None, description="While the run is running, needs_input or waiting_for_tool: a short-lived read-only signed link to its live view (the browser as it moves, several frames a second; no API key). A session's task links to its session's live view (whose `live_mode=control` acts on it); a one-shot run to GET /v1/runs/{id}/live (read-only: manual control is a sessions feature). Null once the run has ended, and for a run whose sandbox serves no live view (a warm local sandbox, a provider without one).")
    max_cost_micros: int | None = Field(default=None, description="The run's cost cap in micro-dollars.")
    max_cost_usd: str | None = Field(default=None, description="The run's cost cap in USD as a decimal string.")
    max_duration_s: int
    max_input_tokens: int
    max_output_tokens: int
    max_steps: int
    metadata: dict[str, str] | None = Field(default=None)
    model: str
    network: list[NetworkEntry] | None = Field(default=None)
    object: str = Field(default='run')
    output_schema: dict[str, Any] | None = Field(default=None)
    persist_profile: bool = Field(default=False)
    profile_id: str | None = Field(default=None)
    progress: Progress | None = Field(default=None)
    project_id: str
    prompt: str
    replay_of: str | None = Field(default=None)
    result: Any | None = Field(default=None)
    secrets: list[SecretInfo] | None = Field(default=None, description="The run's secrets: domain patterns and field names (values are never shown).")
    session_id: str | None = Field(default=None, description='The session whose browser runs this task (docs/sessions.md).')
    start_url: str | None = Field(default=None)
    started_at: datetime | None = Field(default=None)
    status: RunStatus
    steps: list[StepRecord] | None = Field(default=None)
    tool_call: ToolCall | None = Field(default=None, description='Set while the run is `waiting_for_tool`.')
    tool_timeout_s: int | None = Field(default=None)
    tools: list[dict[str, Any]] | None = Field(default=None)
    usage: Usage | None = Field(default=None)
    viewer_url: str | None = Field(default=None, description="Short-lived signed link to the run's page (prompt, result, steps with screenshots, network log, usage, errors) for a browser: no API key needed, good for this run only until its expiry (OPENHELM_VIEWER_URL_TTL_S).")
    webhook_url: str | None = Field(default=None)


class RunAccepted(_Model):
    poll_url: str
    status: RunStatus
    task_id: str = Field(description='The run id; poll it at poll_url.')


class RunBundle(_Model):
    """Where to download a run's trace bundle: a zip built once into the evidence bucket."""

    bytes: int = Field(description='Size of the zip.')
    cached: bool = Field(description='The zip was already built for this state of the run.')
    expires_at: datetime = Field(description='When `url` stops working.')
    files: int | None = Field(default=None, description='Files in the zip besides manifest.json (null when it was cached).')
    object: Literal['run_bundle'] = Field(default='run_bundle')
    run_id: str
    url: str = Field(description="Short-lived presigned GET URL of the zip (also the 303's Location).")


class RunError(_Model):
    code: str
    message: str


class RunFile(_Model):
    """A file the browser downloaded during the run, kept with the evidence."""

    content_type: str | None = Field(default=None)
    download_url: str | None = Field(default=None, description='Short-lived presigned GET URL (once the evidence is stored).')
    name: str
    sha256: str
    size: int
    source_url: str | None = Field(default=None)


class RunList(_Model):
    data: list[Run]
    next_cursor: str | None = Field(default=None, description='Pass as `cursor` to get the next page; null at the end.')
    object: str = Field(default='list')


class RunSecret(_Model):
    """Credentials for the sites a domain pattern matches. The model never sees a value: it types
the placeholder `<secret:NAME>` and the agent fills the value in, on a matching page only."""

    fields: dict[str, Any] = Field(description='Field name → value, e.g. `{"email": "...", "password": "..."}`. Values are encrypted at rest, never shown by the API, never logged, and removed when the run ends.')
    match: str = Field(description='Domain pattern (as in `allowed_domains`) of the pages these fields may be typed on; when the run has `allowed_domains`, it must lie inside them.')


class RunStatus(_OpenEnum):
    QUEUED = 'queued'
    STARTING = 'starting'
    RUNNING = 'running'
    NEEDS_INPUT = 'needs_input'
    WAITING_FOR_TOOL = 'waiting_for_tool'
    SUCCEEDED = 'succeeded'
    FAILED = 'failed'
    CANCELLED = 'cancelled'


class ScreenshotAction(_Model):
    action: Literal['screenshot']


class ScrollAction(_Model):
    action: Literal['scroll']
    amount: float = Field(default=1.0)
    direction: Literal['up', 'down'] = Field(default='down')
    dx: float | None = Field(default=None, description='Wheel pixels right (with dy: instead of direction and amount).')
    dy: float | None = Field(default=None, description='Wheel pixels down.')


class SecretInfo(_Model):
    """A run's secret as the API shows it: the pattern and the field names, never the values."""

    fields: list[str]
    match: str


class Session(_Model):
    allowed_domains: list[str] | None = Field(default=None)
    blocked_domains: list[str] | None = Field(default=None)
    close_reason: CloseReason | None = Field(default=None)
    closed_at: datetime | None = Field(default=None)
    created_at: datetime
    current_task: str | None = Field(default=None, description='The run id of the task running now.')
    current_title: str | None = Field(default=None)
    current_url: str | None = Field(default=None)
    error: RunError | None = Field(default=None)
    expires_at: datetime = Field(description='When the session closes at the latest (max_duration_s).')
    id: str
    idle_expires_at: datetime | None = Field(default=None, description='When it closes if nothing happens before.')
    idle_timeout_s: int
    keep_alive: bool = Field(default=True)
    last_active_at: datetime | None = Field(default=None)
    live_url: str | None = Field(default=None, description="Short-lived signed link (no API key in it) to the session's live view: its browser as it moves, the current URL and the last steps, frames straight from the sandbox. Read-only unless asked for with `live_mode=control` on GET /v1/sessions/{id}: then clicks and keys on the picture are a person's manual actions (the first takes the session over). Set while the session is ready, busy, paused or manual; the link stops working (410) when the session ends.")
    manual_since: datetime | None = Field(default=None, description='When a person took control (status `manual`).')
    max_duration_s: int
    metadata: dict[str, str] | None = Field(default=None)
    object: str = Field(default='session')
    persist_profile: bool = Field(default=False)
    profile_id: str | None = Field(default=None)
    project_id: str
    ready_at: datetime | None = Field(default=None)
    screenshot_url: str | None = Field(default=None, description="Presigned URL of the latest action's screenshot.")
    start_url: str | None = Field(default=None)
    status: SessionStatus
    steps: list[SessionStep] | None = Field(default=None, description='Direct actions, oldest first.')
    tasks: list[str] | None = Field(default=None, description="Run ids of the session's tasks, oldest first.")
    usage: SessionUsage | None = Field(default=None)


class SessionControlRequest(_Model):
    action: Literal['take_over', 'release'] = Field(description='`take_over`: a person takes control (a running task pauses between steps; status `manual`). `release`: the agent goes on, told what the person did, from a fresh look at the page.')
    note: str | None = Field(default=None, description='Kept with the take-over; told to the agent on release.')


class SessionList(_Model):
    data: list[Session]
    next_cursor: str | None = Field(default=None)
    object: str = Field(default='list')


class SessionRedeliveryAccepted(_Model):
    event_type: Literal['session.started', 'session.closed']
    object: str = Field(default='redelivery')
    session_id: str
    status: Literal['queued'] = Field(default='queued')
    webhook_id: str = Field(description='The same `webhook-id` as the first delivery, so receivers deduplicate.')


class SessionStatus(_OpenEnum):
    STARTING = 'starting'
    READY = 'ready'
    BUSY = 'busy'
    PAUSED = 'paused'
    MANUAL = 'manual'
    CLOSED = 'closed'
    EXPIRED = 'expired'
    FAILED = 'failed'


class SessionStep(_Model):
    action: str
    args: dict[str, Any] | None = Field(default=None)
    by: Literal['api', 'person'] | None = Field(default=None, description='`api`: a direct action; `person`: a manual action while taken over (typed text kept nowhere, its length only).')
    cost_micros: int | None = Field(default=None, description="Those tokens at the model's prices, in micro-dollars.")
    cost_usd: str | None = Field(default=None)
    duration_ms: int | None = Field(default=None)
    error: str | None = Field(default=None)
    index: int
    input_tokens: int | None = Field(default=None, description='Input tokens of that call, as the LLM gateway counted them.')
    llm_call: int | None = Field(default=None, description="Number of the LLM call that chose this step (1 = the run's first call).")
    output_tokens: int | None = Field(default=None, description='Output tokens of that call, as the LLM gateway counted them.')
    screenshot_url: str | None = Field(default=None, description="Short-lived presigned GET URL of the step's screenshot.")
    started_at: datetime | None = Field(default=None)
    title: str | None = Field(default=None)
    url: str | None = Field(default=None)


class SessionTaskAccepted(_Model):
    poll_url: str
    session_id: str
    status: str
    task_id: str = Field(description='The run id of the task; GET /v1/runs/{id} has its envelope.')


class SessionTaskRequest(_Model):
    """The body of a run, less what a session decides for its tasks: the domain policy is the
session's (its sandbox enforces it), the browser profile is the session's (CreateSessionRequest),
and jobs and replays start runs of their own. ``start_url`` opens in the session's current tab
first if given. ``secrets`` and ``file_ids`` are the task's own: its files are placed into the
running sandbox before it starts, its secrets serve this task only."""

    file_ids: list[str] | None = Field(default=None, description='Files of your org (POST /v1/files, `ready`) placed in the sandbox before the agent starts; the agent puts them on file inputs by name (`upload_file`), and the prompt may name them.')
    human_input: bool = Field(default=True, description="Offer the agent `ask_human` (the task goes to `needs_input`, answered with `POST /v1/runs/{task_id}/input`). On by default for a session's tasks: someone is at hand.")
    input_timeout_s: int | None = Field(default=None, description="How long one question may wait for its answer (default 300 s, at most the org's limit); past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.")
    inputs: dict[str, Any] | None = Field(default=None, description='Values for `{{name}}` placeholders in the prompt.')
    max_cost_usd: float | str | None = Field(default=None, description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.')
    max_duration_s: int | None = Field(default=None, description='Wall-clock budget in seconds.')
    max_input_tokens: int | None = Field(default=None, description='LLM input token budget.')
    max_output_tokens: int | None = Field(default=None, description='LLM output token budget.')
    max_steps: int | None = Field(default=None, description='Maximum browser actions.')
    metadata: dict[str, str] | None = Field(default=None, description='Up to 16 string pairs, returned as given.')
    model: str | None = Field(default=None, description='LLM to drive the browser.')
    output_schema: dict[str, Any] | None = Field(default=None, description='JSON Schema the result must validate against.')
    project_id: str | None = Field(default=None, description="Project; defaults to the org's 'API Runs' project.")
    prompt: str = Field(description='What the agent should do, kept exactly as given.')
    secrets: list[RunSecret] | None = Field(default=None, description='Per-domain secrets (see RunSecret); at most 3,000 bytes of names and values in all.')
    start_url: str | None = Field(default=None, description="Page to open first, in the session's current tab.")
    tool_timeout_s: int | None = Field(default=None, description='How long one tool call waits for its result (default 120 s); past it the agent gets a timeout error as the result and carries on. Waiting does not count against `max_duration_s`.')
    tools: list[ToolDefinition] | None = Field(default=None, description='Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; answer with `POST /v1/runs/{id}/tool-results`.')
    webhook_url: str | None = Field(default=None, description="Receives this task's run events (signed).")


class SessionUsage(_Model):
    cost_micros: int = Field(default=0)
    cost_status: Literal['estimate', 'billed'] = Field(default='estimate')
    cost_usd: str = Field(default='0.00')
    input_tokens: int = Field(default=0, description="Tokens of the session's own model calls (extract with a schema).")
    output_tokens: int = Field(default=0)
    sandbox_seconds: float = Field(default=0.0, description="The session's sandbox time, idle time included.")
    waived_reason: str | None = Field(default=None)


class StepRecord(_Model):
    action: str
    args: dict[str, Any] | None = Field(default=None)
    cost_micros: int | None = Field(default=None, description="Those tokens at the model's prices, in micro-dollars.")
    cost_usd: str | None = Field(default=None)
    duration_ms: int | None = Field(default=None)
    error: str | None = Field(default=None)
    index: int
    input_tokens: int | None = Field(default=None, description='Input tokens of that call, as the LLM gateway counted them.')
    llm_call: int | None = Field(default=None, description="Number of the LLM call that chose this step (1 = the run's first call).")
    output_tokens: int | None = Field(default=None, description='Output tokens of that call, as the LLM gateway counted them.')
    started_at: datetime | None = Field(default=None)
    title: str | None = Field(default=None)
    url: str | None = Field(default=None)


class StorageItem(_Model):
    name: str
    value: str


class StorageState(_Model):
    """Playwright's ``storage_state`` (``BrowserContext.storage_state()``), validated on upload."""

    cookies: list[Cookie] | None = Field(default=None)
    origins: list[OriginState] | None = Field(default=None)


class ToolCall(_Model):
    """A call of one of the run's own tools, waiting for its result."""

    arguments: dict[str, Any]
    called_at: datetime
    expires_at: datetime = Field(description='Past this the agent gets a timeout error as the result.')
    id: str = Field(description='Pass as `call_id` with the result.')
    name: str


class ToolCallBody(_Model):
    arguments: dict[str, Any] | None = Field(default=None)
    name: str


class ToolDefinition(_Model):
    """A tool the caller runs: the agent may call it; the run waits for `POST /v1/runs/{id}/tool-results`."""

    description: str = Field(description='What it does, for the model.')
    name: str = Field(description="Not one of the agent's own tools.")
    parameters: dict[str, Any] | None = Field(default=None, description='JSON Schema of the arguments (an object schema).')


class ToolResult(_Model):
    call_id: str
    error: str | None = Field(default=None, description='Why the tool failed; the agent sees it.')
    output: Any | None = Field(default=None, description="The tool's output (JSON, at most 32 KiB); or give `error`.")


class TypeAction(_Model):
    action: Literal['type']
    human_like: bool = Field(default=False, description='Type with a pause between characters.')
    ref: str | None = Field(default=None, description='Field to fill; without it, types into the focus.')
    submit: bool = Field(default=False, description='Press Enter afterwards.')
    text: str


class UpdateJobRequest(_Model):
    """PATCH: only the fields given change; null clears an optional field."""

    allowed_domains: list[str] | None = Field(default=None)
    blocked_domains: list[str] | None = Field(default=None)
    default_inputs: dict[str, Any] | None = Field(default=None, description='Inputs used when a run omits them.')
    description: str | None = Field(default=None)
    human_input: bool | None = Field(default=None, description="The runs' default for offering `ask_human` (a run's own value wins; else off).")
    input_timeout_s: int | None = Field(default=None, description="How long one question may wait for its answer (default 300 s, at most the org's limit); past it the run fails `INPUT_TIMEOUT`. Waiting does not count against `max_duration_s`.")
    max_cost_usd: float | str | None = Field(default=None, description='Most this run may cost in USD (model tokens and sandbox time together), e.g. `"0.50"`. The LLM gateway refuses a call whose worst case would cross it and the sandbox clock stops the run when time alone would; such a run ends `BUDGET_EXCEEDED` and is charged at most this.')
    max_duration_s: int | None = Field(default=None, description='Wall-clock budget in seconds.')
    max_input_tokens: int | None = Field(default=None, description='LLM input token budget.')
    max_output_tokens: int | None = Field(default=None, description='LLM output token budget.')
    max_steps: int | None = Field(default=None, description='Maximum browser actions.')
    metadata: dict[str, str] | None = Field(default=None)
    model: str | None = Field(default=None)
    name: str | None = Field(default=None)
    output_schema: dict[str, Any] | None = Field(default=None)
    project_id: str | None = Field(default=None)
    prompt: str | None = Field(default=None)
    start_url: str | None = Field(default=None)
    tool_timeout_s: int | None = Field(default=None, description='How long one tool call waits for its result (default 120 s); past it the agent gets a timeout error as the result and carries on. Waiting does not count against `max_duration_s`.')
    tools: list[ToolDefinition] | None = Field(default=None, description='Up to 16 tools you run yourself: a call sets the run to `waiting_for_tool` with `tool_call`; answer with `POST /v1/runs/{id}/tool-results`.')
    webhook_url: str | None = Field(default=None, description="Checked like a run's webhook_url (422 `webhook_url_not_allowed`).")


class UploadFileAction(_Model):
    action: Literal['upload_file']
    file_id: str = Field(description='A `ready` file of your org (POST /v1/files): placed in the sandbox, then set.')
    ref: str = Field(description="The file input's ref, from the latest `extract` snapshot.")


class Usage(_Model):
    """What the run used and costs, by the control plane's counters (the same figures its usage
record bills). While the run goes, ``cost_status`` is ``estimate`` (the cost so far, priced by the
same code); once billed it is ``billed`` and every figure is the usage record's."""

    capped: bool = Field(default=False, description='The run reached its max_cost_usd and is billed the cap.')
    charged_micros: int | None = Field(default=None, description='What was debited from the balance (once billed).')
    cost_micros: int = Field(default=0, description='Cost in micro-dollars (1 USD = 1,000,000).')
    cost_status: Literal['estimate', 'billed'] = Field(default='estimate')
    cost_usd: str = Field(default='0.00', description='cost_micros in USD as a decimal string.')
    input_tokens: int = Field(default=0)
    llm_calls: int = Field(default=0)
    output_tokens: int = Field(default=0)
    sandbox_seconds: float = Field(default=0.0, description='Sandbox time in seconds (millisecond precision).')
    waived_reason: str | None = Field(default=None, description='Why nothing is charged (infrastructure failures).')


class UsageRecord(_Model):
    """One finished run's usage and what it cost; written exactly once per run.

``breakdown`` prices what the run used; ``cost_micros`` is what the run is billed: that sum, at
most the run's ``max_cost_micros``, and 0 when ``waived_reason`` says our infrastructure failed it."""

    breakdown: CostBreakdown = Field(description='What the run used, at list prices (before the cap and any waiver).')
    capped: bool = Field(default=False, description='True when the run used more than its cap and was billed the cap.')
    charged_micros: int = Field(description='What was debited from the balance.')
    cost_micros: int = Field(description='What the run is billed, in micro-dollars (after the cap and any waiver).')
    cost_usd: str = Field(description='cost_micros in USD as a decimal string.')
    created_at: datetime | None = Field(default=None, description='When the run was created.')
    finished_at: datetime = Field(description='When the run finished; usage windows select on this time.')
    input_tokens: int = Field(default=0, description="LLM input tokens, as counted by the control plane's LLM gateway.")
    job_id: str | None = Field(default=None)
    list_cost_micros: int | None = Field(default=None, description='The sum of `breakdown`.')
    llm_calls: int = Field(default=0)
    max_cost_micros: int | None = Field(default=None, description="The run's cost cap (`max_cost_usd`).")
    model: str | None = Field(default=None)
    object: str = Field(default='usage_record')
    output_tokens: int = Field(default=0, description='LLM output tokens, as counted by the LLM gateway.')
    project_id: str
    recorded_at: datetime = Field(description='When this record was written and the balance charged.')
    run_id: str
    sandbox_seconds: float = Field(default=0.0, description="Sandbox time from start to end, by the control plane's clock.")
    status: str = Field(description="The run's terminal status.")
    unpaid_micros: int = Field(default=0, description='cost - charged: the part the balance could not cover above its floor.')
    waived_reason: str | None = Field(default=None, description='Why nothing was charged: the run failed through our infrastructure (SANDBOX_START_FAILED, ORCHESTRATION_UNAVAILABLE, AGENT_CRASHED).')


class UsageReport(_Model):
    """Usage of the runs that finished in [start, end), newest first, with totals over the window."""

    data: list[UsageRecord]
    end: datetime = Field(description='Window end (exclusive).')
    next_cursor: str | None = Field(default=None, description='Pass as `cursor` (with the same window) for the next page.')
    object: str = Field(default='usage')
    project_id: str | None = Field(default=None)
    start: datetime = Field(description="Window start (inclusive), by the runs' finished time.")
    totals: UsageTotals


class UsageTotals(_Model):
    """Sums over every usage record in the window (all pages), not only the returned page."""

    charged_micros: int = Field(default=0)
    cost_micros: int = Field(default=0)
    cost_usd: str = Field(default='0.00')
    input_tokens: int = Field(default=0)
    llm_calls: int = Field(default=0)
    output_tokens: int = Field(default=0)
    runs: int = Field(default=0)
    sandbox_seconds: float = Field(default=0.0)
    unpaid_micros: int = Field(default=0)


class ValidationError(_Model):
    loc: list[str | int]
    type: str


class WaitForAction(_Model):
    action: Literal['wait_for']
    selector: str | None = Field(default=None)
    text: str | None = Field(default=None)
    timeout_s: float = Field(default=5.0)


class WebhookEndpoint(_Model):
    """A subscription: the org's events of these types are delivered to this URL."""

    created_at: datetime
    description: str | None = Field(default=None)
    event_types: list[Literal['run.succeeded', 'run.failed', 'run.cancelled', 'run.needs_input', 'run.tool_call', 'session.started', 'session.closed']]
    id: str = Field(description='Endpoint id (whk_...).')
    object: str = Field(default='webhook_endpoint')
    url: str


class WebhookEndpointList(_Model):
    data: list[WebhookEndpoint]
    next_cursor: str | None = Field(default=None, description='Pass as `cursor` to get the next page; null at the end.')
    object: str = Field(default='list')


class WebhookSecret(_Model):
    """The org's signing secret (Standard Webhooks, `whsec_` + base64)."""

    object: str = Field(default='webhook_secret')
    previous_expires_at: datetime | None = Field(default=None, description='After a rotation, deliveries also carry a signature made with the previous secret until this time. Null when there is no previous secret in use.')
    secret: str = Field(description='Verify `webhook-signature` with this secret (`whsec_...`).')


ActionResult.model_rebuild()
ApiKey.model_rebuild()
ApiKeyCreated.model_rebuild()
ApiKeyList.model_rebuild()
AskBody.model_rebuild()
Balance.model_rebuild()
ClickAction.model_rebuild()
Confidence.model_rebuild()
Cookie.model_rebuild()
CostBreakdown.model_rebuild()
CreateFileRequest.model_rebuild()
CreateJobRequest.model_rebuild()
CreateKeyRequest.model_rebuild()
CreateProfileRequest.model_rebuild()
CreateProjectRequest.model_rebuild()
CreateRunRequest.model_rebuild()
CreateSessionRequest.model_rebuild()
CreateWebhookRequest.model_rebuild()
DeliveryAttempt.model_rebuild()
DeliveryList.model_rebuild()
DoubleClickAction.model_rebuild()
ErrorBody.model_rebuild()
ErrorResponse.model_rebuild()
EvaluateAction.model_rebuild()
EvidenceItem.model_rebuild()
ExtractAction.model_rebuild()
FileList.model_rebuild()
FileObject.model_rebuild()
FileUpload.model_rebuild()
GoBackAction.model_rebuild()
Health.model_rebuild()
InputAnswer.model_rebuild()
InputRequest.model_rebuild()
Job.model_rebuild()
JobList.model_rebuild()
JobRunRequest.model_rebuild()
KeyPressAction.model_rebuild()
LedgerEntry.model_rebuild()
LedgerPage.model_rebuild()
LiveState.model_rebuild()
LiveStep.model_rebuild()
NavigateAction.model_rebuild()
NetworkEntry.model_rebuild()
OriginState.model_rebuild()
Profile.model_rebuild()
ProfileDownload.model_rebuild()
ProfileList.model_rebuild()
Progress.model_rebuild()
Project.model_rebuild()
ProjectList.model_rebuild()
ReadyReport.model_rebuild()
RedeliveryAccepted.model_rebuild()
ReplayStep.model_rebuild()
Run.model_rebuild()
RunAccepted.model_rebuild()
RunBundle.model_rebuild()
RunError.model_rebuild()
RunFile.model_rebuild()
RunList.model_rebuild()
RunSecret.model_rebuild()
ScreenshotAction.model_rebuild()
ScrollAction.model_rebuild()
SecretInfo.model_rebuild()
Session.model_rebuild()
SessionControlRequest.model_rebuild()
SessionList.model_rebuild()
SessionRedeliveryAccepted.model_rebuild()
SessionStep.model_rebuild()
SessionTaskAccepted.model_rebuild()
SessionTaskRequest.model_rebuild()
SessionUsage.model_rebuild()
StepRecord.model_rebuild()
StorageItem.model_rebuild()
StorageState.model_rebuild()
ToolCall.model_rebuild()
ToolCallBody.model_rebuild()
ToolDefinition.model_rebuild()
ToolResult.model_rebuild()
TypeAction.model_rebuild()
UpdateJobRequest.model_rebuild()
UploadFileAction.model_rebuild()
Usage.model_rebuild()
UsageRecord.model_rebuild()
UsageReport.model_rebuild()
UsageTotals.model_rebuild()
ValidationError.model_rebuild()
WaitForAction.model_rebuild()
WebhookEndpoint.model_rebuild()
WebhookEndpointList.model_rebuild()
WebhookSecret.model_rebuild()
