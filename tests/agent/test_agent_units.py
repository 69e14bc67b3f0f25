"""Pure parts of the agent: spec validation, tool definitions, conversation bounds, schema errors."""

from __future__ import annotations

from typing import Any

import pytest
from openhelm_agent.compact import RefMap, compact, unmark
from openhelm_agent.content_calls import calls_from_content
from openhelm_agent.conversation import Conversation
from openhelm_agent.prompt import build_system_prompt, url_in_prompt
from openhelm_agent.spec import SpecError, parse_spec
from openhelm_agent.tools import ToolArgsError, parse_args, tool_specs, wrong_kind
from openhelm_agent.validation import schema_errors

BASE: dict[str, Any] = {"run_id": "run_1", "prompt": "Find the price.", "model": "gpt-test"}


def test_minimal_spec_gets_defaults() -> None:
    spec = parse_spec({**BASE, "extra_field_from_control_plane": 1})
    assert (spec.max_steps, spec.max_duration_s, spec.output_schema, spec.replay) == (25, 300, None, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": ""}, "prompt"),
        ({"start_url": "file:///etc/passwd"}, "start_url must be an http(s) URL"),
        ({"output_schema": {"type": "nonsense"}}, "output_schema is not a valid JSON Schema"),
        ({"allowed_domains": ["exa*mple.com"]}, "is not a domain pattern"),
        ({"max_duration_s": 0}, "max_duration_s"),
        ({"replay": {"steps": [{"action": "click", "args": {"ref": "e1"}}]}}, "must end with a 'done' step"),
        ({"replay": {"steps": [{"action": "fly", "args": {}}]}}, "replay.steps.0.action"),
    ],
)
def test_bad_specs_say_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match="invalid run spec") as info:
        parse_spec({**BASE, **change})
    assert message in str(info.value)


def test_domains_are_normalised() -> None:
    spec = parse_spec({**BASE, "allowed_domains": ["https://Example.com/x", "*.Docs.example.org"]})
    assert spec.allowed_domains == ["example.com", "*.docs.example.org"]


def test_tool_definitions_carry_field_descriptions() -> None:
    specs = {t["function"]["name"]: t["function"] for t in tool_specs()}
    assert list(specs) == ["navigate", "click", "type", "select", "scroll", "go_back", "wait", "extract", "done"]
    typed = specs["type"]["parameters"]
    assert typed["required"] == ["ref", "text"]
    assert "LATEST snapshot" in typed["properties"]["ref"]["description"]
    assert typed["properties"]["submit"]["default"] is False
    assert specs["done"]["parameters"]["properties"]["confidence"]["maximum"] == 1
    assert "title" not in str(specs)  # titles are noise for the model


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("click", "{not json", "not valid JSON"),
        ("click", "{}", "ref: Field required"),
        ("wait", {"seconds": 99}, "less than or equal to 30"),
        ("scroll", {"direction": "down", "speed": 3}, "speed: Extra inputs are not permitted"),
        ("done", {"result": 1, "confidence": 2, "summary": ""}, "confidence"),
        ("fly", {}, "unknown tool"),
    ],
)
def test_bad_tool_arguments(name: str, arguments: Any, error: str) -> None:
    with pytest.raises(ToolArgsError, match=error):
        parse_args(name, arguments)


def test_schema_errors_are_readable_and_bounded() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}}}
    errors = schema_errors(schema, {"items": ["a"] * 20})
    assert errors[0] == 'at $.items[0]: expected integer, got string "a"'
    assert len(errors) == 10
    assert schema_errors(None, {"anything": True}) == []
    assert schema_errors(schema, {"items": [1, 2]}) == []


def test_system_prompt_has_schema_limits_and_domains() -> None:
    spec = parse_spec(
        {**BASE, "output_schema": {"type": "object"}, "max_steps": 7, "blocked_domains": ["ads.example.com"]}
    )
    prompt = build_system_prompt(spec)
    assert '{"type": "object"}' in prompt
    assert "at most 7 browser actions" in prompt
    assert "Blocked domains: ads.example.com" in prompt


def _turn(conversation: Conversation, n: int) -> None:
    call = {"id": f"c{n}", "type": "function", "function": {"name": "wait", "arguments": "{}"}}
    conversation.start_turn({"role": "assistant", "content": None, "tool_calls": [call]})
    conversation.add_tool_result(f"c{n}", f"waited {n}", f"wait #{n}")
    conversation.set_observation(f"full observation {n} [ref=e{n}]", f"brief {n}")


def test_conversation_keeps_only_the_latest_observation_and_recent_turns() -> None:
    conversation = Conversation("system", "task", keep_turns=3)
    conversation.set_observation("full observation 0 [ref=e0]", "brief 0")
    for n in range(1, 7):
        _turn(conversation, n)
    messages = conversation.messages()
    contents = [m.get("content") or "" for m in messages]
    assert contents[:2] == ["system", "task"]
    assert sum("full observation" in c for c in contents) == 1 and "full observation 6" in contents[-1]
    assert "Earlier actions" in contents[2] and "wait #3" in contents[2] and "wait #4" not in contents[2]
    # Every tool message still follows the assistant message that asked for it.
    pending: set[str] = set()
    for message in messages:
        if message["role"] == "assistant":
            assert not pending
            pending = {c["id"] for c in message.get("tool_calls", [])}
        elif message["role"] == "tool":
            pending.remove(message["tool_call_id"])


