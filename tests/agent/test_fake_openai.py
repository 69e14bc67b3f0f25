"""The scripted OpenAI-compatible server itself, driven by the official openai client."""

from __future__ import annotations

import json

import openai
import pytest

from devstack.testing.fake_openai import FakeOpenAI, HttpError, Text, ToolCall, ToolCalls, find_ref


def client(llm: FakeOpenAI, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.base_url, api_key="tok", max_retries=retries)


def test_scripted_replies_usage_and_recording() -> None:
    observation = "- row: Pricing | 1\n- link Pricing [7]\n- button Buy [9]"
    script = [
        ToolCall("navigate", {"url": "http://127.0.0.1/"}, usage={"prompt_tokens": 5, "completion_tokens": 2}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        ToolCalls((ToolCall("wait", {"seconds": 1}), ToolCall("go_back"))),
        Text("hello"),
    ]
    with FakeOpenAI(script) as llm:
        c = client(llm)
        msgs = [{"role": "user", "content": observation}]
        first = c.chat.completions.create(model="m", messages=msgs)
        second = c.chat.completions.create(model="m", messages=msgs)
        third = c.chat.completions.create(model="m", messages=msgs)
        fourth = c.chat.completions.create(model="m", messages=msgs)
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="m", messages=msgs)  # script exhausted
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("navigate", {"url": "http://127.0.0.1/"})
    assert first.usage.prompt_tokens == 5 and second.usage.prompt_tokens == 100
    assert json.loads(second.choices[0].message.tool_calls[0].function.arguments) == {"ref": "7"}
    assert [t.function.name for t in third.choices[0].message.tool_calls] == ["wait", "go_back"]
    assert fourth.choices[0].message.content == "hello" and fourth.choices[0].message.tool_calls is None
    assert len(llm.requests) == 5 and llm.requests[0].authorization == "Bearer tok"
    assert llm.requests[0].body["messages"] == msgs


def test_http_errors_and_retry_after() -> None:
    script = [HttpError(429, retry_after=0.01), HttpError(402, code="budget_exceeded")]
    with FakeOpenAI(script) as llm, pytest.raises(openai.APIStatusError) as info:
        client(llm, retries=1).chat.completions.create(model="m", messages=[])
    assert info.value.status_code == 402 and info.value.code == "budget_exceeded"
    assert len(llm.chat_requests) == 2


def test_find_ref_reads_playwright_refs_too() -> None:
    body = {"messages": [{"role": "user", "content": '- link "Pricing" [ref=f2e7]'}]}
    assert find_ref(body, r'link "Pricing"') == "f2e7"


def test_find_ref_raises_when_absent() -> None:
    with pytest.raises(LookupError):
        find_ref({"messages": [{"role": "user", "content": '- button "A" [ref=e1]'}]}, r'link "B"')


def test_find_ref_reads_each_link_of_a_links_line() -> None:
    body = {"messages": [{"role": "user", "content": "URL: http://x/\nTitle: Shop\nlinks: Shoes, bags [3], Hats [4]"}]}
    assert find_ref(body, r"link Shoes, bags") == "3"  # a comma in a name: each item ends with its ref
    assert find_ref(body, r"link Hats") == "4"
