"""Browser benchmark: Chromium launch, page load, AI snapshot and screenshot times, and the tokens the
model reads per page (the agent's own observation, o200k_base counted offline with bpe-openai) on
the bundled demo pages.

    .venv/bin/python bench/observation.py [--launches 5]

Runs the agent package in this process (no sandbox): the figures are the browser's own.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
from typing import Any

from common import ROOT, line, median

sys.path.insert(0, str(ROOT / "sandbox_image" / "agent"))

SITE = ROOT / "devstack" / "demo_site"
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
    args = parser.parse_args()

    import bpe_openai
    from openhelm_agent.browser import launched_browser
    from openhelm_agent.observation import observe

    encoding = bpe_openai.get_encoding("o200k_base")
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
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
