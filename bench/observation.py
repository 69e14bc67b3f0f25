"""Browser benchmark: Chromium launch, page load, AI snapshot and screenshot times, and the tokens the
model reads per page (the agent's own observation, o200k_base counted offline with bpe-openai) on
the bundled demo pages; then the observation page set (bench/pages: pricing table with
one-character cells, a long article with the key fact at the bottom, a 40-product listing, a sign-up
form, a 60-row table, a docs page with 80 sidebar links and a code block, a JS-rendered page, an
iframe + shadow DOM page): per page the tokens of the observation against Playwright's raw AI
snapshot (what the agent sent before compact.py), the facts kept (regexes over the rendered
observation), refs on actionable elements against refs on the rest, and the ms to observe.

    .venv/bin/python bench/observation.py [--launches 5] [--set-only]

The same page set side by side with browser-use's serializer (tokens, facts, actionable elements, ms;
browser-use installed once into a separate venv under .bench-envs/, never into the project's):

    .venv/bin/python bench/browser_use_compare.py [--version 0.13.14] [--dump DIR]

Runs the agent package in this process (no sandbox): the figures are the browser's own.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import sys
import threading
import time
from typing import Any

from common import ROOT, line, median

sys.path.insert(0, str(ROOT / "sandbox_image" / "agent"))

SITE = ROOT / "devstack" / "demo_site"
PAGE_SET = ROOT / "bench" / "pages"

# Per page: the facts a task may need (regexes over the rendered observation, DOTALL) and how many
# elements an action can target (links, buttons, inputs, selects).
# Between the cells of one row: a few lines of the raw format, one line of the compact one.
_ROW = r"[\s\S]{0,60}?"
FACTS: dict[str, tuple[list[str], int]] = {
    "pricing.html": (
        [
            rf"Seats{_ROW}1{_ROW}3{_ROW}10{_ROW}50{_ROW}∞",
            rf"SSO{_ROW}—{_ROW}—{_ROW}—{_ROW}✓{_ROW}✓",
            rf"Audit log{_ROW}—{_ROW}—{_ROW}✓{_ROW}✓{_ROW}✓",
            rf"Data residency{_ROW}—{_ROW}—{_ROW}—{_ROW}—{_ROW}✓",
            rf"Custom domains{_ROW}—{_ROW}1{_ROW}3{_ROW}10",
            r"\$79",
            r"Contact us",
            r"99\.99%",
            r"© 2026 Acme Cloud",
            r"Choose Enterprise",
        ],
        9,
    ),
    "article.html": (
        [r"Lisbon office has 42 engineers", r"14 March 2027 in Frankfurt", r"Dana Ruiz", r"What comes next"],
        4,
    ),
    "products.html": (
        [r"Widget Model 1\b", r"\$1\.99", r"Widget Model 40", r"\$40\.99", r"★ 4\.9", r"Price: high to low", r"Rating"],
        85,
    ),
    "signup.html": (
        [r"Uruguay", r"Mexico", r"At least 12 characters", r"you@company\.com", r"Already have an account", r"Team"],
        14,
    ),
    "table.html": (
        [rf"1047{_ROW}Zed Q\.{_ROW}B{_ROW}7{_ROW}✓{_ROW}4321\.09", r"1060", r"1001", r"Paid"],
        4,
    ),
    "docs.html": (
        [
            r"Section 80:",
            r"Section 1:",
            r"pip install openhelm",
            r'client = openhelm\.Client\(api_key="oh_live_123"\)\n\s*run = client\.runs\.create\(\n\s+prompt=',
            r"starts with",
        ],
        85,
    ),
    "js.html": ([r"Rendered item 12:\s+84 units", r"Rendered item 1:\s+7 units", r"Total: 546 units"], 12),
    "frames.html": ([r"order #8812 shipped", r"member since 2019", r"Track parcel", r"Edit profile"], 8),
}
_ROLES = "link|button|textbox|searchbox|combobox|checkbox|radio|switch|tab|menuitem|option|slider|spinbutton|listbox"
# With or without the `- ` marker (the agent drops it); a `links:` line is a run of links.
_ACTIONABLE = re.compile(rf"^\s*(?:- )?(?:'|\")?({_ROLES}|links:)(?:\b| )")


# Playwright's `[ref=e12]`, or the agent's short `[12]` (followed by `, ` between the links of a
# `links:` line).
_REF_MARK = re.compile(r" \[(?:ref=[A-Za-z0-9_-]+|\d+)\](?::|$| \[| \||,)")


def _ref_counts(text: str) -> tuple[int, int]:
    """(refs on actionable lines, refs on other lines) of a rendered snapshot."""
    on, off = 0, 0
    for row in text.splitlines():
        refs = len(_REF_MARK.findall(row))  # a `links:` line holds several
        if refs:
            if _ACTIONABLE.match(row):
                on += refs
            else:
                off += refs
    return on, off


def page_set(browser: Any, encoding: Any) -> None:
    """The observation page set: tokens before (raw AI snapshot) / after, facts, refs, ms."""
    from openhelm_agent.observation import observe
    from openhelm_agent.snapshot_cap import cap_snapshot

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(PAGE_SET)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    totals = {"raw": 0, "now": 0, "facts": 0, "of": 0, "raw_facts": 0, "on": 0, "off": 0, "want": 0, "raw_off": 0}
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        for name, (facts, actionable) in FACTS.items():
            page.goto(f"{base}/{name}", wait_until="load")
            page.wait_for_timeout(150)  # the JS-rendered page's setTimeout
            times = []
            obs = None
            for _ in range(5):
                t = time.perf_counter()
                obs = observe(page)
                times.append((time.perf_counter() - t) * 1000)
            assert obs is not None
            text = obs.render()
            raw_snapshot = page.aria_snapshot(mode="ai")
            raw_text = "\n".join(
                [f"URL: {obs.url}", f"Title: {obs.title}", "Snapshot:", cap_snapshot(raw_snapshot, 40_000).text]
            )
            kept = sum(bool(re.search(f, text, re.S)) for f in facts)
            raw_kept = sum(bool(re.search(f, raw_text, re.S)) for f in facts)
            tokens, raw_tokens = len(encoding.encode(text)), len(encoding.encode(raw_text))
            on, off = _ref_counts(text)
            raw_off = _ref_counts(raw_text)[1]
            line(
                f"{name}: observation tokens (raw AI snapshot before)",
                tokens,
                "tok",
                f"before {raw_tokens} ({tokens / raw_tokens:.2f}x); facts {kept}/{len(facts)} (before {raw_kept}); "
                f"refs {on} actionable of {actionable}, {off} on others (before {raw_off}); {median(times):.0f} ms",
            )
            for key, value in (
                ("raw", raw_tokens),
                ("now", tokens),
                ("facts", kept),
                ("of", len(facts)),
                ("raw_facts", raw_kept),
                ("on", on),
                ("raw_off", raw_off),
                ("off", off),
                ("want", actionable),
            ):
                totals[key] += value
        line(
            "page set: observation tokens (total)",
            totals["now"],
            "tok",
            f"before {totals['raw']} ({totals['now'] / totals['raw']:.2f}x); "
            f"facts {totals['facts']}/{totals['of']} (before {totals['raw_facts']}); "
            f"refs {totals['on']} actionable of {totals['want']}, "
            f"{totals['off']} on others (before {totals['raw_off']})",
        )
    finally:
        server.shutdown()


CHROMIUM = "/usr/bin/chromium"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_site() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--set-only", action="store_true", help="only the observation page set")
    args = parser.parse_args()

    import bpe_openai
    from openhelm_agent.browser import launched_browser
    from openhelm_agent.observation import observe

    encoding = bpe_openai.get_encoding("o200k_base")
    if args.set_only:
        with launched_browser(CHROMIUM) as browser:
            page_set(browser, encoding)
        return
    server, base = serve_site()
    try:
        launches = []
        for _ in range(args.launches + 1):
            t = time.perf_counter()
            with launched_browser(CHROMIUM) as browser:
                browser.new_context().new_page()
                launches.append((time.perf_counter() - t) * 1000)
        line("Chromium launch + first page, first (cold)", launches[0], "ms")
        line(f"Chromium launch + first page (median of {args.launches})", median(launches[1:]), "ms")

        with launched_browser(CHROMIUM) as browser:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            pages = sorted(p.name for p in SITE.glob("*.html"))
            for name in pages:
                loads, snaps, shots = [], [], []
                obs = None
                for _ in range(5):
                    t = time.perf_counter()
                    page.goto(f"{base}/{name}", wait_until="domcontentloaded")
                    loads.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    obs = observe(page)
                    snaps.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    page.screenshot(type="png")
                    shots.append((time.perf_counter() - t) * 1000)
                assert obs is not None
                text = obs.render()
                tokens = len(encoding.encode(text))
                line(
                    f"{name}: goto / snapshot / screenshot (median)",
                    median(loads),
                    "ms",
                    f"{median(snaps):.0f} ms / {median(shots):.0f} ms",
                )
                line(
                    f"{name}: observation tokens (o200k_base)",
                    tokens,
                    "tok",
                    f"{len(text)} chars, {len(obs.refs)} refs",
                )
            page_set(browser, encoding)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
