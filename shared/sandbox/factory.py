"""Picks the configured sandbox provider, once per process (the local one keeps a registry of live
sandboxes, so there must be only one)."""

from __future__ import annotations

import threading

from shared.config import Settings
from shared.sandbox.base import SandboxProvider

_lock = threading.Lock()
_providers: dict[tuple[str, ...], SandboxProvider] = {}
_override: SandboxProvider | None = None


def override(provider: SandboxProvider | None) -> None:
    """Use this provider whatever the configuration says (benchmarks and tests of the whole stack
    hand in test doubles here); None restores the configured one."""
    global _override
    _override = provider


def close_providers() -> None:
    """Close and forget the providers built here (the local stack stops: its sandboxes are killed
    and their run directories removed). The next ``get_provider`` builds a fresh one."""
    with _lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        close = getattr(provider, "close", None)
        if close is not None:
            close()


def get_provider(settings: Settings) -> SandboxProvider:
    if _override is not None:
        return _override
    key = (
        settings.sandbox_provider,
        settings.e2b_template,
        str(settings.sandbox_allow_loopback),
        str(settings.sandbox_warm_pool),
    )
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = _build(settings)
        return provider


def _build(settings: Settings) -> SandboxProvider:
    if settings.sandbox_provider == "e2b":
        from shared.sandbox.e2b_provider import E2BProvider

        return E2BProvider(api_key=settings.e2b_api_key, template=settings.e2b_template, deployment=settings.deployment)
    from shared.sandbox.local.provider import LocalProvider

    # The out dir lives until kill(): the evidence function copies it to S3 first, then kills.
    return LocalProvider(allow_loopback=settings.sandbox_allow_loopback, warm_pool=settings.sandbox_warm_pool)
