"""Observations of real pages: the cap on a long page, frame refs, and what the model reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from openhelm_agent.observation import observe


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def test_long_page_is_capped_but_keeps_short_cells(site: str, page: Any) -> None:
    page.goto(f"{site}/long.html")

    obs = observe(page, max_chars=8_000)

    assert obs.snapshot.original_chars > 40_000
    assert len(obs.snapshot.text) <= 8_000
    cells = re.findall(r'- cell "([^"]*)"', obs.snapshot.text)
    for short in ("1", "10", "∞", "—", "✓", "24h", "1h", "12"):
        assert short in cells, short
    assert cells.count("—") == 4 and cells.count("✓") == 3
    rendered = obs.render("[header]")
    assert rendered.startswith(f"[header]\nURL: {site}/long.html\nTitle: Acme Cloud — Plan comparison\n")
    assert "long texts shortened" in rendered


def test_frame_refs_resolve(page: Any) -> None:
    page.set_content("<h1>Outer</h1><iframe srcdoc=\"<button onclick=&quot;this.textContent='ok'&quot;>Go</button>\">")
    page.frames[-1].wait_for_load_state()

    obs = observe(page)

    match = re.search(r'button "Go" \[ref=(f\d+e\d+)\]', obs.snapshot.text)
    assert match, obs.snapshot.text
    assert match.group(1) in obs.refs
    page.get_by_ref(match.group(1)).click()
    assert page.frames[-1].locator("button").inner_text() == "ok"


def test_empty_page(page: Any) -> None:
    obs = observe(page)
    assert obs.url == "about:blank"
    assert "URL: about:blank" in obs.render()
