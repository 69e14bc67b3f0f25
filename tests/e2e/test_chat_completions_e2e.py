"""The OpenAI-compatible endpoint end to end, driven by the official `openai` client.

ChatCompletionsFunction's function URL (RESPONSE_STREAM, served like the Lambda Web Adapter serves
it) → shared.chat → runs service → Step Functions → bubblewrap sandbox → Chromium → LLM gateway →
the scripted model. Streaming is checked to really stream: progress arrives while the run is still
running, before the model has even given its last answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
import pytest

from devstack.testing.fake_openai import Stall, ToolCall, find_ref
from shared.models.orgs import OrgLimits
from tests.e2e.conftest import finished, wait_for_status

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
FORMAT = {"type": "json_schema", "json_schema": {"name": "tiers", "schema": SCHEMA, "strict": True}}


def click_pricing(body: dict) -> ToolCall:
    return ToolCall(
        "click", {"ref": find_ref(body, r"link Pricing")}, usage={"prompt_tokens": 900, "completion_tokens": 20}
    )


def chat_client(stack, api) -> openai.OpenAI:
    base = stack.function_url("ChatCompletionsFunctionUrl")
    return openai.OpenAI(api_key=api.api_key, base_url=base + "/v1", max_retries=0, timeout=120)


@pytest.fixture
def chat(stack, api) -> openai.OpenAI:
    """The official client on the function URL, with the same org's key as ``api``."""
    return chat_client(stack, api)


def test_models_lists_the_default_agent_and_pinned_presets(chat) -> None:
    ids = [m.id for m in chat.models.list()]
    assert ids[0] == "openhelm-browser"
    assert "openhelm-browser:fake-model" in ids  # the deployment's model, pinned
    assert chat.models.retrieve("openhelm-browser").underlying_model == "fake-model"


def test_completion_answers_the_schema_json_with_usage_run_and_evidence(chat, api, llm, site) -> None:
    llm.reset(click_pricing, ToolCall("done", DONE.args, usage={"prompt_tokens": 1100, "completion_tokens": 60}))
    reply = chat.chat.completions.create(
        model="openhelm-browser",
        messages=[
            {"role": "system", "content": "Prices are in USD; the site is the Harbor demo."},
            {"role": "user", "content": f"List the pricing tiers on {site}/"},
        ],
        response_format=FORMAT,
        max_tokens=4000,
        user="u-42",
        metadata={"ticket": "T-7"},
    )
    assert reply.object == "chat.completion" and reply.model == "openhelm-browser"
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert json.loads(choice.message.content) == {"tiers": TIERS}
    assert reply.usage.prompt_tokens == 2000 and reply.usage.completion_tokens == 80
    extra = reply.model_extra["openhelm"]
    assert extra["status"] == "succeeded" and extra["confidence"] == 0.9
    assert int(extra["cost_micros"]) > 0 and extra["run_url"].endswith(extra["run_id"])
    assert extra["evidence"] and all(u.startswith("http") for u in extra["evidence"])
    # one run, with the chat's parameters: the task, the context, the bound, the pass-through fields
    run = api("GET", f"/v1/runs/{extra['run_id']}").json()
    assert run["prompt"].startswith(f"List the pricing tiers on {site}/")
    assert "[system] Prices are in USD" in run["prompt"]
    assert run["output_schema"] == SCHEMA and run["max_output_tokens"] == 4000
    assert run["metadata"] == {"ticket": "T-7", "user": "u-42"}
    assert "Prices are in USD" in json.dumps(llm.chat_requests[0].body["messages"])


