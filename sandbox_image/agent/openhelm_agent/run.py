"""``run_agent``: one run from spec to result.json and the completion callback, whatever happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openhelm_agent.browser import BrowserSession, launched_browser, short_error
from openhelm_agent.callback import ControlPlaneClient
from openhelm_agent.clock import FINISH_RESERVE_S, Deadline
from openhelm_agent.errors import AgentFailure, ErrorCode
from openhelm_agent.evidence import EvidenceWriter, RunResult
from openhelm_agent.llm import LLMClient
from openhelm_agent.log import get_logger, mask_secrets
from openhelm_agent.loop import AgentRun
from openhelm_agent.options import AgentOptions
from openhelm_agent.policy import DomainPolicy
from openhelm_agent.secrets import Secret, SecretBook
from openhelm_agent.spec import RunSpec, SpecError, parse_spec

if TYPE_CHECKING:
    from playwright.sync_api import Browser

log = get_logger("openhelm_agent")
PROFILE_STATE_FILE = "storage_state.json"
# Builds the loop of one run: AgentRun itself, or a subclass (a session's task checks its pause and
# stop commands between steps: serve.py).
AgentFactory = Callable[..., AgentRun]


@contextmanager
def _browser(options: AgentOptions, shared: Browser | None) -> Iterator[Browser]:
    if shared is not None:
        yield shared
        return
    started = time.monotonic()
    with launched_browser(options.chromium_path, options.browser_proxy) as browser:
        log.info("browser launched", extra={"ms": int((time.monotonic() - started) * 1000)})
        yield browser


def _prefetch_openai() -> threading.Thread:
    """Import ``openai`` (about a second of CPU) while Chromium launches (a second of waiting on
    another process): the two overlap instead of adding up before the first browser action."""

    def load() -> None:
        try:
            import openai  # noqa: F401
        except Exception as exc:  # LLMClient raises the real error on the main thread
            log.warning("openai prefetch failed", extra={"error": short_error(exc)})

    thread = threading.Thread(target=load, name="openai-prefetch", daemon=True)
    thread.start()
    return thread


def _failed(code: ErrorCode, message: str, evidence: EvidenceWriter, repairs: int) -> RunResult:
    return RunResult(
        status="failed",
        result=None,
        confidence=None,
        summary=message,
        error_code=code.value,
        error_message=message,
        schema_repairs=repairs,
        steps=evidence.steps_written,
    )


def _execute(
    spec: RunSpec,
    evidence: EvidenceWriter,
    callback: ControlPlaneClient | None,
    options: AgentOptions,
    shared: Browser | None,
    deadline: Deadline,
    holder: list[AgentRun],
    control_url: str,
    token: str,
    resources: ExitStack,
    kept: BrowserSession | None = None,
    factory: AgentFactory = AgentRun,
) -> RunResult:
    """The run itself. The browser and its context are closed through ``resources`` by the caller,
    *after* result.json and the completion: closing Chromium takes a moment the run's clock (and
    its bill) should not wait for."""
    policy = DomainPolicy.from_lists(spec.allowed_domains, spec.blocked_domains)
    llm: LLMClient | None = None
    prefetch = _prefetch_openai() if spec.replay is None and shared is None and kept is None else None
    try:
        browser = resources.enter_context(_browser(options, shared)) if kept is None else None
        if spec.replay is None:
            if prefetch is not None:
                prefetch.join()
            base_url = options.llm_base_url or f"{control_url.rstrip('/')}/internal/llm/v1"
            llm = LLMClient(base_url, token, spec.model, max_retries=options.llm_max_retries)
        if kept is not None:  # a session's browser: its cookies and tabs outlive the run
            session = kept
            session.evidence = evidence
        else:
            assert browser is not None
            session = BrowserSession(
                browser,
                policy,
                evidence,
                context_proxy=options.browser_proxy if shared is not None else None,
                proxied=options.browser_proxy is not None,
                storage_state=spec.storage_state,
            )
            resources.callback(session.close)
        agent = factory(spec, session, evidence, callback, deadline, options, secrets=evidence.masker)
        holder.append(agent)
        try:
            result = agent.run_llm(llm) if llm is not None else agent.run_replay()
        except AgentFailure as failure:
            # The run's own orderly end (its limits, the model, a refused schema): still graceful.
            if spec.persist_profile and failure.code != ErrorCode.AGENT_CRASHED and agent.crash_failure() is None:
                _save_state(session, evidence)
            raise
        if spec.persist_profile and result.error_code != ErrorCode.AGENT_CRASHED:
            _save_state(session, evidence)
        return result
    finally:
        if llm is not None:
            log.info("llm usage", extra={"calls": llm.calls, **llm.usage})


def _save_state(session: BrowserSession, evidence: EvidenceWriter) -> None:
    """The context's final storage_state, on a graceful end (the agent ended the run itself,
    succeeded or failed, without a crash), before the completion: the control plane reads it once
    the run has ended (docs/agent-contract.md)."""
    try:
        session.context.storage_state(path=str(evidence.out_dir / PROFILE_STATE_FILE))
    except Exception as exc:  # the run's result stands; the profile is just not updated
        log.warning("storage state not saved", extra={"error": short_error(exc)})


def _run_id(spec: RunSpec | Mapping[str, Any]) -> str | None:
    run_id = spec.run_id if isinstance(spec, RunSpec) else spec.get("run_id")
    return run_id if isinstance(run_id, str) and run_id else None


def run_agent(
    spec: RunSpec | Mapping[str, Any],
    out_dir: str | Path,
    control_url: str,
    token: str,
    *,
    options: AgentOptions | None = None,
    browser: Browser | None = None,
    browser_session: BrowserSession | None = None,
    factory: AgentFactory = AgentRun,
) -> RunResult:
    """Run one spec to the end: evidence in ``out_dir``, result.json, then the completion callback.

    Never raises for a run failure: every outcome (bad spec, browser crash, LLM errors, limits) ends
    in a result.json with an error code. ``browser`` lets a caller share one launched Chromium
    (tests); the run then gets its own context in it, and the browser stays open.
    ``browser_session`` hands in a whole open context (a session's: serve.py), kept open after the run.
    """
    started = time.monotonic()
    options = options or AgentOptions()
    evidence = EvidenceWriter(out_dir)
    run_id = _run_id(spec)
    callback = (
        ControlPlaneClient(
            control_url,
            token,
            run_id,
            progress_timeout_s=options.progress_timeout_s,
            complete_attempts=options.complete_attempts,
        )
        if run_id
        else None
    )
    holder: list[AgentRun] = []
    interrupted: BaseException | None = None

    def repairs() -> int:
        return holder[0].schema_repairs if holder else 0

    resources = ExitStack()
    try:
        parsed = spec if isinstance(spec, RunSpec) else parse_spec(spec)
        if parsed.secrets:
            book = SecretBook(Secret(s.match, dict(s.fields)) for s in parsed.secrets)
            evidence.masker = book  # steps, network log and result.json
            mask_secrets(book)  # every log line of this process
        deadline = Deadline(
            parsed.max_duration_s, start=started, deadline_at=parsed.deadline_at, reserve_s=FINISH_RESERVE_S
        )
        log.info("run started", extra={"run_id": parsed.run_id, "model": parsed.model, "replay": bool(parsed.replay)})
        result = _execute(
            parsed,
            evidence,
            callback,
            options,
            browser,
            deadline,
            holder,
            control_url,
            token,
            resources,
            browser_session,
            factory,
        )
    except AgentFailure as failure:
        # A page or browser that crashed (out of memory, as a rule) is the cause, whatever failed
        # next: under memory pressure the model call in flight may time out before the crash is seen.
        crash = holder[0].crash_failure(probe=True) if holder and failure.code != ErrorCode.AGENT_CRASHED else None
        if crash is not None:
            log.info("failure after a crash", extra={"error_code": failure.code, "error": failure.message[:300]})
        failure = crash or failure
        result = _failed(failure.code, failure.message, evidence, repairs())
    except SpecError as exc:
        result = _failed(ErrorCode.AGENT_CRASHED, str(exc), evidence, repairs())
    except Exception as exc:
        log.exception("agent crashed")
        crash = holder[0].crash_failure(probe=True) if holder else None  # "Target closed" says less than why
        message = crash.message if crash else f"{type(exc).__name__}: {short_error(exc)}"
        result = _failed(ErrorCode.AGENT_CRASHED, message, evidence, repairs())
    except BaseException as exc:  # KeyboardInterrupt, SystemExit from SIGTERM: report, then re-raise
        interrupted = exc
        result = _failed(ErrorCode.AGENT_CRASHED, f"agent interrupted ({type(exc).__name__})", evidence, repairs())
    try:
        return _hand_in(result, evidence, callback, started, interrupted)
    finally:  # the browser closes once the result is handed in
        try:
            resources.close()
        except Exception as exc:
            log.warning("closing the browser failed", extra={"error": short_error(exc)})


def _hand_in(
    result: RunResult,
    evidence: EvidenceWriter,
    callback: ControlPlaneClient | None,
    started: float,
    interrupted: BaseException | None,
) -> RunResult:
    evidence.write_result(result)
    log.info(
        "run finished",
        extra={
            "status": result.status,
            "error_code": result.error_code,
            "steps": result.steps,
            "ms": int((time.monotonic() - started) * 1000),
        },
    )
    if callback is not None:
        payload = result.model_dump(mode="json")
        if evidence.masker is not None:
            payload = evidence.masker.mask_data(payload)
        if not callback.complete(payload):
            log.warning("completion callback not accepted; the control plane will find result.json")
    else:
        log.warning("no run_id in the spec: completion callback not sent")
    if interrupted is not None:
        raise interrupted
    return result


def fail_without_spec(out_dir: str | Path, message: str) -> RunResult:
    """Write an AGENT_CRASHED result.json when there is no usable spec (hence no run id to call back)."""
    evidence = EvidenceWriter(out_dir)
    result = _failed(ErrorCode.AGENT_CRASHED, message, evidence, 0)
    evidence.write_result(result)
    return result
