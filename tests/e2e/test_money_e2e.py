"""Money end to end (local stack, real agent and Chromium, scripted model): a run stopped by its
max_cost_usd is charged no more than the cap, and a cancelled run's envelope bills what its usage
record bills."""

from __future__ import annotations

import pytest

from devstack.testing.fake_openai import ToolCall
from tests.e2e.conftest import finished, poll, wait_for_status

pytestmark = pytest.mark.e2e


def usage_record(api, run_id: str) -> dict:
    def probe() -> dict | None:
        lines = [x for x in api("GET", "/v1/usage").json()["data"] if x["run_id"] == run_id]
        return lines[0] if lines else None

    return poll(probe, f"usage record of {run_id}", 30)


def billed_envelope(api, run_id: str) -> dict:
    return poll(
        lambda: (run := api("GET", f"/v1/runs/{run_id}").json())["usage"]["cost_status"] == "billed" and run,
        "billed figures on the envelope",
        30,
    )


def test_a_run_stopped_by_max_cost_usd_is_charged_at_most_the_cap(stack, api, llm, site) -> None:
    big = {"prompt_tokens": 100_000, "completion_tokens": 20_000}  # $0.072 of tokens in one reply
    llm.reset(ToolCall("wait", {"seconds": 1}, usage=big), ToolCall("done", {"result": {}, "confidence": 1}))
    balance_before = api("GET", "/v1/balance").json()["balance_micros"]
    r = api("POST", "/v1/runs", json={"prompt": "Wait, then answer", "start_url": site + "/", "max_cost_usd": "0.05"})
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    run = finished(api, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "BUDGET_EXCEEDED", run["error"]
    assert len(llm.chat_requests) == 1  # the call that would have crossed the cap never reached the model
    assert 0 < llm.chat_requests[0].body["max_tokens"] < 40_000  # the first one was held to what the cap paid for

    record = usage_record(api, run_id)
    assert record["list_cost_micros"] > 50_000 and record["capped"] is True
    assert record["cost_micros"] == record["charged_micros"] == 50_000 and record["cost_usd"] == "0.05"
    assert api("GET", "/v1/balance").json()["balance_micros"] == balance_before - 50_000
    run = billed_envelope(api, run_id)
    assert run["usage"]["cost_micros"] == 50_000 and run["usage"]["sandbox_seconds"] == record["sandbox_seconds"]
    wait_step = next(s for s in run["steps"] if s["action"] == "wait")
    assert (wait_step["llm_call"], wait_step["input_tokens"], wait_step["output_tokens"]) == (1, 100_000, 20_000)
    assert wait_step["cost_usd"] == "0.072"
    charge = api("GET", "/v1/balance/transactions").json()["data"][0]
    assert (charge["kind"], charge["amount_micros"], charge["run_id"]) == ("run_charge", -50_000, run_id)


def test_a_cancelled_run_shows_the_sandbox_seconds_it_is_billed(stack, api, llm, site) -> None:
    llm.reset(*[ToolCall("wait", {"seconds": 2})] * 20)
    r = api("POST", "/v1/runs", json={"prompt": "Wait around", "start_url": site + "/", "max_duration_s": 120})
    run_id = r.json()["task_id"]
    wait_for_status(api, run_id, {"running"})
    poll(lambda: (api("GET", f"/v1/runs/{run_id}").json().get("progress") or {}).get("step", 0) >= 2, "two steps")
    assert api("POST", f"/v1/runs/{run_id}/cancel").status_code == 202
    cancelled = api("GET", f"/v1/runs/{run_id}").json()
    assert cancelled["status"] == "cancelled" and cancelled["usage"]["sandbox_seconds"] > 0
    record = usage_record(api, run_id)
    run = billed_envelope(api, run_id)
    assert run["usage"]["sandbox_seconds"] == record["sandbox_seconds"] == cancelled["usage"]["sandbox_seconds"]
    assert run["usage"]["cost_micros"] == record["cost_micros"] == cancelled["usage"]["cost_micros"]
    assert run["usage"]["input_tokens"] == record["input_tokens"]