def test_conversation_never_drops_the_current_observation() -> None:
    conversation = Conversation("system", "task", keep_turns=2)
    conversation.set_observation("full observation 0 [ref=e0]", "brief 0")
    for n in range(4):  # replies without tool calls: no new observation
        conversation.start_turn({"role": "assistant", "content": f"thinking {n}"})
        conversation.add_user("call a tool")
    contents = [m.get("content") or "" for m in conversation.messages()]
    assert "full observation 0 [ref=e0]" in contents


TOOLS_KNOWN = ["click", "type", "done"]


@pytest.mark.parametrize(
    ("content", "calls"),
    [
        ('<tool_call>\n{"name": "click", "arguments": {"ref": "e3"}}\n</tool_call>', [("click", '{"ref": "e3"}')]),
        ('<tool_call>{"name": "click", "arguments": {"ref": "e3"}}', [("click", '{"ref": "e3"}')]),  # unclosed
        (
            'Sure.\n```json\n{"name": "type", "parameters": {"ref": "e1", "text": "x"}}\n```',
            [("type", '{"ref": "e1", "text": "x"}')],
        ),
        ('{"name": "click", "arguments": "{\\"ref\\": \\"e9\\"}"}', [("click", '{"ref": "e9"}')]),  # double-encoded
        (
            '[{"name": "click", "arguments": {"ref": "e1"}}, {"name": "done", "arguments": {}}]',
            [("click", '{"ref": "e1"}'), ("done", "{}")],
        ),
        (
            '{"type": "function", "function": {"name": "click", "arguments": {"ref": "e2"}}}',
            [("click", '{"ref": "e2"}')],
        ),
        ('The table: {"name": "Free", "price": 0}', []),  # JSON from the page, no known tool
        ('{"name": "teleport", "arguments": {}}', []),
        ("I will click the Pricing link.", []),
        ("", []),
    ],
)
def test_tool_calls_in_content(content: str, calls: list[tuple[str, str]]) -> None:
    assert calls_from_content(content, TOOLS_KNOWN) == calls


@pytest.mark.parametrize(
    ("prompt", "url"),
    [
        ("Go to https://example.com/pricing. What does Pro cost?", "https://example.com/pricing"),
        ("Open (http://127.0.0.1:8000/a?b=1), then report.", "http://127.0.0.1:8000/a?b=1"),
        ('Visit "https://x.example/y"!', "https://x.example/y"),
        ("Find the cheapest flight to Paris.", None),
        ("Use https:// only", None),
    ],
)
def test_url_in_prompt(prompt: str, url: str | None) -> None:
    assert url_in_prompt(prompt) == url


def test_compact_snapshot_keeps_text_and_actionable_refs_only() -> None:
    raw = "\n".join(
        [
            "- generic [active] [ref=e1]:",
            "  - list [ref=e2]:",
            "    - listitem [ref=e3]:",
            "      - 'link \"Step 1: install\" [ref=e4] [cursor=pointer]':",
            "        - /url: /docs/install",
            '  - paragraph [ref=e5]: "Note: it\'s free"',
            "  - row [ref=e6]:",
            '    - cell "A" [ref=e7]',
            '    - cell "1" [ref=e8]',
            '  - textbox "Email" [ref=e9]:',
            "    - /placeholder: you@example.com",
            "  - weird line the parser does not know",
        ]
    )
    compacted = compact(raw)
    assert compacted.text == "\n".join(
        [
            "- link Step 1: install [1]",
            "- Note: it's free",
            "- row: A\t1",
            "- textbox Email [2] [placeholder=you@example.com]",
            "- weird line the parser does not know",
        ]
    )
    assert compacted.refs == {"1": "e4", "2": "e9"}  # what an action resolves the short ref to
    assert compacted.elements == {"1": ("link", "Step 1: install"), "2": ("textbox", "Email")}


def test_compact_drops_label_text_repeating_a_control_and_quotes_only_where_needed() -> None:
    raw = "\n".join(
        [
            "- text: Full name",
            '- textbox "Full name" [ref=e1]',
            '- radio "Free" [checked] [ref=e2]',
            "- text: Free",
            "- text: Free plan details",  # not the name of a neighbour: kept
            '- link "Contact:" [ref=e3]',  # a colon at the end would read as "has children"
            '- button "[x] Close" [ref=e4]',
            '- button "42" [ref=e5]',  # a bare number would read as a ref
            '- heading "Plain title" [level=2]',
        ]
    )
    assert compact(raw).text == "\n".join(
        [
            "- textbox Full name [1]",
            "- radio Free [checked] [2]",
            "- Free plan details",
            '- link "Contact:" [3]',
            '- button "[x] Close" [4]',
            '- button "42" [5]',
            "- h2 Plain title",
        ]
    )


