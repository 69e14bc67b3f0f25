"""The chat completions WSGI app against moto: what it answers before and around a run (the runs
themselves are end to end in tests/e2e/test_chat_completions_e2e.py)."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

from shared.api_keys import create_key
from shared.chat.app import ChatApp
from shared.orgs import bootstrap_org
from tests.support.aws import make_services

TASK = {"model": "openhelm-browser", "messages": [{"role": "user", "content": "find the price"}]}


def call(app: ChatApp, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, dict, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(raw))}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(raw)
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), {k.lower(): v for k, v in headers}

    out = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(out)


def test_routes_auth_and_bad_requests_answer_in_openai_shape(svc, org_key) -> None:
    app = ChatApp(lambda: svc)
    _org, key = org_key
    assert call(app, "GET", "/healthz")[0] == 200
    status, _, body = call(app, "GET", "/v1/models")
    assert status == 401 and body["error"]["code"] == "missing_api_key" and body["error"]["param"] is None
    assert set(body["error"]) == {"message", "type", "code", "param"}
    status, headers, _ = call(app, "GET", "/v1/chat/completions", key=key)
    assert status == 405 and headers["allow"] == "POST"
    assert call(app, "GET", "/v1/nothing", key=key)[0] == 404
    status, _, body = call(app, "POST", "/v1/chat/completions", b"{nope", key=key)
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, _, body = call(app, "POST", "/v1/chat/completions", {**TASK, "max_tokens": 5}, key=key)
    assert status == 400 and body["error"]["param"] == "max_tokens"
    status, _, body = call(app, "GET", "/v1/models/openhelm-browser", key=key)
    assert status == 200 and body["id"] == "openhelm-browser"
    assert svc.runs.list(org_key[0], limit=10, cursor=None, status=None, project_id=None, job_id=None)[0] == []


def test_a_read_only_key_lists_models_but_cannot_start_a_run(svc, org_key) -> None:
    app = ChatApp(lambda: svc)
    read = create_key(svc, org_key[0], name="ro", scopes=["read"]).key
    assert call(app, "GET", "/v1/models", key=read)[0] == 200
    status, _, body = call(app, "POST", "/v1/chat/completions", TASK, key=read)
    assert status == 403 and body["error"]["code"] == "insufficient_scope"


def test_orchestration_down_is_a_503_with_retry_after_and_leaves_a_failed_run(moto_aws) -> None:
    svc = make_services(OPENHELM_RUN_STATE_MACHINE="arn:aws:states:us-east-1:123456789012:stateMachine:gone")
    org_id, key = bootstrap_org("acme", svc)
    status, headers, body = call(ChatApp(lambda: svc), "POST", "/v1/chat/completions", TASK, key=key)
    assert status == 503 and int(headers["retry-after"]) > 0
    assert body["error"]["code"] == "orchestration_unavailable"
    (run,), _ = svc.runs.list(org_id, limit=10, cursor=None, status=None, project_id=None, job_id=None)
    assert run.status == "failed" and run.error.code == "ORCHESTRATION_UNAVAILABLE"


def test_a_run_that_stops_for_a_person_ends_the_chat_with_guardrail_triggered(svc, org_key) -> None:
    from datetime import UTC, datetime

    from shared.chat import watch
    from shared.models.run_record import RunRecord

    org_id, _key = org_key
    item = {
        "id": "run_01M8TEAAAAAAAAAAAAAAAAAAAA",
        "status": "needs_input",
        "prompt": "log in and read the invoice",
        "model": "gpt-4.1-mini",
        "project_id": "prj_x",
        "max_duration_s": 600,
        "max_steps": 50,
        "max_input_tokens": 100_000,
        "max_output_tokens": 10_000,
        "created_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
        # no code writes this status yet: the human-input work will; the chat layer reads the question here
        "input_request": {"question": "Which of the two accounts should I use?"},
    }
    svc.runs.create(RunRecord(org_id=org_id, **item))
    outcomes = list(watch.watch(svc, org_id, item["id"], deadline=svc.clock.monotonic() + 60))
    (outcome,) = outcomes
    assert isinstance(outcome, watch.Outcome) and outcome.error is not None
    assert outcome.error.code == "guardrail_triggered" and outcome.error.status == 400
    assert "Which of the two accounts should I use?" in outcome.error.message


def _aws_server(app: ChatApp):
    """The server the Web Adapter talks to in AWS (functions/chat_completions), on a free port."""
    import importlib.util
    import threading
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "functions" / "chat_completions" / "chat_completions_handler.py"
    spec = importlib.util.spec_from_file_location("chat_completions_handler_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.make(0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_through_the_aws_side_server_a_run_past_the_deadline_is_cancelled_and_answered_504(svc, org_key) -> None:
    import requests

    # make_services' state machine is a Pass state: the run stays queued, as a slow run would.
    org_id, key = org_key
    server = _aws_server(ChatApp(lambda: svc))
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    # the adapter's Lambda context: 12 s left, so the app gives up 10 s before (the clock is fake)
    headers = {
        "Authorization": f"Bearer {key}",
        "x-amzn-lambda-context": json.dumps({"deadline": svc.clock.now_ms() + 12_000}),
    }
    try:
        r = requests.post(url, json=TASK, headers=headers, timeout=30)
        assert r.status_code == 504 and r.json()["error"]["code"] == "chat_timeout"
        assert r.headers["x-should-retry"] == "false"
        streamed = requests.post(url, json={**TASK, "stream": True}, headers=headers, timeout=30, stream=True)
        assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
        events = [line for line in streamed.iter_lines() if line]
        assert json.loads(events[0].removeprefix(b"data: "))["object"] == "chat.completion.chunk"
        assert json.loads(events[-2].removeprefix(b"data: "))["error"]["code"] == "chat_timeout"
        assert events[-1] == b"data: [DONE]"
    finally:
        server.shutdown()
        server.server_close()
    runs, _ = svc.runs.list(org_id, limit=10, cursor=None, status=None, project_id=None, job_id=None)
    assert sorted(r.status for r in runs) == ["cancelled", "cancelled"]  # nothing left running
