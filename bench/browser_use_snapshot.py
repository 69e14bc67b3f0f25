"""Runs INSIDE the separate browser-use venv (never imported by the project): for each page name given,
opens base/name with browser-use's own BrowserSession on Chromium and writes what browser-use's agent
sends its model about the page, as JSON {page: {"text", "dom", "ms", "interactive"}} on stdout ("dom": the
serializer's llm_representation() alone, without the agent's header).

The text is the agent's `<browser_state>` block, built by browser-use's own
AgentMessagePrompt._get_browser_state_description() from get_browser_state_summary(): page stats, the
tabs header, page_info (pages above/below) and the DOM serializer's llm_representation() with the
agent's default include_attributes and 40,000-character cap. The task, history, file system and
step info parts of the user message are left out (they are not about the page).

    <venv>/bin/python bench/browser_use_snapshot.py --base http://127.0.0.1:PORT --chromium /usr/bin/chromium a.html ...
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time

os.environ.setdefault("ANONYMIZED_TELEMETRY", "false")
os.environ.setdefault("BROWSER_USE_CLOUD_SYNC", "false")
os.environ.setdefault("BROWSER_USE_LOGGING_LEVEL", "error")
os.environ.setdefault("SKIP_LLM_API_KEY_VERIFICATION", "true")

FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-domain-reliability",
]


async def run(base: str, chromium: str, pages: list[str], repeats: int, settle_ms: int) -> dict:
    from browser_use.agent.prompts import AgentMessagePrompt
    from browser_use.agent.views import AgentSettings
    from browser_use.browser import BrowserProfile, BrowserSession

    settings = AgentSettings()
    profile = BrowserProfile(
        executable_path=chromium,
        headless=True,
        chromium_sandbox=False,
        args=FLAGS,
        enable_default_extensions=False,
        user_data_dir=tempfile.mkdtemp(prefix="bu-profile-"),
        viewport={"width": 1280, "height": 800},
        window_size={"width": 1280, "height": 800},
        keep_alive=False,
    )
    session = BrowserSession(browser_profile=profile)
    await session.start()
    out = {}
    try:
        for name in pages:
            await session.navigate_to(f"{base}/{name}")
            await asyncio.sleep(settle_ms / 1000)  # the JS-rendered page's setTimeout
            times = []
            text = ""
            interactive = 0
            for _ in range(repeats):
                t = time.perf_counter()
                state = await session.get_browser_state_summary(include_screenshot=False)
                prompt = AgentMessagePrompt(
                    browser_state_summary=state,
                    file_system=None,
                    include_attributes=settings.include_attributes,
                    max_clickable_elements_length=settings.max_clickable_elements_length,
                )
                text = "<browser_state>\n" + prompt._get_browser_state_description().strip("\n") + "\n</browser_state>"
                times.append((time.perf_counter() - t) * 1000)
                interactive = len(state.dom_state.selector_map)
            times.sort()
            dom = state.dom_state.llm_representation(include_attributes=settings.include_attributes)
            out[name] = {"text": text, "dom": dom, "ms": times[len(times) // 2], "interactive": interactive}
    finally:
        await session.kill()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--settle-ms", type=int, default=150)
    parser.add_argument("pages", nargs="+")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    result = asyncio.run(run(args.base, args.chromium, args.pages, args.repeats, args.settle_ms))
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