def test_short_refs_keep_their_element_across_observations() -> None:
    refs = RefMap()
    first = compact('- link "A" [ref=e1]\n- link "B" [ref=e2]', refs=refs)
    second = compact('- link "C" [ref=e3]\n- link "B" [ref=e2]', refs=refs)
    assert first.refs == {"1": "e1", "2": "e2"}
    assert second.refs == {"3": "e3", "2": "e2"}  # B is still 2; 1 (A) is gone, not reused
    assert second.text == "- links: C [3], B [2]"  # a run of plain links is one line
    assert unmark(second.text) == "links: C [3], B [2]"


@pytest.mark.parametrize("given", ["12", 12, "[12]", " [12] ", "ref=12"])
def test_a_ref_may_come_as_the_snapshot_shows_it(given: object) -> None:
    assert parse_args("click", {"ref": given}).ref == "12"  # type: ignore[attr-defined]


def test_wrong_kind_names_what_would_work() -> None:
    elements = {"e1": ("link", "Home"), "e2": ("textbox", "Email"), "e3": ("combobox", "Size"), "e4": ("button", "Go")}
    assert wrong_kind("type", "e2", elements) == ""  # a text input: no complaint
    assert wrong_kind("click", "e1", elements) == ""
    assert wrong_kind("type", "e4", elements) == (
        'ref e4 is a button "Go", not a text input; text inputs on this page: e2 (Email)'
    )
    assert wrong_kind("type", "e3", elements, force=True) == (
        "ref e3 is a combobox \"Size\", not a text input; to choose one of its options use select(ref='e3', "
        "value=...); text inputs on this page: e2 (Email)"
    )
    assert wrong_kind("select", "e1", {"e1": ("link", "Home")}) == (
        'ref e1 is a link "Home", not a drop-down; there is no drop-down on this page'
    )


def test_fewer_lines_for_link_runs_cards_and_table_rows_with_every_text_kept() -> None:
    raw = "\n".join(
        [
            "- navigation [ref=e1]:",
            "  - list [ref=e2]:",
            "    - listitem [ref=e3]:",
            '      - link "Home" [ref=e4] [cursor=pointer]:',
            "        - /url: /",
            "    - listitem [ref=e5]:",
            '      - link "Docs" [ref=e6] [cursor=pointer]:',
            "        - /url: /docs",
            "- link [ref=e7] [cursor=pointer]:",
            "  - /url: /p/1",
            '  - img "Product 1 photo" [ref=e8]',
            '  - heading "Widget Model 1" [level=3] [ref=e9]',
            "- table [ref=e10]:",
            "  - rowgroup [ref=e11]:",
            '    - row "Seats 1" [ref=e12]:',
            '      - cell "Seats" [ref=e13]',
            '      - cell "1" [ref=e14]',
            '- link "Solo" [ref=e15] [cursor=pointer]:',
            "  - /url: /solo",
        ]
    )
    text = unmark(compact(raw).text)
    assert text == "\n".join(
        [
            "navigation:",
            "  links: Home [1], Docs [2]",
            "link [3]: img Product 1 photo; h3 Widget Model 1",
            "table:",
            "  Seats\t1",  # tab-separated cells
            "link Solo [4]",
        ]
    )


def test_a_links_line_keeps_a_comma_in_a_name_readable() -> None:
    raw = '- link "Shoes, bags" [ref=e1] [cursor=pointer]:\n  - /url: /s\n- link "Hats" [ref=e2]'
    assert unmark(compact(raw).text) == "links: Shoes, bags [1], Hats [2]"


def test_top_level_landmarks_are_section_headers_without_indent() -> None:
    raw = "\n".join(
        [
            "- banner [ref=e1]:",
            "  - navigation [ref=e2]:",
            '    - link "Home" [ref=e3] [cursor=pointer]:',
            "      - /url: /",
            "  - text: Acme",
            "- main [ref=e4]:",
            '  - heading "Orders" [level=1] [ref=e5]',
            "  - table [ref=e6]:",
            "    - row [ref=e7]:",
            '      - cell "1001" [ref=e8]',
            '      - cell "✓" [ref=e9]',
        ]
    )
    assert unmark(compact(raw).text) == "\n".join(
        ["banner:", "navigation:", "  link Home [1]", "Acme", "main:", "h1 Orders", "table:", "  1001\t✓"]
    )
    # A node outside every landmark: where a section ends would be in doubt, so the indent stays.
    mixed = unmark(compact("- main [ref=e1]:\n  - text: Inside\n- text: Outside").text)
    assert mixed == "main:\n  Inside\nOutside"


def test_unmark_leaves_code_blocks_as_the_page_has_them() -> None:
    marked = "- h1 Title\n- code: |\n    - item: 1\n\n    - item: 2\n- Some text\n  - nested"
    assert unmark(marked) == "h1 Title\ncode: |\n    - item: 1\n\n    - item: 2\nSome text\n  nested"
