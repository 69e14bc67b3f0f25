"""``python -m openhelm_agent``: read the environment (docs/agent-contract.md) and run the spec."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openhelm_agent.log import get_logger, setup_logging
from openhelm_agent.loop import AgentRun
from openhelm_agent.options import AgentOptions
from openhelm_agent.run import fail_without_spec, run_agent
from openhelm_agent.spec import SpecError, read_spec_file
from openhelm_agent.warm import StandDown, is_warm, warm_env

if TYPE_CHECKING:
    from openhelm_agent.live import LiveView


class AgentEnv(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    OPENHELM_RUN_SPEC: str = Field(min_length=1)
    OPENHELM_OUT_DIR: str = Field(min_length=1)
    OPENHELM_CONTROL_URL: str = Field(min_length=1)
    OPENHELM_RUN_TOKEN: str = Field(min_length=1, repr=False)
    OPENHELM_CHROMIUM: str = "/usr/bin/chromium"
    OPENHELM_BROWSER_PROXY: str | None = None
    # The LLM gateway's OpenAI-compatible base URL (its own endpoint: model calls may take minutes).
    OPENHELM_LLM_URL: str | None = None
    OPENHELM_MEMORY_LIMIT_MB: int | None = None
    OPENHELM_CONSTRAINED_OUTPUT: bool = False
    # Session mode (serve.py): the directory the provider pushes commands into.
    OPENHELM_MAILBOX: str | None = None
    # The live view's frame endpoint (live.py): where it listens, and the per-sandbox secret.
    OPENHELM_LIVE_LISTEN: str | None = None
    OPENHELM_LIVE_SECRET: str | None = Field(default=None, repr=False)


# After SIGTERM the process is gone within this many seconds, whatever cleanup is stuck on.
TERMINATE_GRACE_S = 10.0
_terminating = threading.Event()


def _terminate(signum: int, _frame: Any) -> None:
    """Unwind through the loop's finally blocks: result.json is written, handed in, the browser closes.

    A signal raised into sync Playwright's dispatcher can leave its event loop unable to finish a
    close (seen once in CI: result handed in, then 30 s of nothing). So the first signal also arms a
    watchdog that ends the process after ``TERMINATE_GRACE_S``; later signals only wait for it. The
    supervisor reports an exit without a completion, so a run is never left open by the cut.
    """
    if _terminating.is_set():
        return
    _terminating.set()
    code = 128 + signum

    def cut() -> None:
        threading.Event().wait(TERMINATE_GRACE_S)
        get_logger("openhelm_agent").warning("cleanup after the signal is stuck; exiting now")
        logging.shutdown()
        os._exit(code)

    threading.Thread(target=cut, name="terminate-watchdog", daemon=True).start()
    raise SystemExit(code)


def main(environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 when the run succeeded, 1 when it failed (result.json says why), 2 on unusable environment."""
    setup_logging()
    env_source = os.environ if environ is None else environ
    if not is_warm(env_source):
        return _main(env_source, None)
    # A warm sandbox (warm.py): Chromium up first, then the run as a cold start would get it.
    signal.signal(signal.SIGTERM, _terminate)
    with ExitStack() as resources:
        try:
            run_env, browser = warm_env(env_source, resources)
        except StandDown:
            get_logger("openhelm_agent").info("warm agent stood down: the run starts cold")
            return 0
        return _main(run_env, browser)


def _main(env_source: Mapping[str, str], browser: Any) -> int:
    log = get_logger("openhelm_agent")
    try:
        env = AgentEnv.model_validate({k: v for k, v in env_source.items() if k.startswith("OPENHELM_") and v})
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        log.error("bad agent environment", extra={"variables": missing})
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        spec: Mapping[str, Any] = read_spec_file(env.OPENHELM_RUN_SPEC)
        if spec.get("secrets"):
            # The values now live in this process only; on E2B the file can go (the local sandbox's
            # is read-only and goes with the sandbox).
            with contextlib.suppress(OSError):
                os.unlink(env.OPENHELM_RUN_SPEC)
    except SpecError as exc:
        # Still leave a result.json (AGENT_CRASHED); without a run_id no callback can be sent.
        log.error("unreadable run spec", extra={"error": str(exc)})
        fail_without_spec(env.OPENHELM_OUT_DIR, str(exc))
        return 1
    options = AgentOptions(
        chromium_path=env.OPENHELM_CHROMIUM,
        browser_proxy=env.OPENHELM_BROWSER_PROXY,
        llm_base_url=env.OPENHELM_LLM_URL,
        memory_limit_mb=env.OPENHELM_MEMORY_LIMIT_MB,
        constrained_output=env.OPENHELM_CONSTRAINED_OUTPUT,
    )
    if spec.get("mode") == "session":
        return _serve(spec, env, options)
    live = _live_view(env)
    try:
        result = run_agent(
            spec,
            env.OPENHELM_OUT_DIR,
            env.OPENHELM_CONTROL_URL,
            env.OPENHELM_RUN_TOKEN,
            options=options,
            browser=browser,
            factory=_watched(live) if live is not None else AgentRun,
        )
    finally:
        if live is not None:
            live.close()
    return 0 if result.status == "succeeded" else 1


def _live_view(env: AgentEnv) -> LiveView | None:
    """The live view's frame source (live.py), when the provider gave this sandbox one."""
    if not env.OPENHELM_LIVE_LISTEN or not env.OPENHELM_LIVE_SECRET:
        return None
    from openhelm_agent.live import LISTEN_ENV, SECRET_ENV, LiveView

    return LiveView.from_env({LISTEN_ENV: env.OPENHELM_LIVE_LISTEN, SECRET_ENV: env.OPENHELM_LIVE_SECRET})


def _watched(live: LiveView) -> type[AgentRun]:
    """A one-shot run whose page is screencast: between steps the screencast follows the current tab
    (Playwright delivers its frames while the run's own calls run)."""

    class WatchedRun(AgentRun):
        def _check_time(self) -> None:
            live.screencast.attach(self.session.page)
            super()._check_time()

    return WatchedRun


def _serve(spec: Mapping[str, Any], env: AgentEnv, options: AgentOptions) -> int:
    from openhelm_agent.serve import SessionServer, SessionSpec

    log = get_logger("openhelm_agent")
    try:
        session = SessionSpec.model_validate(spec)
    except ValidationError as exc:
        log.error("invalid session spec", extra={"error": str(exc)[:500]})
        return 2
    if not env.OPENHELM_MAILBOX:
        log.error("session mode needs OPENHELM_MAILBOX")
        return 2
    server = SessionServer(
        session, env.OPENHELM_OUT_DIR, env.OPENHELM_MAILBOX, env.OPENHELM_CONTROL_URL, env.OPENHELM_RUN_TOKEN, options
    )
    live = _live_view(env)
    server.live = live
    try:
        return server.serve()
    finally:
        if live is not None:
            live.close()


if __name__ == "__main__":
    sys.exit(main())
