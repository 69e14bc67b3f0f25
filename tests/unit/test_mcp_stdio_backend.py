"""`openhelm mcp`'s backend against the API at the wire (httpx2's MockTransport plays the API and API
Gateway): the API's errors keep their code and status, the gateway's own bodies and a dead API become
tool failures, and a get_run wait polls until the run ends or its bound, never longer."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from devstack.mcp_stdio import ApiBackend
from shared.mcp.backend import ToolFailure


def run(status: str, run_id: str = "run_1") -> dict[str, Any]:
    return {"id": run_id, "status": status, "prompt": "p", "result": {"n": 1} if status == "succeeded" else None}


class Api:
    """Answers from a list, records what was asked; time moves only when the backend sleeps."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def backend(self) -> ApiBackend:
        def sleep(s: float) -> None:
            self.slept.append(s)
            self.now += s

        client = httpx2.Client(transport=httpx2.MockTransport(self))
        return ApiBackend("https://api.test/", "oh_test_k", client=client, sleep=sleep, monotonic=lambda: self.now)


def test_create_sends_the_key_the_idempotency_key_and_the_bounded_wait_then_reads_the_run() -> None:
    api = Api(
        httpx2.Response(202, json={"task_id": "run_1", "poll_url": "x", "status": "queued"}),
        httpx2.Response(200, json=run("queued")),
    )
    got = api.backend().create_run({"prompt": "Count the links"}, "k-1", 60)
    assert got["status"] == "queued"
    post, get = api.requests
    assert post.headers["authorization"] == "Bearer oh_test_k" and post.headers["idempotency-key"] == "k-1"
    assert post.url.params["wait"] == "25" and json.loads(post.content) == {"prompt": "Count the links"}
    assert get.method == "GET" and get.url.path == "/v1/runs/run_1"


def test_the_api_s_error_keeps_its_status_code_and_message() -> None:
    body = {"error": {"type": "invalid_request_error", "code": "invalid_output_schema", "message": "bad", "details": 1}}
    api = Api(httpx2.Response(422, json=body))
    with pytest.raises(ToolFailure) as err:
        api.backend().create_run({"prompt": "xyz"}, None, 0)
    assert (err.value.status, err.value.code, err.value.message, err.value.details) == (
        422,
        "invalid_output_schema",
        "bad",
        1,
    )


def test_the_gateway_s_own_body_and_a_dead_api_are_failures_too() -> None:
    api = Api(
        httpx2.Response(429, json={"message": "Too Many Requests"}),
        httpx2.Response(503, text="Service Unavailable"),
        httpx2.ConnectError("refused"),
    )
    backend = api.backend()
    failures = []
    for _ in range(3):
        with pytest.raises(ToolFailure) as err:
            backend.list_runs(10, None, None)
        failures.append((err.value.status, err.value.code, err.value.message))
    assert failures[0] == (429, "http_error", "Too Many Requests")
    assert failures[1] == (503, "http_error", "Service Unavailable")
    assert failures[2][:2] == (503, "api_unreachable") and "https://api.test" in failures[2][2]


def test_a_run_id_cannot_reach_another_path() -> None:
    api = Api(httpx2.Response(404, json={"error": {"code": "run_not_found", "message": "no run"}}))
    with pytest.raises(ToolFailure):
        api.backend().cancel_run("../keys")
    assert api.requests[0].url.raw_path == b"/v1/runs/..%2Fkeys/cancel"


def test_get_run_waits_until_the_run_ends() -> None:
    api = Api(*(httpx2.Response(200, json=run(s)) for s in ("running", "running", "succeeded")))
    got = api.backend().get_run("run_1", wait_s=25)
    assert got["status"] == "succeeded" and len(api.requests) == 3 and api.slept == [0.5, 1.0]


def test_get_run_answers_the_running_run_at_its_bound() -> None:
    api = Api(*(httpx2.Response(200, json=run("running")) for _ in range(50)))
    got = api.backend().get_run("run_1", wait_s=5)
    assert got["status"] == "running" and api.now == 5.0  # 0.5 + 1 + 2 + the 1.5 left
    assert api.slept == [0.5, 1.0, 2.0, 1.5]


def test_no_wait_is_one_request() -> None:
    api = Api(httpx2.Response(200, json=run("running")))
    assert api.backend().get_run("run_1")["status"] == "running" and len(api.requests) == 1 and api.slept == []


def test_a_session_task_is_posted_to_the_session_then_read_as_its_run() -> None:
    accepted = {"task_id": "run_1", "session_id": "ses_1", "poll_url": "x", "status": "queued"}
    api = Api(httpx2.Response(202, json=accepted), httpx2.Response(200, json=run("queued")))
    got = api.backend().run_session_task("ses_1", {"prompt": "Read it"}, "k-2", 0)
    assert got["id"] == "run_1" and got["status"] == "queued"
    post, get = api.requests
    assert post.url.path == "/v1/sessions/ses_1/tasks" and post.headers["idempotency-key"] == "k-2"
    assert json.loads(post.content) == {"prompt": "Read it"} and get.url.path == "/v1/runs/run_1"


def test_answers_and_session_calls_use_the_api_s_verbs_and_cannot_leave_their_path() -> None:
    api = Api(*(httpx2.Response(200, json={"id": "ses_1", "status": "ready"}) for _ in range(6)))
    backend = api.backend()
    backend.answer_input("run_1", {"request_id": "inp_1", "answer": "yes"})
    backend.send_tool_result("run_1", {"call_id": "call_1", "output": 1})
    backend.session_action("ses_1", {"action": "screenshot"})
    backend.control_session("ses_1", "pause")
    backend.close_session("../runs")
    backend.list_sessions(5, None, "ready")
    assert [(r.method, r.url.raw_path) for r in api.requests] == [
        ("POST", b"/v1/runs/run_1/input"),
        ("POST", b"/v1/runs/run_1/tool-results"),
        ("POST", b"/v1/sessions/ses_1/actions"),
        ("POST", b"/v1/sessions/ses_1/pause"),
        ("DELETE", b"/v1/sessions/..%2Fruns"),
        ("GET", b"/v1/sessions?limit=5&status=ready"),
    ]


def session(status: str) -> dict[str, Any]:
    return {"id": "ses_1", "status": status, "project_id": "prj_1"}


def test_a_get_session_wait_polls_while_it_starts_and_answers_once_it_is_ready() -> None:
    api = Api(*[httpx2.Response(200, json=session(s)) for s in ("starting", "starting", "ready")])
    got = api.backend().get_session("ses_1", wait_s=10)
    assert got["status"] == "ready" and api.slept == [0.5, 1.0]
    assert {r.url.path for r in api.requests} == {"/v1/sessions/ses_1"}


def test_a_create_session_wait_ends_at_its_bound_with_the_session_still_busy_or_starting() -> None:
    api = Api(httpx2.Response(201, json=session("starting")), *[httpx2.Response(200, json=session("busy"))] * 30)
    got = api.backend().create_session({"start_url": "https://example.com/"}, wait_s=60)
    assert got["status"] == "busy" and sum(api.slept) == 25  # MAX_WAIT_S, whatever was asked
    assert api.requests[0].method == "POST"

    api = Api(httpx2.Response(201, json=session("starting")))
    assert api.backend().create_session({}, wait_s=0)["status"] == "starting" and api.slept == []
