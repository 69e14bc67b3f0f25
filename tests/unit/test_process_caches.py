"""shared.process.reset_process_caches: the next read sees the environment as it is now."""

from __future__ import annotations

import pytest

from shared.config import get_settings
from shared.process import reset_process_caches
from shared.sandbox.factory import get_provider
from shared.services import get_services


def test_settings_and_services_are_read_afresh_after_a_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENHELM_STAGE", "dev")
    reset_process_caches()
    before = get_services()
    assert get_settings().stage == "dev" and get_services() is before  # cached until reset

    monkeypatch.setenv("OPENHELM_STAGE", "local")
    assert get_settings().stage == "dev"
    reset_process_caches()
    assert get_settings().stage == "local"
    assert get_services() is not before and get_services().settings.stage == "local"
    reset_process_caches()


def test_the_sandbox_provider_is_rebuilt_after_a_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENHELM_SANDBOX_PROVIDER", "local")
    reset_process_caches()
    settings = get_settings()
    provider = get_provider(settings)
    assert get_provider(settings) is provider  # one per process
    reset_process_caches()
    assert get_provider(settings) is not provider
    reset_process_caches()
