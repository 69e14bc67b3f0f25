"""Real Chromium inside the bubblewrap sandbox, loading a host page through the egress proxy."""

from __future__ import annotations

import json

import pytest

from shared.sandbox.local.provider import LocalProvider
from tests.sandbox_local.conftest import PAGE_MARKER, RecordingServer, make_request, requires_bwrap

pytestmark = [requires_bwrap, pytest.mark.sandbox_chromium]


def _chromium_available(provider: LocalProvider) -> bool:
    import os
    import shutil

    return os.access(shutil.which(provider.chromium) or provider.chromium, os.X_OK)


def test_chromium_loads_a_page_through_the_proxy(
    provider: LocalProvider, control: RecordingServer, page: RecordingServer
) -> None:
    if not _chromium_available(provider):
        pytest.skip(f"{provider.chromium} is not installed")
    info = provider.start(make_request(control.url, {"mode": "chromium", "url": f"{page.url}/chromium"}))
    control.wait_for(lambda h: h.path.endswith("/complete"), timeout=90)
    assert provider.wait(info.sandbox_id, timeout=30) == 0
    report = json.loads(provider.read_file(info.sandbox_id, "probe.json"))
    assert report["returncode"] == 0, report["stderr_tail"]
    assert PAGE_MARKER in report["dom"]
    assert page.wait_for(lambda h: h.path == "/chromium").method == "GET"


def test_playwright_chromium_in_the_sandbox(
    provider: LocalProvider, control: RecordingServer, page: RecordingServer
) -> None:
    info = provider.start(make_request(control.url, {"mode": "playwright", "url": f"{page.url}/playwright"}))
    control.wait_for(lambda h: h.path.endswith("/complete"), timeout=90)
    assert provider.wait(info.sandbox_id, timeout=30) == 0
    report = json.loads(provider.read_file(info.sandbox_id, "probe.json"))
    assert report["title"] == "Allowed page"
    assert provider.read_file(info.sandbox_id, "playwright.png").startswith(b"\x89PNG")
    assert page.wait_for(lambda h: h.path == "/playwright").method == "GET"
