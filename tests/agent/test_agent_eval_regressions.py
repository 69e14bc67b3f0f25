"""The real 1.5B model's failures in the eval (evals/results/2026-12-02-after-*), scripted the way it
misbehaved: reopening the page it is on, clicking one button or repeating one extract until the steps
run out, reading "no text matching" as "not found", answering null and then making a value up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack.testing.fake_openai import ToolCall, ToolCalls, find_ref, last_user_text
from tests.agent.harness import FakeControlPlane, make_spec, read_jsonl, run

YEAR_SCHEMA = {"type": "object", "properties": {"year": {"type": "number"}}, "required": ["year"]}
PRICE_SCHEMA = {"type": "object", "properties": {"price_eur": {"type": "number"}}, "required": ["price_eur"]}


def _sent(plane: FakeControlPlane, index: int) -> str:
    """Everything the agent sent the model in its ``index``-th request."""
    return json.dumps(plane.llm.chat_requests[index].body["messages"], ensure_ascii=False)


def test_a_ref_works_after_the_model_reopens_the_page_it_is_on(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    page = f"{site}/search.html"
    plane.llm.add(
        ToolCall("navigate", {"url": page}),
        ToolCall("navigate", {"url": page}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"searchbox")}),
        ToolCall("navigate", {"url": page}),
        ToolCall("click", {"ref": "1"}),  # the first snapshot's number, two documents ago
        ToolCall("done", {"result": {"year": 2019}, "confidence": 0.9, "summary": "x"}),
    )

    result = run(make_spec(site, start_url=page, output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    assert result.status == "succeeded", result
    clicks = [s for s in read_jsonl(tmp_path / "steps.jsonl") if s["action"] == "click"]
    assert clicks[0]["error"] is None
    # A number of an older document is refused in words, not sent to Playwright for a 10 s timeout
    assert "not in the latest snapshot" in clicks[1]["error"]
    # ... and says what the page has now (the real model clicked a sign-in button's number three more
    # times after signing in: login-balance)
    assert "It has: " in clicks[1]["error"] and "searchbox" in clicks[1]["error"]


def test_the_same_click_on_an_unchanged_page_is_called_out(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    click = lambda body: ToolCall("click", {"ref": find_ref(body, r"button Get quote")})  # noqa: E731
    plane.llm.add(
        click,
        click,
        click,
        ToolCall("done", {"result": {"price_eur": 9.1}, "confidence": 0.9, "summary": "x"}),
    )

    run(make_spec(site, start_url=f"{site}/quote.html", output_schema=PRICE_SCHEMA), tmp_path, url, browser)

    # the first click shows a quote (the page changed): nothing to say; the same click again changes nothing
    assert "did exactly this" not in _sent(plane, 2)
    told = _sent(plane, 3)
    assert "did exactly this in your previous step and the page did not change" in told
    assert "select" in told  # what would work instead: the fields the form needs


def test_a_repeated_extract_is_called_out(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        ToolCall("extract", {"query": "Get quote", "part": 1}),
        ToolCall("extract", {"query": "Get quote", "part": 1}),
        ToolCall("done", {"result": {"price_eur": 9.1}, "confidence": 0.9, "summary": "x"}),
    )

    run(make_spec(site, start_url=f"{site}/quote.html", output_schema=PRICE_SCHEMA), tmp_path, url, browser)

    # the real model repeated one extract eight times with the answer in its text (iframe-wind)
    assert "asked for exactly this" not in _sent(plane, 1)
    told = _sent(plane, 2)
    assert "asked for exactly this in your previous step" in told and "call done with it now" in told


def test_a_ref_no_snapshot_showed_is_not_called_a_page_change(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    # The real model clicked "14", a table's row number, twice and was told "the page changed" (table-lagos)
    plane, url = control
    plane.llm.add(
        ToolCall("click", {"ref": "914"}),
        ToolCall("done", {"result": {"year": 2019}, "confidence": 0.9, "summary": "x"}),
    )

    run(make_spec(site, start_url=f"{site}/search.html", output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    click = next(s for s in read_jsonl(tmp_path / "steps.jsonl") if s["action"] == "click")
    assert click["error"].startswith("no element has ref '914'")
    told = _sent(plane, 1)
    assert "page changed" not in told and "table cells have none" in told


def test_an_extract_without_a_match_points_to_other_pages_not_to_not_found(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        ToolCall("extract", {"query": "request_timeout", "part": 1}),
        ToolCall("done", {"result": {"year": 1}, "confidence": 0.1, "summary": "x"}),
    )

    run(make_spec(site, start_url=f"{site}/search.html", output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    result = plane.llm.chat_requests[1].body["messages"]
    told = next(m["content"] for m in reversed(result) if "request_timeout" in str(m.get("content")))
    assert "no text matching 'request_timeout' on this page" in told
    assert "another page" in told and "link" in told


def test_a_null_answer_is_sent_back_to_browse_not_to_guess(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    page = f"{site}/search.html"
    plane.llm.add(
        ToolCall("done", {"result": {"year": None}, "confidence": 0.0, "summary": "could not search"}),
        lambda body: ToolCall("type", {"ref": find_ref(body, r"searchbox"), "text": "Gull Island"}),
        ToolCall("done", {"result": {"year": 2019}, "confidence": 0.9, "summary": "x"}),
    )

    result = run(make_spec(site, start_url=page, output_schema=YEAR_SCHEMA, max_steps=5), tmp_path, url, browser)

    assert result.status == "succeeded" and result.schema_repairs == 1
    told = _sent(plane, 1)
    assert "expected number, got null" in told
    assert "Do not make one up" in told and "5 action(s) left" in told
    assert "searchbox" in last_user_text(plane.llm.chat_requests[1].body)


def test_the_prompt_says_to_wait_for_a_loading_page_and_to_fill_a_form_first(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(ToolCall("done", {"result": {"year": 1}, "confidence": 0.1, "summary": "x"}))

    run(make_spec(site, start_url=f"{site}/search.html", output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    system = plane.llm.chat_requests[0].body["messages"][0]["content"]
    assert "Loading" in system and "wait(2)" in system
    assert "before you submit" in system


def test_reopening_the_page_the_run_just_opened_keeps_its_snapshot_and_the_reply_goes_on(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    # The real model's first reply was nearly always [navigate to the URL the run had already opened,
    # click a ref of the snapshot it read] (search-year, js-tide, iframe-wind, form-quote): a reload
    # spent a step and made the click's ref stale. The page is not reloaded and the click goes on.
    plane, url = control
    page = f"{site}/search.html"
    plane.llm.add(
        lambda body: ToolCalls(
            (ToolCall("navigate", {"url": page.rstrip("/")}), ToolCall("click", {"ref": find_ref(body, r"searchbox")}))
        ),
        ToolCall("done", {"result": {"year": 2019}, "confidence": 0.9, "summary": "x"}),
    )

    result = run(make_spec(site, start_url=page, output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    assert result.status == "succeeded", result
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [(s["action"], s["error"]) for s in steps] == [("navigate", None), ("click", None), ("done", None)]
    told = _sent(plane, 1)
    assert "is already open and the snapshot is current" in told
    assert "Not executed" not in told


def test_a_click_after_reloading_the_page_in_one_reply_waits_for_the_new_snapshot(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    # Once something was done on the page, a navigate to it reloads it: the document is replaced, so a
    # ref of the old snapshot in the same reply is stale (Playwright timed out "could not be used within
    # 10s" or said "Invalid frame in aria-ref"): the rest of the reply waits for the new snapshot.
    plane, url = control
    page = f"{site}/search.html"
    plane.llm.add(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"searchbox")}),
        lambda body: ToolCalls(
            (ToolCall("navigate", {"url": page}), ToolCall("click", {"ref": find_ref(body, r"searchbox")}))
        ),
        lambda body: ToolCall("type", {"ref": find_ref(body, r"searchbox"), "text": "Gull Island"}),
        ToolCall("done", {"result": {"year": 2019}, "confidence": 0.9, "summary": "x"}),
    )

    result = run(make_spec(site, start_url=page, output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    assert result.status == "succeeded", result
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [(s["action"], s["error"]) for s in steps] == [
        ("navigate", None),
        ("click", None),
        ("navigate", None),
        ("type", None),
        ("done", None),
    ]
    assert "Not executed: the page changed" in _sent(plane, 2)


def test_an_extract_worded_otherwise_than_a_short_page_gets_the_page_whole(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    # The real model asked for "tide height" where the table said "Height (m)" / "12:00 3.61", was sent
    # to other pages and made a value up (js-tide): a page that fits the budget comes back whole.
    plane, url = control
    plane.llm.add(
        ToolCall("extract", {"query": "publication year of the book", "part": 1}),
        ToolCall("done", {"result": {"year": 1}, "confidence": 0.1, "summary": "x"}),
    )

    run(make_spec(site, start_url=f"{site}/search.html", output_schema=YEAR_SCHEMA), tmp_path, url, browser)

    messages = plane.llm.chat_requests[1].body["messages"]
    told = next(m["content"] for m in reversed(messages) if "publication year" in str(m.get("content")))
    assert "here it is whole" in told
    assert "searchbox" in told  # the page's own text follows, not only advice
