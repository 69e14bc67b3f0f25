"""What every local stack (``openhelm dev``, ``openhelm demo``, the end-to-end tests and the
benchmarks) runs with, and the one place that maps a developer's environment onto it.

:data:`LOCAL_ENV` holds the local defaults. Production never sets these: they open loopback to
sandboxes and webhooks, so each is announced at start (:func:`announce`).

:func:`local_config` reads the variables a developer already has for an OpenAI-compatible model:
``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` (OpenAI, vLLM, Ollama, llama.cpp server) and
``OPENHELM_MODEL``, and turns them into the template's parameters (``LlmApiKey``,
``OpenAIBaseUrl``, ``DefaultModel``). An explicit ``OPENHELM_*`` setting always wins: over those
(``OPENHELM_LLM_API_KEY``, ``OPENHELM_LLM_BASE_URL``, ``OPENHELM_DEFAULT_MODEL``) and over the
local defaults (``OPENHELM_WEBHOOK_ALLOW_LOOPBACK=false`` keeps webhooks off loopback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOCAL_ENV: dict[str, str] = {
    "OPENHELM_STAGE": "local",
    # Pages served on this machine can be browsed from a sandbox.
    "OPENHELM_SANDBOX_ALLOW_LOOPBACK": "true",
    # Webhooks may go to http://127.0.0.1 receivers.
    "OPENHELM_WEBHOOK_ALLOW_LOOPBACK": "true",
    # Webhook retries compressed from ≥ 24 h to about an hour; as many attempts as in production
    # (the queue's maxReceiveCount), the first retry within 5 s.
    "OPENHELM_WEBHOOK_RETRY_SCHEDULE_S": "2,4,8,15,30,60,120,300,600,1200,1800",
}

# What `openhelm dev` and `demo` add (a person waits on their runs): one warm sandbox, so a run
# finds Chromium already up. Tests and benchmarks start cold unless they ask (a pool is a second
# Chromium per stack on a shared machine).
INTERACTIVE_ENV: dict[str, str] = {"OPENHELM_WARM_SANDBOXES": "1"}

DEV_PARAMS: dict[str, str] = {"Stage": "dev", "SandboxProvider": "local"}
DEFAULT_LLM_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4.1-mini"

# Template parameter <- the explicit setting that wins, then the developer's usual variable.
_LLM_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("LlmApiKey", "OPENHELM_LLM_API_KEY", "OPENAI_API_KEY"),
    ("OpenAIBaseUrl", "OPENHELM_LLM_BASE_URL", "OPENAI_BASE_URL"),
    ("DefaultModel", "OPENHELM_DEFAULT_MODEL", "OPENHELM_MODEL"),
)
# The stack's own wiring (resource names, URLs of its endpoints): taken from the template, never
# from a developer's shell, where a stale value would point handlers at resources that do not exist.
STACK_OWNED = frozenset(
    {
        "OPENHELM_TABLE",
        "OPENHELM_EVIDENCE_BUCKET",
        "OPENHELM_EVENT_BUS",
        "OPENHELM_RUN_STATE_MACHINE",
        "OPENHELM_WEBHOOK_QUEUE_URL",
        "OPENHELM_LLM_GATEWAY_URL",
        "OPENHELM_DEPLOYMENT",
        "OPENHELM_PUBLIC_URL",
    }
)


@dataclass(frozen=True)
class LocalConfig:
    """Template parameter overrides and function environment overrides for a local stack."""

    params: dict[str, str]
    env: dict[str, str]
    # Settings taken from the environment, by name (values never kept here for logging).
    explicit: tuple[str, ...] = field(default=())

    @property
    def uses_model(self) -> bool:
        """A key for the model endpoint was given (else a demo replays a recorded workflow)."""
        return bool(self.params.get("LlmApiKey"))

    @property
    def model(self) -> str:
        return self.params.get("DefaultModel", DEFAULT_MODEL)

    @property
    def llm_base_url(self) -> str:
        return self.params.get("OpenAIBaseUrl", DEFAULT_LLM_BASE_URL)


def local_config(
    environ: Mapping[str, str], *, base_env: Mapping[str, str] | None = None, interactive: bool = False
) -> LocalConfig:
    """The local stack's configuration from ``environ`` (``os.environ`` for ``openhelm dev`` and
    ``demo``, with ``interactive``; a dict for tests and benchmarks, so a developer's own key never
    reaches them)."""
    from shared.config import Settings

    params = dict(DEV_PARAMS)
    for param, explicit, usual in _LLM_PARAMS:
        value = environ.get(explicit) or environ.get(usual)
        if value:
            params[param] = value
    known = {f.alias for f in Settings.model_fields.values() if f.alias and f.alias.startswith("OPENHELM_")}
    given = {k: v for k, v in environ.items() if k in known and k not in STACK_OWNED}
    defaults = {**(LOCAL_ENV if base_env is None else base_env), **(INTERACTIVE_ENV if interactive else {})}
    env = {**defaults, **given}
    return LocalConfig(params=params, env=env, explicit=tuple(sorted(given)))


def announce(log: Any, env: Mapping[str, str], config: LocalConfig | None = None) -> None:
    """Log, loudly, what a local stack allows that production does not; and which model it uses."""
    if env.get("OPENHELM_SANDBOX_ALLOW_LOOPBACK") == "true":
        log.warning("sandbox_loopback_allowed", note="sandboxes may reach 127.0.0.1 (local stack only)")
    if env.get("OPENHELM_WEBHOOK_ALLOW_LOOPBACK") == "true":
        log.warning("webhook_loopback_allowed", note="webhooks may go to http:// and 127.0.0.1 (local stack only)")
    if config is not None:
        log.info(
            "llm_upstream",
            base_url=config.llm_base_url,
            model=config.model,
            api_key_set=config.uses_model,
            settings_from_environment=list(config.explicit),
        )
