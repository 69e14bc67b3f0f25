"""The SDK's HTTP behaviour at the wire (httpx's MockTransport answers as the API or a proxy would):
retries and Retry-After, idempotency keys, error mapping, pagination, wait's use of ``?wait=``.
The same paths through the real API are in tests/e2e/test_sdk_cli_e2e.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openhelm_sdk import AsyncClient, Client, RetryPolicy, RunStatus
from openhelm_sdk.errors import APIConnectionError, NotFoundError, RateLimitError, ServerError

RUN = {
    "id": "run_1",
    "status": "queued",
    "prompt": "List the pricing tiers",
    "model": "fake-model",
    "project_id": "prj_1",
    "max_duration_s": 300,
    "max_steps": 50,
    "max_input_tokens": 100000,
    "max_output_tokens": 10000,
    "created_at": "2026-12-02T03:00:00Z",
}
ACCEPTED = {"task_id": "run_1", "poll_url": "http://api/v1/runs/run_1", "status": "queued"}


def envelope(code: str, status: int) -> dict:
    return {"error": {"type": "api_error", "code": code, "message": f"{code} happened"}}


class Wire:
    """Answers requests from a script of (status, body, headers) and records what was sent."""

    def __init__(self, *answers: tuple[int, Any, dict[str, str]] | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if callable(answer):
            return answer(request)
        status, body, headers = answer
        return httpx.Response(status, json=body, headers=headers)

    def client(self, **kw: Any) -> Client:
        retry = kw.pop("retry", RetryPolicy(random=lambda: 1.0))
        return Client(
            "oh_test_key",
            "http://api",
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            retry=retry,
            sleep=self.slept.append,
            **kw,
        )


def test_429_and_503_are_retried_after_the_apis_retry_after_with_the_same_idempotency_key() -> None:
    wire = Wire(
        (429, envelope("rate_limited", 429), {"Retry-After": "3"}),
        (503, envelope("unavailable", 503), {"Retry-After": "1"}),
        (202, ACCEPTED, {}),
        (200, RUN, {}),
    )
    run = wire.client().runs.create("List the pricing tiers", start_url="https://example.com")
    assert run.id == "run_1" and run.status == RunStatus.QUEUED
    assert wire.slept == [3.0, 1.0]
    posts = [r for r in wire.requests if r.method == "POST"]
    keys = {r.headers["idempotency-key"] for r in posts}
    assert len(posts) == 3 and len(keys) == 1 and next(iter(keys)).startswith("sdk-")
    assert json.loads(posts[0].content) == {"prompt": "List the pricing tiers", "start_url": "https://example.com"}
    assert posts[0].headers["authorization"] == "Bearer oh_test_key"


def test_each_create_gets_its_own_key_unless_one_is_given() -> None:
    wire = Wire(*[(202, ACCEPTED, {}), (200, RUN, {})] * 3)
    client = wire.client()
    client.runs.create("one task")
    client.runs.create("one task")
    client.runs.create("one task", idempotency_key="order-42")
    keys = [r.headers["idempotency-key"] for r in wire.requests if r.method == "POST"]
    assert keys[0] != keys[1] and keys[2] == "order-42"


def test_5xx_gives_up_after_max_retries_with_backoff_and_says_why() -> None:
    wire = Wire(*[(502, {"message": "Bad Gateway"}, {})] * 3)
    with pytest.raises(ServerError) as caught:
        wire.client(max_retries=2).runs.get("run_1")
    assert caught.value.status_code == 502 and "Bad Gateway" in str(caught.value)
    assert len(wire.requests) == 3
    assert wire.slept == [0.5, 1.0]  # full jitter at its top (random() = 1.0): base * 2**attempt


def test_a_plain_post_is_not_repeated_after_a_500_but_a_refusal_is() -> None:
    wire = Wire((500, envelope("internal", 500), {}))
    with pytest.raises(ServerError):
        wire.client().projects.create(name="Growth")
    assert len(wire.requests) == 1  # the project may exist: a second POST could make two

    project = {"id": "prj_2", "name": "Growth", "created_at": "2026-12-02T03:00:00Z"}
    wire = Wire((503, envelope("unavailable", 503), {"Retry-After": "0"}), (201, project, {}))
    assert wire.client().projects.create(name="Growth").id == "prj_2"


def test_a_retry_after_past_the_cap_raises_at_once_with_the_servers_wait() -> None:
    wire = Wire((429, envelope("rate_limited", 429), {"Retry-After": "3600"}))
    with pytest.raises(RateLimitError) as caught:
        wire.client().runs.get("run_1")
    assert caught.value.retry_after == 3600 and caught.value.code == "rate_limited"
    assert wire.slept == []


def test_4xx_is_not_retried_and_keeps_the_envelope() -> None:
    wire = Wire((404, envelope("run_not_found", 404), {}))
    with pytest.raises(NotFoundError) as caught:
        wire.client().runs.get("run_nope")
    assert caught.value.code == "run_not_found" and caught.value.message == "run_not_found happened"
    assert len(wire.requests) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    wire = Wire(refuse, refuse, (200, RUN, {}))
    assert wire.client().runs.get("run_1").id == "run_1"
    wire = Wire(refuse, refuse)
    with pytest.raises(APIConnectionError):
        wire.client(max_retries=1).runs.get("run_1")


def test_wait_asks_the_api_to_wait_then_polls_with_backoff_until_terminal() -> None:
    running = {**RUN, "status": "running", "progress": {"step": 2, "last_action": "click", "last_url": "https://x/"}}
    done = {**RUN, "status": "succeeded", "result": {"tiers": 3}}
    wire = Wire((202, ACCEPTED, {}), (200, running, {}), (200, running, {}), (200, running, {}), (200, done, {}))
    run = wire.client().runs.create("List the pricing tiers", wait=True)
    assert run.status == RunStatus.SUCCEEDED and run.result == {"tiers": 3}
    assert wire.requests[0].url.params["wait"] == "25"  # the API's cap
    assert wire.slept == [0.5, 0.75, 1.125]  # reset on the first sight, then slower while nothing moves


def test_wait_with_a_timeout_asks_for_no_more_than_is_left() -> None:
    done = {**RUN, "status": "failed", "error": {"code": "AGENT_MAX_STEPS", "message": "too many steps"}}
    wire = Wire((200, done, {}))
    run = wire.client().runs.create("x y z", wait=True, timeout=7)
    assert run.status == RunStatus.FAILED and run.error.code == "AGENT_MAX_STEPS"
    assert wire.requests[0].url.params["wait"] == "7"


def test_list_follows_cursors_lazily_and_stops_at_the_limit() -> None:
    def page(ids: list[str], cursor: str | None) -> tuple[int, Any, dict]:
        return (200, {"data": [{**RUN, "id": i} for i in ids], "next_cursor": cursor}, {})

    wire = Wire(page(["run_3", "run_2"], "c1"), page(["run_1"], None))
    assert [r.id for r in wire.client().runs.list(status="running", page_size=2)] == ["run_3", "run_2", "run_1"]
    assert wire.requests[0].url.params["status"] == "running" and "cursor" not in wire.requests[0].url.params
    assert wire.requests[1].url.params["cursor"] == "c1"

    wire = Wire(page(["run_3", "run_2"], "c1"))
    assert [r.id for r in wire.client().runs.list(limit=2)] == ["run_3", "run_2"]
    assert len(wire.requests) == 1 and wire.requests[0].url.params["limit"] == "2"


def test_unknown_fields_from_a_newer_api_are_kept_not_refused() -> None:
    wire = Wire((200, {**RUN, "replay_url": "https://replay/run_1", "status": "running"}, {}))
    run = wire.client().runs.get("run_1")
    assert run.model_extra == {"replay_url": "https://replay/run_1"}


def test_the_async_client_retries_and_waits_alike() -> None:
    done = {**RUN, "status": "succeeded", "result": "ok"}
    running = {**RUN, "status": "running", "progress": {"step": 1}}
    wire = Wire(
        (429, envelope("rate_limited", 429), {"Retry-After": "2"}),
        (202, ACCEPTED, {}),
        (200, running, {}),
        (200, done, {}),
    )
    seen: list[str] = []

    async def on_update(run: Any) -> None:
        seen.append(run.status.value)

    async def go() -> Any:
        slept: list[float] = []

        async def sleep(s: float) -> None:
            slept.append(s)

        transport = httpx.MockTransport(wire)
        async with AsyncClient(
            "oh_test_key", "http://api", http_client=httpx.AsyncClient(transport=transport), sleep=sleep
        ) as client:
            run = await client.runs.create("List the pricing tiers", wait=True, on_update=on_update)
            return run, slept

    run, slept = asyncio.run(go())
    assert run.result == "ok" and seen == ["running", "succeeded"]
    assert slept == [2.0, 0.5]
    assert "wait" not in wire.requests[1].url.params  # progress wanted: poll instead of one long wait
