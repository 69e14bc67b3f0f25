"""A run end to end: HTTP API → Step Functions (moto) → bubblewrap sandbox → Chromium → LLM gateway
→ callback → Finalize, with the model played by a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for_status
from tests.support.fake_openai import HttpError, ToolCall, find_ref

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "devstack" / "demo_site" / "task.json").read_text())[
    "output_schema"
]
TIERS = [
    {"name": "Deckhand", "monthly_price_usd": 0, "per_member": False},
    {"name": "Crew", "monthly_price_usd": 12, "per_member": True},
    {"name": "Fleet", "monthly_price_usd": 29, "per_member": True},
]


def test_extraction_succeeds_with_evidence_usage_and_counted_tokens(stack, api, llm, site) -> None:
    llm.reset(
        *[
            lambda body: ToolCall(
                "click",
                {"ref": find_ref(body, r'link "Pricing"')},
                usage={"prompt_tokens": 900, "completion_tokens": 20},
            ),
            HttpError(500),  # the agent's client retries through the gateway
            ToolCall(
                "done",
                {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"},
                usage={"prompt_tokens": 1100, "completion_tokens": 60},
            ),
        ]
    )
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA}
    )
    assert r.status_code == 202, r.text
    run = wait_for_status(api, r.json()["task_id"], {"succeeded", "failed"})
    assert run["status"] == "succeeded", run["error"]
    assert run["result"] == {"tiers": TIERS}
    assert 0.8 <= run["confidence"]["score"] <= 0.9
    assert [s["action"] for s in run["steps"]] == ["navigate", "click", "done"] or run["steps"][-1]["action"] == "done"
    assert any(n["url"].endswith("/pricing.html") for n in run["network"])
    assert run["usage"]["input_tokens"] == 2000 and run["usage"]["output_tokens"] == 80
    assert run["usage"]["llm_calls"] == 2 and run["usage"]["sandbox_seconds"] > 0
    assert run["evidence"] and all(e["path"].endswith(".png") for e in run["evidence"])
    # the sandbox held the run token, never the upstream key; the gateway pinned the run's model
    chat = [q for q in llm.requests if q.path.endswith("/chat/completions")]
    assert {q.authorization for q in chat} == {"Bearer sk-upstream-test-key-000000"}
    assert {q.body["model"] for q in chat} == {"fake-model"}


def test_model_server_down_ends_in_llm_error(stack, api, llm, site) -> None:
    llm.reset(*[HttpError(500)] * 12)
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "max_duration_s": 60}
    )
    run = wait_for_status(api, r.json()["task_id"], {"succeeded", "failed"})
    assert run["status"] == "failed" and run["error"]["code"] == "LLM_ERROR"


def test_cancel_mid_run_kills_the_sandbox(stack, api, llm, site) -> None:
    llm.reset(*[ToolCall("wait", {"seconds": 5})] * 20)
    r = api(
        "POST", "/v1/runs", json={"prompt": "Wait around for a while", "start_url": site + "/", "max_duration_s": 120}
    )
    run_id = r.json()["task_id"]
    wait_for_status(api, run_id, {"running"})
    c = api("POST", f"/v1/runs/{run_id}/cancel")
    assert c.status_code == 202 and c.json()["status"] == "cancelled"
    from shared.services import get_services

    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id)["sandbox_id"]
    deadline = __import__("time").monotonic() + 10
    while sandbox_id in {s.sandbox_id for s in svc.sandbox.list_running()}:
        assert __import__("time").monotonic() < deadline, "sandbox still running 10 s after cancel"
        __import__("threading").Event().wait(0.05)
    final = wait_for_status(api, run_id, {"cancelled"})
    assert final["error"]["code"] == "CANCELLED"
