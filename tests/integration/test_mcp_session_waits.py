"""get_session and create_session's bounded wait through /mcp (the real API handler, moto): the answer
comes once the browser is up, or when a task ends, and never past the bound, with the session as it
then is. Time is a FakeClock that moves only when the wait sleeps; the sandbox's ready callback (a real
HTTP call to /internal/sessions/{id}/ready) is made from that sleep, as the browser would while the
tool waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared.clock import FakeClock
from shared.services import Services
from tests.integration.test_mcp_api import tool
from tests.integration.test_mcp_sessions import AnsweringProvider, api, error_text, ready
from tests.support.sessions import api_services


class BrowserClock(FakeClock):
    """A FakeClock that runs ``at[n]`` at the n-th sleep (1-based): what happens while a tool waits."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps = 0
        self.at: dict[int, Callable[[], None]] = {}

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.sleeps += 1
        if self.sleeps in self.at:
            self.at.pop(self.sleeps)()


@pytest.fixture
def clock() -> BrowserClock:
    return BrowserClock()


@pytest.fixture
def svc(moto_aws: None, clock: BrowserClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


@pytest.fixture
def provider(svc: Services) -> AnsweringProvider:
    svc.sandbox_provider = AnsweringProvider()
    return svc.sandbox_provider


def test_get_session_with_wait_s_answers_once_the_browser_is_up(
    svc: Services, clock: BrowserClock, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    sid = tool(key, "create_session", {"start_url": "https://example.com/"})["structuredContent"]["session_id"]
    clock.at[8] = lambda: ready(provider, sid)  # two seconds into the wait
    started = clock.monotonic()
    got = tool(key, "get_session", {"session_id": sid, "wait_s": 20})["structuredContent"]
    assert got["status"] == "ready" and got["current_title"] == "Example"
    assert 2 <= clock.monotonic() - started < 3  # answered when it was ready, not at the bound

    waited = clock.monotonic()
    again = tool(key, "get_session", {"session_id": sid, "wait_s": 20})["structuredContent"]
    assert again["status"] == "ready" and clock.monotonic() == waited  # nothing to wait for


def test_create_session_with_wait_s_ends_at_the_bound_with_the_session_still_starting(
    svc: Services, clock: BrowserClock, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    started = clock.monotonic()
    opened = tool(key, "create_session", {"wait_s": 5})["structuredContent"]
    assert opened["status"] == "starting" and "get_session" in opened["next"]
    assert clock.monotonic() - started == 5
    assert "wait_s" in error_text(tool(key, "get_session", {"session_id": opened["session_id"], "wait_s": 26}))

    clock.at[clock.sleeps + 4] = lambda: ready(provider, opened["session_id"])
    got = tool(key, "get_session", {"session_id": opened["session_id"], "wait_s": 25})["structuredContent"]
    assert got["status"] == "ready"


def test_get_session_waits_out_a_busy_task_and_an_unknown_session_fails_at_once(
    svc: Services, clock: BrowserClock, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    sid = tool(key, "create_session", {})["structuredContent"]["session_id"]
    ready(provider, sid)
    task = tool(key, "run_session_task", {"session_id": sid, "prompt": "Read the page title"})["structuredContent"]
    clock.at[clock.sleeps + 3] = lambda: tool(key, "control_session", {"session_id": sid, "verb": "stop"})
    got = tool(key, "get_session", {"session_id": sid, "wait_s": 25})["structuredContent"]
    assert got["status"] == "ready" and got["current_task"] is None
    assert api(key, "GET", task["envelope"])["status"] == "cancelled"

    before = clock.monotonic()
    missing = tool(key, "get_session", {"session_id": "ses_" + "0" * 26, "wait_s": 25})
    assert "session_not_found (404)" in error_text(missing) and clock.monotonic() == before
