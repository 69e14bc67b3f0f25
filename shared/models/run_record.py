"""The run as the control plane keeps it: the public envelope's fields and the internal ones
(the sandbox, the task token, the gateway's counters...), typed, as :class:`shared.db.runs.RunRepository`
reads and writes it. The public envelope is built from it (shared/runs/envelope.py).

Times are datetimes here; dumped (``mode="json"``) each is written back exactly as it is stored:
``created_at`` as pydantic writes it (``...Z``, from the envelope model), the times the control
plane sets later (``started_at``, ``finished_at``...) as ``datetime.isoformat()`` (``...+00:00``).
A record read from an item and dumped with ``exclude_unset=True`` gives that item's attributes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, PlainSerializer, PrivateAttr

from shared.models.common import Model, RunStatus
from shared.models.runs import RunError

# A time the control plane wrote with ``datetime.isoformat()``; dumped the same way.
IsoTime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json")]


class RunProgress(Model):
    """The agent's last progress report (shared/callbacks.py)."""

    step: int = 0
    last_url: str | None = None
    last_action: str | None = None
    updated_at: IsoTime | None = None


class RunRecord(Model):
    model_config = ConfigDict(extra="ignore")

    # The request, as the envelope shows it.
    id: str
    object: str = "run"
    org_id: str
    status: RunStatus
    prompt: str
    inputs: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    model: str
    project_id: str
    job_id: str | None = None
    session_id: str | None = None  # the session whose browser runs this task (docs/sessions.md)
    replay_of: str | None = None
    webhook_url: str | None = None
    start_url: str | None = None
    allowed_domains: list[str] = []
    blocked_domains: list[str] = []
    max_duration_s: int
    max_steps: int
    max_input_tokens: int
    max_output_tokens: int
    max_cost_micros: int | None = None
    max_cost_usd: str | None = None
    metadata: dict[str, str] = {}
    created_at: datetime
    # What happened, as the envelope shows it (the JSON lists stay as the agent's records were kept).
    started_at: IsoTime | None = None
    finished_at: IsoTime | None = None
    progress: RunProgress | None = None
    result: Any = None
    confidence: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] | None = None
    evidence_status: Literal["ready", "unavailable", "failed"] | None = None
    evidence_error: str | None = None
    evidence_manifest_url: str | None = None
    steps: list[dict[str, Any]] | None = None
    network: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None  # as Finalize/Cleanup counted it (shared.models.runs.Usage)
    error: RunError | None = None
    # A run in needs_input: what the agent asked ({question, ...}); the chat endpoint reads the question.
    input_request: dict[str, Any] | None = None
    # Files, profiles and secrets (issue 13), as the envelope shows them.
    secrets: list[dict[str, Any]] | None = None  # patterns and field names, never values
    file_ids: list[str] | None = None
    files: list[dict[str, Any]] | None = None  # the downloads kept, each with its evidence `path`
    profile_id: str | None = None
    persist_profile: bool = False
    human_input: bool = False
    input_timeout_s: int | None = None
    # Time spent waiting for answers (shared/runs/human_input.py): it does not count against
    # max_duration_s nor bill sandbox time. paused_since: the current wait's start.
    paused_s: float = 0.0
    paused_since: IsoTime | None = None
    input_sealed: dict[str, str] | None = None  # {request_id, sealed}: the answer, encrypted, until fetched
    answered_requests: list[str] = []
    tools: list[dict[str, Any]] | None = None
    tool_timeout_s: int | None = None
    tool_call: dict[str, Any] | None = None  # the call waiting in waiting_for_tool
    tool_result: dict[str, Any] | None = None  # {call_id, output | error} until the agent takes it
    # Internal: never in the envelope.
    secrets_sealed: str | None = None  # KMS ciphertext of the secrets (shared/secrets.py); gone at the end
    input_files: list[dict[str, Any]] | None = None  # {id, name, size, content_type} of the file_ids
    deadline_by_cost: bool = False  # max_duration_s was lowered to what max_cost_usd pays for
    replay: list[dict[str, Any]] | None = None  # the steps a replay run performs
    control_url: str | None = None  # the API base URL the sandbox calls back on
    admitted_at: IsoTime | None = None
    task_token: str | None = None  # the StartSandbox task the execution waits on
    sandbox_id: str | None = None
    sandbox_provider: str | None = None
    live_view: bool = False  # its sandbox serves the live view (SandboxInfo metadata LIVE_VIEW_KEY)
    sandbox_paused: bool = False  # paused for a long wait (shared/runs/sandbox_pause.py)
    sandbox_ended_at: IsoTime | None = None  # when the agent's work ended (shared/callbacks.py)
    agent_exit: dict[str, Any] | None = None  # the exit report, when the agent ended without one
    # The LLM gateway's counters (None until its first call) and its per-call [input, output] log.
    usage_input_tokens: int | None = None
    usage_output_tokens: int | None = None
    usage_llm_calls: int | None = None
    llm_call_log: list[list[int]] | None = None
    billed_usage: dict[str, Any] | None = None  # the usage record's figures, once billed
    evidence_manifest_key: str | None = None
    evidence_announced: bool = False

    # The item's key and index attributes as read: the repository's own (shared/db/runs.py).
    _stored_keys: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def input_tokens(self) -> int:
        return self.usage_input_tokens or 0

    @property
    def output_tokens(self) -> int:
        return self.usage_output_tokens or 0

    @property
    def llm_calls(self) -> int:
        return self.usage_llm_calls or 0

    def paused_total_s(self, now: datetime) -> float:
        """Seconds spent waiting for answers up to ``now`` (a wait still going on included)."""
        current = (now - self.paused_since).total_seconds() if self.paused_since else 0.0
        return self.paused_s + max(0.0, current)

    def deadline(self, now: datetime) -> datetime | None:
        """When max_duration_s runs out, the time spent waiting for answers not counted (a wait still
        going on counts up to ``now``); None before the run started."""
        if self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.max_duration_s + self.paused_total_s(now))

    @property
    def error_code(self) -> str | None:
        return self.error.code if self.error else None


class RunningRun(Model):
    """A run whose agent is running, as the reaper's index lists it (a few attributes only)."""

    id: str
    org_id: str
    sandbox_id: str | None = None
    started_at: IsoTime | None = None
    max_duration_s: int
    task_token: str | None = None
