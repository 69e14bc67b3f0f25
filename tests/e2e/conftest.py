"""End-to-end fixtures: the real template in the local stack, a local website, a scripted model.

One stack per test module (only one stack can run per process); every test gets its own org, so tests never
see each other's runs. The model is played by devstack/testing/fake_openai.py over real HTTP; the
agent runs in a real bubblewrap sandbox with real Chromium.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.testing.fake_openai import FakeOpenAI
from tests.support.polling import poll

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "devstack" / "demo_site"


CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """A quiet static web server on a loopback port for ``directory``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """The system Chromium through Playwright, for tests that look at our pages as a person would (skips
    without it)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    with serve_directory(SITE) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI([]) as server:
        yield server


@pytest.fixture(scope="module")
def stack(llm: FakeOpenAI) -> Iterator[Any]:
    from devstack.local_env import local_config
    from devstack.stack import EmbeddedStack

    # The same mapping as `openhelm dev`, from a fixed environment (never the developer's own key).
    config = local_config(
        {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-upstream-test-key-000000",
            "OPENHELM_MODEL": "fake-model",
            "OPENHELM_SANDBOX_GRACE_S": "10",
            "OPENHELM_REAPER_START_GRACE_S": "0",
        }
    )
    params = {**config.params, "RunTokenSecret": "e2e-" + "s" * 40}
    env = config.env
    with EmbeddedStack(ROOT / "template.yaml", params, env=env, schedules=False) as s:
        yield s


@pytest.fixture
def api(stack: Any) -> Callable[..., requests.Response]:
    from shared.orgs import bootstrap_org

    org_id, key = bootstrap_org(f"e2e-{time.monotonic_ns()}")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def call(method: str, path: str, **kw: Any) -> requests.Response:
        return session.request(method, stack.url + path, timeout=30, **kw)

    call.org_id = org_id  # type: ignore[attr-defined]
    call.api_key = key  # type: ignore[attr-defined]
    return call


def wait_for_status(
    api: Callable[..., requests.Response], run_id: str, statuses: set[str], timeout: float = 60
) -> dict:
    """Poll the run through the API until it reaches one of ``statuses``."""

    def probe() -> dict | None:
        run = api("GET", f"/v1/runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return poll(probe, f"run {run_id} in {sorted(statuses)}", timeout)


def finished(api: Callable[..., requests.Response], run_id: str, timeout: float = 60) -> dict:
    return wait_for_status(api, run_id, {"succeeded", "failed", "cancelled"}, timeout)
