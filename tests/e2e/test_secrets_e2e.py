"""Per-domain secrets end to end: a login where the model only ever sees placeholders, a secret
refused on a page of another host, and a canary search over every byte the system keeps or sends."""

from __future__ import annotations

import functools
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.testing.fake_openai import ToolCall, find_ref
from tests.e2e.conftest import finished, poll

pytestmark = pytest.mark.e2e

SITE = Path(__file__).resolve().parent / "secret_site"


class _Recorder(http.server.SimpleHTTPRequestHandler):
    """Serves the login site and keeps every request line it saw (the site is not our system)."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        super().do_GET()

    def do_POST(self) -> None:  # the webhook receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.posted.append(body)  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def login_site() -> Iterator[Any]:
    seen: list[str] = []
    posted: list[bytes] = []
    handler = functools.partial(type("Handler", (_Recorder,), {"seen": seen, "posted": posted}), directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.seen, server.posted = seen, posted  # type: ignore[attr-defined]
    server.port = server.server_address[1]  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def _type(pattern: str, text: str, submit: bool = False) -> Any:
    return lambda body: ToolCall("type", {"ref": find_ref(body, pattern), "text": text, "submit": submit})


DONE = ToolCall("done", {"result": {"signed_in": True}, "confidence": 0.9, "summary": "signed in"})


def _everything_kept(stack: Any, run_id: str) -> dict[str, bytes]:
    """Every byte the local stack holds for the system: table items, bucket objects (every version),
    Step Functions executions with their histories."""
    found: dict[str, bytes] = {}
    ddb = stack.client("dynamodb")
    for page in ddb.get_paginator("scan").paginate(TableName=stack.physical_id("MainTable")):
        for i, item in enumerate(page["Items"]):
            found[f"dynamodb:{item.get('pk')}/{item.get('sk')}/{i}"] = json.dumps(item, default=str).encode()
    s3 = stack.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []):
                body = s3.get_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
                found[f"s3:{name}/{v['Key']}@{v['VersionId']}"] = body
    sfn = stack.client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        for ex in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            history = sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
            desc = sfn.describe_execution(executionArn=ex["executionArn"])
            found[f"sfn:{ex['name']}"] = json.dumps([desc, history], default=str).encode()
    return found


def _events_queue(stack: Any) -> str:
    """An SQS queue that receives every event on the bus (a rule of our own, as an integrator would)."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=f"canary-events-{secrets.token_hex(3)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.physical_id("EventBus")
    rule = f"canary-all-{secrets.token_hex(3)}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["openhelm"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def _drain(stack: Any, url: str) -> list[bytes]:
    sqs = stack.client("sqs")
    out: list[bytes] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        out.extend(m["Body"].encode() for m in got)


def test_login_with_secrets_leaves_no_trace_of_the_values(stack, api, llm, login_site, capsys) -> None:
    from shared.services import get_services

    token_pw, token_mail = secrets.token_hex(8), secrets.token_hex(8)
    password, email = f"Pw-{token_pw}", f"canary-{token_mail}@example.test"
    events_queue = _events_queue(stack)
    port = login_site.port
    llm.reset(
        _type(r"textbox Email", "<secret:email>"),
        _type(r"textbox Password", "<secret:password>", submit=True),
        DONE,
    )
    responses: list[bytes] = []
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Sign in to Harbour",
            "start_url": f"http://localhost:{port}/login.html",
            "allowed_domains": ["localhost"],
            "secrets": [{"match": "localhost", "fields": {"email": email, "password": password}}],
            "webhook_url": f"http://127.0.0.1:{port}/hook",
        },
    )
    assert r.status_code == 202, r.text
    responses.append(r.content)
    run_id = r.json()["task_id"]
    run = finished(api, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["secrets"] == [{"match": "localhost", "fields": ["email", "password"]}]

    # The site got the real values, typed by the agent ...
    logins = [parse_qs(urlsplit(p).query) for p in login_site.seen if p.startswith("/welcome.html")]
    assert logins == [{"email": [email], "password": [password]}]
    # ... the model only ever saw placeholders (the welcome page echoes both values back).
    for request in llm.chat_requests:
        assert token_pw not in json.dumps(request.body) and token_mail not in json.dumps(request.body)
    observed = json.dumps(llm.chat_requests[-1].body)
    assert "<secret:password>" in observed and "Signed in as <secret:email>" in observed
    typed = [s for s in run["steps"] if s["action"] == "type"]
    assert [s["args"]["text"] for s in typed] == ["<secret:email>", "<secret:password>"]
    assert all(s["error"] is None for s in typed)

    # Wait for everything the run's end sends: evidence, usage, the webhook.
    poll(lambda: api("GET", f"/v1/runs/{run_id}").json()["evidence_status"] == "ready", "evidence stored", 30)
    poll(lambda: login_site.posted, "webhook delivered", 30)
    for path in (f"/v1/runs/{run_id}", "/v1/runs", f"/v1/runs/{run_id}/deliveries", "/v1/usage"):
        got = api("GET", path)
        assert got.status_code == 200, (path, got.text)
        responses.append(got.content)
    manifest = api("GET", f"/v1/runs/{run_id}").json()["evidence_manifest_url"]
    assert manifest

    svc = get_services()
    record = svc.runs.get(api.org_id, run_id)
    sandbox_id = record.sandbox_id
    assert record.secrets_sealed is None  # removed when the run ended
    kept = _everything_kept(stack, run_id)
    kept.update({f"api:{i}": body for i, body in enumerate(responses)})
    kept.update({f"webhook:{i}": body for i, body in enumerate(login_site.posted)})
    kept.update({f"event:{i}": body for i, body in enumerate(_drain(stack, events_queue))})
    for i, path in enumerate(svc.sandbox.log_paths(sandbox_id)):  # type: ignore[attr-defined]
        kept[f"sandbox-log:{i}"] = Path(path).read_bytes()
    logs = capsys.readouterr()
    kept["function-logs:stdout"], kept["function-logs:stderr"] = logs.out.encode(), logs.err.encode()

    # The search has something to search: the run's own records, evidence, events and logs are there.
    assert any(run_id.encode() in body for key, body in kept.items() if key.startswith("dynamodb:"))
    assert any(key.startswith("s3:") and key.endswith(".jsonl") is False for key in kept)
    assert any(b"Run Succeeded" in body for key, body in kept.items() if key.startswith("event:"))
    assert run_id.encode() in kept["function-logs:stdout"] and b"run started" in kept["sandbox-log:1"]
    hits = [key for key, body in kept.items() if token_pw.encode() in body or token_mail.encode() in body]
    assert hits == [], f"secret values found in: {hits}"


def test_a_secret_is_not_typed_on_a_page_of_another_host(stack, api, llm, login_site) -> None:
    password = f"Pw-{secrets.token_hex(8)}"
    port = login_site.port
    llm.reset(_type(r"textbox Password", "<secret:password>", submit=True), DONE)
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Sign in to Harbour",
            "start_url": f"http://127.0.0.1:{port}/login.html",
            "secrets": [{"match": "localhost", "fields": {"password": password}}],
        },
    )
    assert r.status_code == 202, r.text
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "succeeded", run["error"]
    typed = next(s for s in run["steps"] if s["action"] == "type")
    assert "may only be typed on pages of localhost" in typed["error"]
    assert "nothing was typed" in typed["error"]
    assert not any(p.startswith("/welcome.html") and password in p for p in login_site.seen)
    assert "may only be typed on pages of localhost" in json.dumps(llm.chat_requests[-1].body)


def test_secret_patterns_must_lie_inside_allowed_domains(stack, api) -> None:
    body = {
        "prompt": "Sign in",
        "allowed_domains": ["*.example.com"],
        "secrets": [
            {"match": "shop.example.com", "fields": {"password": "x1y2z3"}},
            {"match": "example.org", "fields": {"password": "x1y2z3"}},
        ],
    }
    r = api("POST", "/v1/runs", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "secret_domain_not_allowed"
    assert [d["loc"] for d in error["details"]] == [["secrets", 1, "match"]]
    assert "x1y2z3" not in r.text
    assert api("GET", "/v1/runs").json()["data"] == []  # nothing was written
