"""Runs end to end: HTTP API → Step Functions (moto's interpreter) → bubblewrap sandbox → Chromium →
LLM gateway → callback → Finalize, with the model played by a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.testing.fake_openai import HttpError, ToolCall, find_ref
from tests.e2e.conftest import finished, poll, wait_for_status

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "devstack" / "demo_site" / "task.json").read_text())[
    "output_schema"
]
TIERS = [
    {"name": "Deckhand", "monthly_price_usd": 0, "per_member": False},
    {"name": "Crew", "monthly_price_usd": 12, "per_member": True},
    {"name": "Fleet", "monthly_price_usd": 29, "per_member": True},
]
DONE = ToolCall("done", {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"})


def click_pricing(body: dict) -> ToolCall:
    return ToolCall(
        "click", {"ref": find_ref(body, r"link Pricing")}, usage={"prompt_tokens": 900, "completion_tokens": 20}
    )


def test_extraction_succeeds_with_evidence_usage_and_counted_tokens(stack, api, llm, site) -> None:
    llm.reset(
        click_pricing,
        HttpError(500),  # the agent's client retries through the gateway
        ToolCall("done", DONE.args, usage={"prompt_tokens": 1100, "completion_tokens": 60}),
    )
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA}
    )
    assert r.status_code == 202, r.text
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["result"] == {"tiers": TIERS}
    assert run["confidence"]["score"] == 0.9
    assert run["steps"][-1]["action"] == "done" and "click" in [s["action"] for s in run["steps"]]
    assert any(n["url"].endswith("/pricing.html") for n in run["network"])
    assert run["usage"]["input_tokens"] == 2000 and run["usage"]["output_tokens"] == 80
    assert run["usage"]["llm_calls"] == 2 and run["usage"]["sandbox_seconds"] > 0
    assert run["evidence"] and all(e["path"].endswith(".png") for e in run["evidence"])
    assert run["progress"]["step"] >= 2
    # the upstream saw the provider key, never the run token; the gateway pinned the run's model
    chat = llm.chat_requests
    assert {q.authorization for q in chat} == {"Bearer sk-upstream-test-key-000000"}
    assert {q.body["model"] for q in chat} == {"fake-model"}

    # the same steps replay with no LLM at all
    llm.reset()
    again = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "List the pricing tiers",
            "start_url": site + "/",
            "output_schema": SCHEMA,
            "replay_of": run["id"],
        },
    )
    assert again.status_code == 202, again.text
    replayed = finished(api, again.json()["task_id"])
    assert replayed["status"] == "succeeded", replayed["error"]
    assert replayed["model"] == "replay" and replayed["result"] == {"tiers": TIERS}
    assert llm.chat_requests == []


def test_schema_repair_then_success_lowers_confidence(stack, api, llm, site) -> None:
    llm.reset(
        ToolCall("done", {"result": {"tiers": [{"name": "Crew"}]}, "confidence": 0.9, "summary": "?"}),
        DONE,
    )
    r = api(
        "POST",
        "/v1/runs",
        json={"prompt": "List the pricing tiers", "start_url": site + "/pricing.html", "output_schema": SCHEMA},
    )
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["confidence"]["score"] == 0.8 and "schema repair" in run["confidence"]["reason"]
    # the model was shown why its first result was refused
    assert "monthly_price_usd" in json.dumps(llm.chat_requests[1].body["messages"][-1])


def test_schema_never_satisfied_fails(stack, api, llm, site) -> None:
    bad = ToolCall("done", {"result": {"tiers": "none"}, "confidence": 0.5, "summary": "?"})
    llm.reset(bad, bad, bad, bad)
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA}
    )
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "failed" and run["error"]["code"] == "SCHEMA_UNSATISFIED"


def test_blocked_domain_is_refused_and_logged(stack, api, llm, site) -> None:
    port = site.rsplit(":", 1)[1]
    llm.reset(ToolCall("navigate", {"url": f"http://127.0.0.1:{port}/pricing.html"}), DONE)
    body = {
        "prompt": "List the pricing tiers",
        "start_url": f"http://localhost:{port}/",
        "allowed_domains": ["localhost"],
        "output_schema": SCHEMA,
    }
    run = finished(api, api("POST", "/v1/runs", json=body).json()["task_id"])
    assert run["status"] == "succeeded", run["error"]
    blocked = [n for n in run["network"] if n["blocked"]]
    assert blocked and blocked[0]["url"].startswith("http://127.0.0.1")
    assert "blocked" in run["confidence"]["reason"]
    assert "blocked by policy" in json.dumps(llm.chat_requests[1].body["messages"])


def test_max_steps_and_max_duration_end_the_run(stack, api, llm, site) -> None:
    llm.reset(*[ToolCall("scroll", {"direction": "down", "amount": 1})] * 10)
    run = finished(
        api,
        api("POST", "/v1/runs", json={"prompt": "Scroll forever", "start_url": site + "/", "max_steps": 3}).json()[
            "task_id"
        ],
    )
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_MAX_STEPS"

    llm.reset(*[ToolCall("wait", {"seconds": 4})] * 10)
    r = api("POST", "/v1/runs", json={"prompt": "Wait forever", "start_url": site + "/", "max_duration_s": 10})
    run = finished(api, r.json()["task_id"], timeout=90)
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_TIMEOUT"


def test_model_rate_limited_then_recovers(stack, api, llm, site) -> None:
    llm.reset(HttpError(429, retry_after=0), HttpError(429, retry_after=0), DONE)
    run = finished(
        api,
        api(
            "POST",
            "/v1/runs",
            json={"prompt": "List the pricing tiers", "start_url": site + "/pricing.html", "output_schema": SCHEMA},
        ).json()["task_id"],
    )
    assert run["status"] == "succeeded", run["error"]
    assert run["usage"]["llm_calls"] == 1  # only the answered call is counted


def test_model_server_down_ends_in_llm_error(stack, api, llm, site) -> None:
    llm.reset(*[HttpError(500)] * 12)
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "max_duration_s": 60}
    )
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "failed" and run["error"]["code"] == "LLM_ERROR"


def test_cancel_mid_run_kills_the_sandbox(stack, api, llm, site) -> None:
    from shared.services import get_services

    llm.reset(*[ToolCall("wait", {"seconds": 5})] * 20)
    r = api(
        "POST", "/v1/runs", json={"prompt": "Wait around for a while", "start_url": site + "/", "max_duration_s": 120}
    )
    run_id = r.json()["task_id"]
    wait_for_status(api, run_id, {"running"})
    c = api("POST", f"/v1/runs/{run_id}/cancel")
    assert c.status_code == 202 and c.json()["status"] == "cancelled"
    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id).sandbox_id
    poll(lambda: sandbox_id not in {s.sandbox_id for s in svc.sandbox.list_running()}, "sandbox killed", 10)
    assert api("GET", f"/v1/runs/{run_id}").json()["error"]["code"] == "CANCELLED"
    assert api("POST", f"/v1/runs/{run_id}/cancel").status_code == 409


def test_sandbox_crash_is_found_by_the_reaper(stack, api, llm, site) -> None:
    from shared.services import get_services

    llm.reset(*[ToolCall("wait", {"seconds": 5})] * 20)
    r = api(
        "POST", "/v1/runs", json={"prompt": "Wait around for a while", "start_url": site + "/", "max_duration_s": 120}
    )
    run_id = r.json()["task_id"]
    wait_for_status(api, run_id, {"running"})
    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id).sandbox_id
    svc.sandbox.kill(sandbox_id)  # the agent dies without a completion
    report = stack.invoke("ReaperFunction", {})
    run = finished(api, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_CRASHED"
    # The kill's SIGTERM reaches the agent before the SIGKILL: the in-sandbox supervisor may report
    # the death itself in that moment; otherwise the reaper must have found it.
    if run_id not in report["crashed"]:
        reporter = (svc.runs.get(api.org_id, run_id).agent_exit or {}).get("reporter")
        assert reporter == "supervisor", f"the reaper did not find the crash and nobody reported it: {reporter!r}"


def _kill_in_sandbox(api, run_id: str, which: str) -> float:
    """SIGKILL the sandbox's agent or bridge process; the wall-clock time of the kill."""
    import os
    import signal
    import time

    from shared.services import get_services

    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id).sandbox_id
    procs = svc.sandbox.processes(sandbox_id)
    if which == "agent":
        (pid,) = [p for p, argv in procs.items() if argv[1:] == ["-m", "openhelm_agent"]]
    else:
        (pid,) = [p for p, argv in procs.items() if any(a.endswith("/bridge.py") for a in argv)]
    os.kill(pid, signal.SIGKILL)
    return time.time()


