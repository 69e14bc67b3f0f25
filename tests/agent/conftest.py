"""Fixtures of the agent tests: a local site, one shared Chromium, a fake control plane with a scripted LLM."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import FakeOpenAI, make_handler
from tests.agent.harness import CHROMIUM, PAGES, FakeControlPlane


class _QuietPages(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL (http://127.0.0.1:PORT) of the fixture pages."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietPages, directory=str(PAGES)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for this package's tests; each run gets its own context in it.

    Package scope, not session: Playwright's sync API runs on greenlets in pytest's main thread, and
    the rest of the suite is heavily threaded (in-process Lambdas, sandbox watchers). Stopping it when
    the agent tests end keeps greenlet switches and other threads' garbage collection apart."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from openhelm_agent.browser import launched_browser

    with launched_browser(CHROMIUM) as shared:
        yield shared


@pytest.fixture
def control() -> Iterator[tuple[FakeControlPlane, str]]:
    """(fake control plane, its URL). Script its LLM with ``plane.llm.add(...)``."""
    plane = FakeControlPlane(FakeOpenAI())
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(plane.respond))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield plane, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
