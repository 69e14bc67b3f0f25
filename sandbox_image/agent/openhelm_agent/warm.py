"""Warm start: bring the runtime up before there is a run, then wait for the run to be handed in.

A warm sandbox's agent is started with ``OPENHELM_HANDOUT`` (a directory) instead of a run spec. It
imports what a run needs (the loop, Playwright, ``openai``), launches Chromium and waits. The provider
hands a run in by writing ``run_spec.json`` and then, atomically (a rename), ``handout.json`` into
that directory: ``{"env": {"OPENHELM_CONTROL_URL": ..., "OPENHELM_RUN_TOKEN": ..., ...}}``, the
contract variables a cold start gets in its environment. The agent then runs that one spec in the
Chromium it launched (a fresh context, as every run gets) and exits like a cold agent: one sandbox,
one run, never reused. The supervisor reads the same file to report an exit (supervise.py).
``{"stand_down": true}`` instead ends the warm agent without a run (a run the warm one cannot take
is then started cold beside it). A hand-out file seen half-written is read again.

``OPENHELM_WARM_READY_FILE``, when set, is created once Chromium is up: the E2B template's ready
check (sandbox_image/template.py), after which E2B snapshots the sandbox, so that every sandbox made
from the template resumes here, Chromium running, waiting for its run.

If Chromium died while the sandbox waited, the run gets a newly launched one (the provider also
checks before it hands a sandbox out, and discards one whose Chromium is gone).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from openhelm_agent.browser import launched_browser, short_error
from openhelm_agent.log import get_logger

HANDOUT_ENV = "OPENHELM_HANDOUT"
HANDOUT_FILE = "handout.json"
SPEC_FILE = "run_spec.json"
# Only these may come in with a hand-out: the variables a cold start gets per run.
HANDOUT_VARS = frozenset({"OPENHELM_CONTROL_URL", "OPENHELM_RUN_TOKEN", "OPENHELM_LLM_URL"})
POLL_S = 0.005
MAX_HANDOUT_BYTES = 64 * 1024

log = get_logger("openhelm_agent")


def _preload() -> None:
    # What the first run would import: the loop and the model client (openai is about a second of CPU).
    import openai  # noqa: F401

    import openhelm_agent.run  # noqa: F401


class StandDown(Exception):
    """The provider started this run cold instead: end without a run."""


def read_handout(directory: Path) -> dict[str, str] | None:
    """The run's contract variables once the provider handed the run in, else None."""
    try:
        raw = (directory / HANDOUT_FILE).read_bytes()[:MAX_HANDOUT_BYTES]
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
    except ValueError:  # still being written (a provider that cannot rename): look again
        return None
    if isinstance(data, dict) and data.get("stand_down") is True:
        raise StandDown
    env = data.get("env") if isinstance(data, dict) else None
    if not isinstance(env, dict):
        raise ValueError("handout.json has no env object")
    return {str(k): str(v) for k, v in env.items() if k in HANDOUT_VARS}


def wait_for_handout(directory: Path) -> dict[str, str]:
    while True:
        env = read_handout(directory)
        if env is not None:
            return env
        time.sleep(POLL_S)


def warm_env(environ: Mapping[str, str], resources: ExitStack) -> tuple[dict[str, str], Any]:
    """Launch Chromium, wait for the hand-out; (the run's environment, the launched browser)."""
    directory = Path(environ[HANDOUT_ENV])
    preload = threading.Thread(target=_preload, name="warm-preload", daemon=True)
    preload.start()
    started = time.monotonic()
    browser = resources.enter_context(
        launched_browser(environ.get("OPENHELM_CHROMIUM", "/usr/bin/chromium"), environ.get("OPENHELM_BROWSER_PROXY"))
    )
    log.info("browser launched", extra={"ms": int((time.monotonic() - started) * 1000), "warm": True})
    preload.join()
    log.info("warm sandbox ready")
    ready_file = environ.get("OPENHELM_WARM_READY_FILE")
    if ready_file:
        Path(ready_file).touch()
    env = wait_for_handout(directory)
    log.info("run handed in")
    if not browser.is_connected():
        log.warning("the warm Chromium is gone; launching another")
        try:
            browser.close()
        except Exception as exc:
            log.warning("closing the dead browser failed", extra={"error": short_error(exc)})
        browser = None  # the run launches its own
    merged = {**{k: v for k, v in environ.items() if k != HANDOUT_ENV}, **env}
    merged["OPENHELM_RUN_SPEC"] = str(directory / SPEC_FILE)
    return merged, browser


def is_warm(environ: Mapping[str, str]) -> bool:
    return bool(environ.get(HANDOUT_ENV))