@pytest.mark.parametrize("which", ["agent", "bridge"])
def test_a_killed_agent_or_bridge_fails_the_run_at_once_billed_to_its_death(stack, api, llm, site, which) -> None:
    from datetime import datetime

    llm.reset(*[ToolCall("wait", {"seconds": 5})] * 20)
    r = api("POST", "/v1/runs", json={"prompt": "Wait around for a while", "start_url": site + "/"})
    run_id = r.json()["task_id"]
    poll(lambda: (api("GET", f"/v1/runs/{run_id}").json().get("progress") or {}).get("step"), "first step", 60)
    killed_at = _kill_in_sandbox(api, run_id, which)
    # no reaper runs in this stack: only the exit report (supervisor or provider) can end the run
    run = finished(api, run_id, timeout=15)
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_CRASHED"
    assert "SIGKILL" in run["error"]["message"]
    lived = killed_at - datetime.fromisoformat(run["started_at"]).timestamp()
    assert lived - 0.5 <= run["usage"]["sandbox_seconds"] <= lived + 5
    assert run["steps"], "the steps taken before the death are kept"


HOG_PAGE = b"""<html><head><title>hog</title></head><body><h1>hog</h1><script>
const keep = []; function grow() { for (let i = 0; i < 16; i++) { const b = new Uint8Array(1 << 24); b.fill(1);
keep.push(b); } setTimeout(grow, 0); } grow();
</script></body></html>"""


@pytest.mark.skipif(
    not __import__("shared.sandbox.local.limits", fromlist=["CgroupLimits"]).CgroupLimits.detect().available,
    reason="no writable cgroup for a per-sandbox memory limit here",
)
def test_a_page_that_allocates_without_bound_fails_the_run_on_memory(stack, api, llm, tmp_path) -> None:
    import http.server
    import threading

    from shared.sandbox import factory
    from shared.sandbox.local.provider import LocalProvider

    class Hog(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(HOG_PAGE)))
            self.end_headers()
            self.wfile.write(HOG_PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hog)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = LocalProvider(allow_loopback=True, memory_limit_mb=768)
    factory.override(provider)
    try:
        llm.reset(*[ToolCall("wait", {"seconds": 3})] * 40)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        r = api("POST", "/v1/runs", json={"prompt": "Watch this page", "start_url": url, "max_duration_s": 120})
        run = finished(api, r.json()["task_id"], timeout=150)
    finally:
        factory.override(None)
        provider.close()
        server.shutdown()
        server.server_close()
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_CRASHED"
    assert "memory" in run["error"]["message"], run["error"]
