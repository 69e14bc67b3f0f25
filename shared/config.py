"""Configuration: one validated pydantic model, built once per cold start from the environment.

Handlers call :func:`get_settings`; domain code receives a :class:`Settings` (or the pieces it needs)
and never reads ``os.environ`` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.models.billing import MICROS_PER_USD, Pricing
from shared.models.files import MAX_FILES_PER_ORG

# The longest ``?wait`` the API honours: API Gateway HTTP APIs end every integration at 30 s, and the
# answer (the run envelope, read after the wait) needs a few seconds of that.
MAX_WAIT_S = 25


class Settings(BaseModel):
    """Every setting the control plane reads, with the environment variable that sets it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stage: Literal["dev", "prod", "local"] = Field("prod", alias="OPENHELM_STAGE")
    table_name: str = Field("openhelm", alias="OPENHELM_TABLE")
    evidence_bucket: str = Field("openhelm-evidence", alias="OPENHELM_EVIDENCE_BUCKET")
    event_bus: str = Field("openhelm", alias="OPENHELM_EVENT_BUS")
    files_bucket: str = Field("openhelm-files", alias="OPENHELM_FILES_BUCKET")
    profiles_bucket: str = Field("openhelm-profiles", alias="OPENHELM_PROFILES_BUCKET")
    profiles_key_id: str = Field("", alias="OPENHELM_PROFILES_KEY_ID")
    max_files_per_org: int = Field(MAX_FILES_PER_ORG, alias="OPENHELM_MAX_FILES_PER_ORG", ge=1)
    # KMS key of run secrets (template: SecretsKey); empty: runs with secrets answer 503.
    secrets_key_id: str = Field("", alias="OPENHELM_SECRETS_KEY_ID")
    run_state_machine_arn: str = Field("", alias="OPENHELM_RUN_STATE_MACHINE")
    default_model: str = Field("gpt-4.1-mini", alias="OPENHELM_DEFAULT_MODEL")
    # The OpenAI-compatible endpoint's presets that pin a model (comma-separated), beside the default
    # agent and the models of the pricing table (shared/chat/mapping.py).
    chat_models: str = Field("", alias="OPENHELM_CHAT_MODELS")
    sandbox_provider: Literal["e2b", "local"] = Field("e2b", alias="OPENHELM_SANDBOX_PROVIDER")
    e2b_template: str = Field("openhelm-agent", alias="OPENHELM_E2B_TEMPLATE")
    # Name of this deployment (the stack name): scopes the sandboxes one reaper may see and kill.
    deployment: str = Field("openhelm", alias="OPENHELM_DEPLOYMENT")
    llm_base_url: str = Field("https://api.openai.com/v1", alias="OPENHELM_LLM_BASE_URL")
    # Public base URL of this API; used for poll URLs. Empty: derived from the request's Host.
    public_url: str = Field("", alias="OPENHELM_PUBLIC_URL")
    log_level: str = Field("INFO", alias="LOG_LEVEL")

    # Secrets (from the deployment's secret parameters; `openhelm dev` makes its own).
    run_token_secret: str = Field("", alias="OPENHELM_RUN_TOKEN_SECRET", repr=False)
    llm_api_key: str = Field("", alias="OPENHELM_LLM_API_KEY", repr=False)
    e2b_api_key: str = Field("", alias="OPENHELM_E2B_API_KEY", repr=False)
    # Signature secret of the E2B lifecycle webhook (sandbox.lifecycle.killed); empty: route off.
    e2b_webhook_secret: str = Field("", alias="OPENHELM_E2B_WEBHOOK_SECRET", repr=False)
    # HMAC secret of viewer links and trace-bundle signatures (shared/viewer). Empty: a key derived
    # from the run-token secret (domain-separated), so a deployment needs nothing new; set it to
    # rotate viewer links (all of them stop working) without touching live runs' tokens.
    viewer_secret: str = Field("", alias="OPENHELM_VIEWER_SECRET", repr=False)
    # Lifetime of a run's signed viewer_url.
    viewer_url_ttl_s: int = Field(900, alias="OPENHELM_VIEWER_URL_TTL_S", ge=60, le=7 * 24 * 3600)

    # Sandboxes.
    # URL the agent inside a sandbox uses to reach this control plane; defaults to public_url.
    control_url: str = Field("", alias="OPENHELM_CONTROL_URL")
    # Local provider only: let the sandbox reach loopback addresses (pages served on this machine).
    sandbox_allow_loopback: bool = Field(False, alias="OPENHELM_SANDBOX_ALLOW_LOOPBACK")
    # Local provider only: warm sandboxes kept ready (Chromium up, each for one run); 0 starts every
    # run cold. Off unless asked for; `openhelm dev` and `demo` keep one (shared/sandbox/local/warm_pool.py).
    sandbox_warm_pool: int = Field(0, alias="OPENHELM_WARM_SANDBOXES", ge=0, le=8)
    # Extra seconds a sandbox and its task may live beyond the run's max_duration_s.
    sandbox_grace_s: int = Field(60, alias="OPENHELM_SANDBOX_GRACE_S", ge=5)
    # A run waiting this long for an answer or a tool result has its sandbox paused where the provider
    # can (E2B: memory kept, not charged) and resumed on the answer; shorter waits skip the pause and
    # resume latency. 0: never pause.
    sandbox_pause_after_s: int = Field(30, alias="OPENHELM_SANDBOX_PAUSE_AFTER_S", ge=0)
    # The reaper treats a running run whose sandbox is gone as crashed only after this many seconds.
    reaper_start_grace_s: int = Field(30, alias="OPENHELM_REAPER_START_GRACE_S", ge=0)
    # Evidence: lifetime of presigned GET URLs; how long the reaper leaves a finished run's sandbox
    # alive for the evidence function before it kills it anyway.
    evidence_url_ttl_s: int = Field(900, alias="OPENHELM_EVIDENCE_URL_TTL_S", ge=60, le=7 * 24 * 3600)
    evidence_grace_s: int = Field(600, alias="OPENHELM_EVIDENCE_GRACE_S", ge=0)
    # The LLM gateway (functions/llm_gateway): its base URL as sandboxes call it (the function URL,
    # the template's LlmGatewayFunctionUrl), and how long one upstream call may take. Minutes, not
    # seconds: reasoning and self-hosted models are slow on large pages. Each call is also cut to the
    # run's remaining time (started_at + max_duration_s) and to the invocation's own remaining time.
    llm_gateway_url: str = Field("", alias="OPENHELM_LLM_GATEWAY_URL")
    llm_timeout_s: float = Field(600.0, alias="OPENHELM_LLM_TIMEOUT_S", gt=0, le=3600)

    # Request limits.
    max_body_bytes: int = Field(256 * 1024, alias="OPENHELM_MAX_BODY_BYTES", ge=1024)
    # ``?wait=N`` on POST /v1/runs holds the API function, and API Gateway's HTTP API cuts every
    # integration at 30 s: the cap stays below that (docs: MAX_WAIT_S). Longer waits need the
    # function-URL path (no 30 s cap), planned with the streaming endpoint.
    max_wait_s: int = Field(MAX_WAIT_S, alias="OPENHELM_MAX_WAIT_S", ge=0, le=MAX_WAIT_S)

    # Defaults for a new org (each org may carry its own values).
    default_rate_per_minute: int = Field(120, alias="OPENHELM_RATE_PER_MINUTE", ge=1)
    default_rate_burst: int = Field(30, alias="OPENHELM_RATE_BURST", ge=1)
    idempotency_ttl_s: int = Field(24 * 3600, alias="OPENHELM_IDEMPOTENCY_TTL_S", ge=60)

    # Billing: prices (JSON of shared.models.billing.Pricing, any subset of its fields) and the
    # balance bootstrap_org (`openhelm dev`, tests) credits a new org with.
    pricing: Pricing = Field(default_factory=Pricing, alias="OPENHELM_PRICING_JSON")
    dev_start_balance_usd: Decimal = Field(Decimal(100), alias="OPENHELM_DEV_START_BALANCE_USD", ge=0, decimal_places=6)

    @field_validator("pricing", mode="before")
    @classmethod
    def _pricing_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    # Webhooks (shared/webhooks). The queue the delivery function consumes.
    webhook_queue_url: str = Field("", alias="OPENHELM_WEBHOOK_QUEUE_URL")
    # Local development only: also allow http:// and loopback addresses (never private ranges).
    webhook_allow_loopback: bool = Field(False, alias="OPENHELM_WEBHOOK_ALLOW_LOOPBACK")
    # Seconds between delivery attempts (comma-separated in the environment); attempts = len + 1.
    # Each is at most 12 h (SQS's visibility timeout limit); the default spans about 40 h.
    webhook_retry_schedule_s: tuple[int, ...] = Field(
        (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 43200),
        alias="OPENHELM_WEBHOOK_RETRY_SCHEDULE_S",
        min_length=1,
        max_length=50,
    )
    webhook_connect_timeout_s: float = Field(3.0, alias="OPENHELM_WEBHOOK_CONNECT_TIMEOUT_S", gt=0, le=30)
    webhook_read_timeout_s: float = Field(10.0, alias="OPENHELM_WEBHOOK_READ_TIMEOUT_S", gt=0, le=60)
    # How long the previous signing secret still signs deliveries after a rotation.
    webhook_secret_overlap_s: int = Field(24 * 3600, alias="OPENHELM_WEBHOOK_SECRET_OVERLAP_S", ge=0, le=7 * 24 * 3600)

    @field_validator("webhook_retry_schedule_s", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(int(v) for v in value.replace(" ", "").split(",") if v)
        if any(not 1 <= int(v) <= 43200 for v in value):
            raise ValueError("every retry delay must be 1..43200 seconds (SQS visibility timeout limit)")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        known = {f.alias for f in cls.model_fields.values() if f.alias}
        return cls.model_validate({k: v for k, v in env.items() if k in known})

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def dev_start_balance_micros(self) -> int:
        return int(self.dev_start_balance_usd * MICROS_PER_USD)

    @property
    def sandbox_control_url(self) -> str:
        return (self.control_url or self.public_url).rstrip("/")

    @property
    def sandbox_llm_url(self) -> str:
        """The OpenAI-compatible base URL the agent is given (``OPENHELM_LLM_URL``); empty if unset."""
        return f"{self.llm_gateway_url.rstrip('/')}/v1" if self.llm_gateway_url else ""

    def token_secret(self) -> bytes:
        if len(self.run_token_secret) < 32:
            raise RuntimeError("OPENHELM_RUN_TOKEN_SECRET must be set to at least 32 characters")
        return self.run_token_secret.encode()

    def viewer_key(self) -> bytes:
        """The HMAC key of viewer links and bundle signatures: OPENHELM_VIEWER_SECRET, else one derived
        from the run-token secret under its own label (a viewer link is never a run token)."""
        if self.viewer_secret:
            if len(self.viewer_secret) < 32:
                raise RuntimeError("OPENHELM_VIEWER_SECRET must be at least 32 characters")
            return self.viewer_secret.encode()
        return hmac.new(self.token_secret(), b"openhelm viewer links v1", hashlib.sha256).digest()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: one validation per cold start)."""
    return Settings.from_env()