def test_stream_sends_progress_while_the_run_goes_then_the_clean_result(chat, api, llm, site) -> None:
    stall = Stall(90, then=DONE)
    llm.reset(click_pricing, stall)
    stream = chat.chat.completions.create(
        model="openhelm-browser:fake-model",
        messages=[{"role": "user", "content": f"List the pricing tiers on {site}/"}],
        response_format=FORMAT,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks, progress, seen_running = [], [], False
    try:
        for chunk in stream:
            chunks.append(chunk)
            delta = chunk.choices[0].delta if chunk.choices else None
            note = delta.model_extra.get("reasoning_content") if delta is not None else None
            if note:
                progress.append(note)
            if note and "click" in note and not seen_running:
                # this chunk came while the run was still going (the model has not answered yet)
                run_id = chunk.model_extra["openhelm"]["run_id"]
                assert api("GET", f"/v1/runs/{run_id}").json()["status"] == "running"
                seen_running = True
                stall.released.set()
    finally:
        stall.released.set()
    assert seen_running and progress[0].startswith("step 1: ")
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(content) == {"tiers": TIERS}  # progress never leaks into the content
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    assert finals[0].model_extra["openhelm"]["status"] == "succeeded"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0  # include_usage
    assert all(c.id == chunks[0].id and c.model == "openhelm-browser:fake-model" for c in chunks)


def test_client_that_disconnects_cancels_its_run(chat, api, llm, site) -> None:
    stall = Stall(90, then=DONE)
    llm.reset(click_pricing, stall)
    try:
        with chat.chat.completions.with_streaming_response.create(
            model="openhelm-browser",
            messages=[{"role": "user", "content": f"List the pricing tiers on {site}/"}],
            stream=True,
        ) as response:
            run_id = response.headers["x-openhelm-run-id"]
            wait_for_status(api, run_id, {"running"})
        # leaving the block closes the connection mid-stream
        run = finished(api, run_id)
        assert run["status"] == "cancelled" and run["error"]["code"] == "CANCELLED"
    finally:
        stall.released.set()


def test_errors_come_in_openai_shape_with_their_status(stack, api, llm, site) -> None:
    from shared.orgs import bootstrap_org

    base = stack.function_url("ChatCompletionsFunctionUrl") + "/v1"
    msgs = [{"role": "user", "content": f"List the pricing tiers on {site}/"}]

    bad = openai.OpenAI(api_key="oh_test_nope", base_url=base, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e401:
        bad.chat.completions.create(model="openhelm-browser", messages=msgs)
    assert e401.value.status_code == 401 and e401.value.code == "invalid_api_key"

    chat = chat_client(stack, api)
    with pytest.raises(openai.NotFoundError) as e404:
        chat.chat.completions.create(model="gpt-9", messages=msgs)
    assert e404.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e400:
        chat.chat.completions.create(model="openhelm-browser", messages=[{"role": "system", "content": "hi"}])
    assert e400.value.param == "messages"

    _, broke = bootstrap_org(f"e2e-broke-{time.monotonic_ns()}", start_balance_micros=0)
    poor = openai.OpenAI(api_key=broke, base_url=base, max_retries=0)
    with pytest.raises(openai.APIStatusError) as e402:
        poor.chat.completions.create(model="openhelm-browser", messages=msgs)
    assert e402.value.status_code == 402 and e402.value.code == "insufficient_balance"

    _, slow = bootstrap_org(f"e2e-slow-{time.monotonic_ns()}", limits=OrgLimits(rate_per_minute=1, rate_burst=1))
    llm.reset(DONE)
    limited = openai.OpenAI(api_key=slow, base_url=base, max_retries=0)
    limited.chat.completions.create(model="openhelm-browser", messages=msgs)
    with pytest.raises(openai.RateLimitError) as e429:
        limited.chat.completions.create(model="openhelm-browser", messages=msgs)
    assert e429.value.code == "rate_limited" and int(e429.value.response.headers["retry-after"]) > 0
    assert e429.value.body["type"] == "rate_limit_error"


def test_failed_run_is_an_error_the_client_does_not_retry(chat, api, llm, site) -> None:
    bad = ToolCall("done", {"result": {"tiers": "none"}, "confidence": 0.5, "summary": "?"})
    llm.reset(bad, bad, bad, bad)
    retrying = chat.with_options(max_retries=2)
    with pytest.raises(openai.InternalServerError) as failed:
        retrying.chat.completions.create(
            model="openhelm-browser",
            messages=[{"role": "user", "content": f"List the pricing tiers on {site}/pricing.html"}],
            response_format=FORMAT,
        )
    assert failed.value.code == "schema_unsatisfied"
    assert failed.value.response.headers["x-should-retry"] == "false"
    runs = api("GET", "/v1/runs").json()["data"]
    assert len(runs) == 1  # the client did not start a second (billed) run


def test_stream_of_a_failed_run_ends_in_an_error_event(chat, llm, site) -> None:
    bad = ToolCall("done", {"result": {"tiers": "none"}, "confidence": 0.5, "summary": "?"})
    llm.reset(bad, bad, bad, bad)
    stream = chat.chat.completions.create(
        model="openhelm-browser",
        messages=[{"role": "user", "content": f"List the pricing tiers on {site}/pricing.html"}],
        response_format=FORMAT,
        stream=True,
    )
    with pytest.raises(openai.APIError) as failed:
        for _ in stream:
            pass
    assert "SCHEMA_UNSATISFIED" in failed.value.message
