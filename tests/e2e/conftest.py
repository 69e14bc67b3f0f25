"""End-to-end fixtures: the real template in the local stack, a local website, a scripted model.

One stack per test module (only one stack can run per process); every test gets its own org, so tests never
see each other's runs. The model is played by devstack/testing/fake_openai.py over real HTTP; the
agent runs in a real bubblewrap sandbox with real Chromium.
"""

from __future__ import annotations

import functools
import http.server
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


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
