"""Open models behind servers without a tool parser, scripted the way the real 1.5B model misbehaved:
tool calls as JSON in the content, done.result as a JSON string, no navigation to the URL in the
prompt, typing into a ref that is not an input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import Text, ToolCall, find_ref, last_user_text
from tests.agent.harness import PLANS_SCHEMA, VALID_PLANS, FakeControlPlane, make_spec, read_jsonl, run

DONE_ARGS = {"result": VALID_PLANS, "confidence": 0.9, "summary": "Read the pricing table."}


def _qwen(name: str, args: dict[str, Any]) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(args)}}}\n</tool_call>'


def _fenced(name: str, args: dict[str, Any]) -> str:
    return f'I will do that.\n```json\n{{"name": "{name}", "arguments": {json.dumps(args)}}}\n```'


def _bare(name: str, args: dict[str, Any]) -> str:
    return json.dumps({"name": name, "arguments": args})


@pytest.mark.parametrize("form", [_qwen, _fenced, _bare], ids=["tool_call_tags", "fenced_json", "bare_json"])
def test_tool_calls_written_in_the_content_are_executed(
    form: Any, site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        lambda body: Text(form("click", {"ref": find_ref(body, r"link Pricing")})),
        Text(form("done", DONE_ARGS)),
    )

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded", result
    assert result.result == VALID_PLANS
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "click", "done"]
    assert steps[1]["url"] == f"{site}/pricing.html"
    # The server knows no tool calls: the assistant turn goes back as written, the result as a
    # user message naming the tool (no orphan `tool` message a template would reject).
    messages = plane.llm.chat_requests[1].body["messages"]
    assert not any(m["role"] == "tool" for m in messages)
    assistant = next(m for m in messages if m["role"] == "assistant")
    assert "tool_calls" not in assistant and '"click"' in assistant["content"]
    assert any(m["role"] == "user" and m["content"].startswith("Result of click: clicked") for m in messages)


def test_json_in_the_content_that_names_no_tool_is_not_a_call(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(Text('The page says {"name": "Free", "price": 0}.'), ToolCall("done", DONE_ARGS))

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    nudge = plane.llm.chat_requests[1].body["messages"][-1]
    assert nudge["role"] == "user" and "tool call" in nudge["content"]


def test_a_result_given_as_a_json_string_of_a_valid_value_is_accepted(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(ToolCall("done", {**DONE_ARGS, "result": json.dumps(VALID_PLANS)}))

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded", result
    assert result.result == VALID_PLANS
    assert result.schema_repairs == 0
    assert read_jsonl(tmp_path / "steps.jsonl")[-1]["args"]["result"] == VALID_PLANS


def test_the_repair_message_says_where_and_what_type(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    bad = {"plans": [{"name": "Free", "price": "0", "sso": "no"}]}
    plane.llm.add(
        ToolCall("done", {**DONE_ARGS, "result": json.dumps(bad)}),  # a string of an invalid object
        ToolCall("done", {**DONE_ARGS, "result": {"plans": [{"name": "Free", "price": 0}]}}),
        ToolCall("done", DONE_ARGS),
    )

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    assert result.schema_repairs == 2
    first = plane.llm.chat_requests[1].body["messages"][-1]["content"]
    assert "result is a string holding JSON: give the JSON value itself" in first
    assert 'at $.plans[0].price: expected number, got string "0"' in first
    assert 'at $.plans[0].sso: expected boolean, got string "no"' in first
    second = plane.llm.chat_requests[2].body["messages"][-1]["content"]
    assert "at $.plans[0]: missing required property 'sso'" in second


def test_a_url_named_in_the_prompt_is_opened_before_the_first_step(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(ToolCall("done", DONE_ARGS))
    prompt = f"Open {site}/pricing.html. List every plan with its monthly price and whether it has SSO."

    result = run(make_spec(site, start_url=None, prompt=prompt), tmp_path, url, browser)

    assert result.status == "succeeded"
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "done"]
    assert steps[0]["args"] == {"url": f"{site}/pricing.html"}  # the full stop is not part of it
    first = plane.llm.chat_requests[0].body
    assert "\t✓" in last_user_text(first)  # the model saw the page before answering
    assert f"Start page: {site}/pricing.html (already open)" in first["messages"][1]["content"]


def test_action_errors_say_what_the_ref_is_and_what_would_work(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        lambda body: ToolCall("type", {"ref": find_ref(body, r"link Home"), "text": "a@b.example"}),
        lambda body: ToolCall("select", {"ref": find_ref(body, r"textbox Work email"), "value": "11+"}),
        lambda body: ToolCall("select", {"ref": find_ref(body, r"combobox Team size"), "value": "huge"}),
        ToolCall("done", DONE_ARGS),
    )

    result = run(make_spec(site, start_url=f"{site}/contact.html"), tmp_path, url, browser, action_timeout_s=1.0)

    assert result.status == "succeeded"
    chats = plane.llm.chat_requests
    tools = [m["content"] for m in chats[3].body["messages"] if m["role"] == "tool"]
    email = find_ref(chats[0].body, r"textbox Work email")
    size = find_ref(chats[0].body, r"combobox Team size")
    home = find_ref(chats[0].body, r"link Home")
    assert (
        tools[0]
        == f'Error: ref {home} is a link "Home", not a text input; text inputs on this page: {email} (Work email).'
    )
    assert tools[1].startswith(
        f'Error: ref {email} is a textbox "Work email", not a drop-down; drop-downs on this page: {size} (Team size)'
    )
    assert tools[2].startswith(
        f"Error: ref {size} (combobox \"Team size\") has no option 'huge'; its options: '1-10', '11+'"
    )
    assert not any("Call log" in t or "locator" in t for t in tools)


def test_constrained_output_sends_a_schema_instead_of_tools(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(Text(json.dumps({"name": "done", "arguments": DONE_ARGS})))

    result = run(make_spec(site), tmp_path, url, browser, constrained_output=True)

    assert result.status == "succeeded", result
    body = plane.llm.chat_requests[0].body
    assert "tools" not in body and "tool_choice" not in body
    schema = body["response_format"]["json_schema"]["schema"]
    variants = {v["properties"]["name"]["const"]: v["properties"]["arguments"] for v in schema["anyOf"]}
    assert set(variants) == {"navigate", "click", "type", "select", "scroll", "go_back", "wait", "extract", "done"}
    assert variants["done"]["properties"]["result"] == PLANS_SCHEMA
    assert '{"name": <tool>, "arguments"' in body["messages"][0]["content"]


def test_without_the_option_no_response_format_is_sent(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(ToolCall("done", DONE_ARGS))

    assert run(make_spec(site), tmp_path, url, browser).status == "succeeded"
    body = plane.llm.chat_requests[0].body
    assert "response_format" not in body and body["tool_choice"] == "auto"
