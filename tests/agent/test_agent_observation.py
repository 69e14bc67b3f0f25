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
    # Rows of plain cells are one line each under `table:`, cells separated by tabs: `Seats⇥1⇥10⇥∞`.
    cells = [c for row in re.findall(r"(?m)^\s*(.*\t.*)$", obs.snapshot.text) for c in row.split("\t")]
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

    match = re.search(r"button Go \[(\d+)\]", obs.snapshot.text)
    assert match, obs.snapshot.text
    assert re.fullmatch(r"f\d+e\d+", obs.refs[match.group(1)])  # the short ref stands for a frame's aria ref
    page.get_by_ref(obs.refs[match.group(1)]).click()
    assert obs.refs[obs.refs[match.group(1)]] == obs.refs[match.group(1)]  # a recorded aria ref still resolves
    assert page.frames[-1].locator("button").inner_text() == "ok"


def test_empty_page(page: Any) -> None:
    obs = observe(page)
    assert obs.url == "about:blank"
    assert "URL: about:blank" in obs.render()


def test_refs_only_on_what_an_action_can_target(page: Any) -> None:
    page.set_content(
        "<main><h1>Shop</h1><p>Intro text.</p>"
        "<table><tr><th>Plan</th><th>SSO</th></tr><tr><td>Team</td><td>✓</td></tr><tr><td>Free</td><td>—</td></tr></table>"
        "<ul><li><a href='/a'>Alpha</a></li></ul><button>Buy</button><input aria-label='Email'>"
        "<div style='cursor:pointer' onclick='1'>Clickable card <span>inside</span></div></main>"
    )

    text = observe(page).snapshot.text

    ref_lines = [line.strip() for line in text.splitlines() if re.search(r" \[\d+\]", line)]
    assert [re.sub(r" \[\d+\]", "", line) for line in ref_lines] == [
        "link Alpha",
        "button Buy",
        "textbox Email",
        "generic: Clickable card inside",  # a pointer cursor and a click handler: it has a ref
    ], text
    assert text.startswith("main:\nh1 Shop\n")  # the one landmark is a section header: no indent under it
    assert "table:\n  Plan\tSSO\n  Team\t✓\n  Free\t—\n" in text  # rows by where they are
    assert "/url:" not in text and "cursor=pointer" not in text
    assert "Intro text." in text and "Clickable card" in text and "inside" in text


def test_code_blocks_keep_their_line_breaks_and_nothing_visible_is_lost(page: Any) -> None:
    options = "".join(f"<option>Choice {i}</option>" for i in range(1, 13))
    page.set_content(
        "<pre><code>def f(x):\n    return x + 1\n\nprint(f(1))</code></pre>"
        f"<label>Pick <select>{options}</select></label>"
        "<div style='height:5000px'></div><p>Far below the fold: the answer is 42.</p>"
        "<iframe srcdoc='<p>In the frame</p><button>Frame button</button>'></iframe><x-card></x-card>"
        "<script>customElements.define('x-card', class extends HTMLElement { connectedCallback() {"
        " this.attachShadow({mode: 'open'}).innerHTML = '<p>In the shadow</p><button>Shadow button</button>';"
        " } })</script>"
    )
    page.frames[-1].wait_for_load_state()

    text = observe(page).snapshot.text

    assert "code: |\n    def f(x):\n        return x + 1\n\n    print(f(1))\n" in text
    assert "Choice 12" in text and "Choice 5" in text  # every option, not the first four
    assert "Far below the fold: the answer is 42." in text
    assert re.search(r"button Frame button \[\d+\]", text) and "In the frame" in text
    assert re.search(r"button Shadow button \[\d+\]", text) and "In the shadow" in text
