"""Direct browser actions of a session (no LLM): the same browser code as the agent's tools
(tools.ToolExecutor, observation.observe), each action recorded as a step with a screenshot.

The control plane validates an action's arguments before it pushes one in (shared/models/sessions.py);
the models here check them again, since what arrives in the mailbox is only as trusted as its writer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openhelm_agent.browser import BrowserSession, page_url, safe_title, short_error
from openhelm_agent.clock import Deadline
from openhelm_agent.compact import RefMap
from openhelm_agent.evidence import EvidenceWriter, StepRecord, now_iso
from openhelm_agent.extract import Completer, ExtractFailed, structured
from openhelm_agent.log import get_logger
from openhelm_agent.observation import Observation, observe
from openhelm_agent.tools import (
    ClickArgs,
    GoBackArgs,
    NavigateArgs,
    ScrollArgs,
    ToolExecutor,
    TypeArgs,
    UploadFileArgs,
)

log = get_logger("openhelm_agent.session_actions")

# What one action may take inside the sandbox: the control plane waits a little longer for the reply
# and answers within API Gateway's 30 s.
ACTION_BUDGET_S = 20.0
MAX_RESULT_BYTES = 64 * 1024
MAX_TEXT_CHARS = 100_000


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvaluateArgs(_Args):
    expression: str = Field(min_length=1, max_length=20_000)
    timeout_s: float = Field(default=5.0, gt=0, le=15)


class ClickAtArgs(_Args):
    x: float = Field(ge=0, le=10_000)
    y: float = Field(ge=0, le=10_000)


class KeyboardTypeArgs(_Args):
    text: str = Field(max_length=10_000)
    submit: bool = False
    human_like: bool = False


class WheelArgs(_Args):
    dx: float = Field(default=0.0, ge=-10_000, le=10_000)
    dy: float = Field(default=0.0, ge=-10_000, le=10_000)


class KeyPressArgs(_Args):
    key: str = Field(min_length=1, max_length=50)


class WaitForArgs(_Args):
    text: str | None = Field(default=None, max_length=1000)
    selector: str | None = Field(default=None, max_length=1000)
    timeout_s: float = Field(default=5.0, gt=0, le=15)


class _Empty(_Args):
    pass


class ExtractArgs(_Args):
    output_schema: dict[str, Any] | None = None
    instruction: str | None = Field(default=None, max_length=2000)


class PlacedFileArgs(_Args):
    """upload_file as the control plane sends it: the file is already in the sandbox at ``path``."""

    ref: str = Field(min_length=1, max_length=20)
    file: str = Field(min_length=1, max_length=255)
    path: str = Field(min_length=1, max_length=4096)


ActionName = Literal[
    "navigate",
    "evaluate",
    "screenshot",
    "extract",
    "click",
    "double_click",
    "type",
    "key_press",
    "scroll",
    "go_back",
    "wait_for",
    "upload_file",
]


class ActionError(Exception):
    """The action could not be done; the message (and ``code``, when there is one) go back to the caller."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ActionRunner:
    """Runs direct actions on the session's open page (main thread: Playwright's sync API is
    bound to the thread that started it)."""

    def __init__(
        self,
        session: BrowserSession,
        evidence: EvidenceWriter,
        *,
        action_timeout_s: float = 10.0,
        llm: Callable[[], Completer] | None = None,
    ) -> None:
        self.session = session
        # The model, made on first use (an extract with an output_schema): the gateway, session token.
        self._llm_factory = llm
        self._llm: Completer | None = None
        self.evidence = evidence
        self.action_timeout_s = action_timeout_s
        self.observation: Observation | None = None
        # The session's short refs: a number the caller was shown keeps its meaning (compact.RefMap).
        self.refs = RefMap()

    def run(self, action: str, raw_args: dict[str, Any] | None, *, by: str = "api") -> dict[str, Any]:
        """The reply to one action command: ``{ok, result, error, step}``; never raises. ``by``
        marks the step (``person``: a manual action of a take-over, whose typed text is kept nowhere)."""
        started_at, t0 = now_iso(), time.monotonic()
        deadline = Deadline(ACTION_BUDGET_S)
        args = dict(raw_args or {})
        result: Any = None
        error: str | None = None
        code: str | None = None
        try:
            result = self._dispatch(action, args, deadline)
        except ExtractFailed as exc:
            error, code = str(exc), exc.code
            result = {"answer": exc.answer} if exc.answer is not None else None
        except ActionError as exc:
            error, code = str(exc), exc.code
        except ValidationError as exc:
            error = "; ".join(f"{'.'.join(map(str, e['loc'])) or action}: {e['msg']}" for e in exc.errors())
        except Exception as exc:  # Playwright errors: data for the caller
            error = f"{action} failed: {short_error(exc)}"
        kept = dict(args)
        if by == "person" and "text" in kept:  # possibly a secret: its length only
            kept["text_length"] = len(str(kept.pop("text")))
        step = self._record(action, kept, error, started_at, t0, deadline, by=by)
        reply = {"ok": error is None, "result": result, "error": error, "step": step.model_dump()}
        return {**reply, "error_code": code} if code else reply

    # -- actions -------------------------------------------------------------------------------

    def _dispatch(self, action: str, args: dict[str, Any], deadline: Deadline) -> Any:
        executor = ToolExecutor(self.session, deadline, action_timeout_s=self.action_timeout_s)
        page = self.session.page
        if action == "navigate":
            return self._tool(executor, "navigate", NavigateArgs.model_validate(args))
        if action == "go_back":
            return self._tool(executor, "go_back", GoBackArgs.model_validate(args))
        if action == "scroll" and ("dx" in args or "dy" in args):
            wheel = WheelArgs.model_validate(args)
            page.mouse.wheel(wheel.dx, wheel.dy)
            executor._settle()
            return {"message": f"scrolled by ({wheel.dx:g}, {wheel.dy:g})"}
        if action == "double_click":
            at = ClickAtArgs.model_validate(args)
            page.mouse.dblclick(at.x, at.y)
            executor._settle()
            return {"message": f"double-clicked at ({at.x:g}, {at.y:g})"}
        if action == "scroll":
            return self._tool(executor, "scroll", ScrollArgs.model_validate(args))
        if action == "click":
            if "ref" in args:
                return self._tool(executor, "click", ClickArgs.model_validate(args))
            at = ClickAtArgs.model_validate(args)
            page.mouse.click(at.x, at.y)
            executor._settle()
            return {"message": f"clicked at ({at.x:g}, {at.y:g})"}
        if action == "type":
            if "ref" in args:
                # The agent's tool takes no human_like (a person's typing is by keyboard, without a ref).
                tool_args = {k: v for k, v in args.items() if k != "human_like"}
                return self._tool(executor, "type", TypeArgs.model_validate(tool_args))
            typed = KeyboardTypeArgs.model_validate(args)
            # human_like: a pause between characters (bounded so the action fits its budget).
            delay = min(80.0, 10_000 / max(1, len(typed.text))) if typed.human_like else 0
            page.keyboard.type(typed.text, delay=delay)
            if typed.submit:
                page.keyboard.press("Enter")
                executor._settle()
            return {"message": f"typed {len(typed.text)} characters into the focused element"}
        if action == "key_press":
            key = KeyPressArgs.model_validate(args)
            page.keyboard.press(key.key)
            executor._settle()
            return {"message": f"pressed {key.key}"}
        if action == "evaluate":
            return self._evaluate(EvaluateArgs.model_validate(args))
        if action == "extract":
            wanted = ExtractArgs.model_validate(args)
            obs = self._observe(deadline)
            if wanted.output_schema is not None:
                data = structured(
                    self._model(),
                    obs.full_text[:MAX_TEXT_CHARS],
                    obs.url,
                    wanted.output_schema,
                    wanted.instruction,
                    deadline,
                    deadline.remaining(),
                )
                return {"url": obs.url, "title": obs.title, "data": data}
            return {
                "url": obs.url,
                "title": obs.title,
                "text": obs.full_text[:MAX_TEXT_CHARS],
                "truncated": len(obs.full_text) > MAX_TEXT_CHARS,
            }
        if action == "screenshot":
            _Empty.model_validate(args)
            return {"message": "screenshot taken"}
        if action == "wait_for":
            return self._wait_for(WaitForArgs.model_validate(args))
        if action == "upload_file":
            placed = PlacedFileArgs.model_validate(args)
            executor.files = {placed.file: placed.path}
            return self._tool(executor, "upload_file", UploadFileArgs(ref=placed.ref, file=placed.file))
        raise ActionError(f"unknown action {action!r}")

    def _model(self) -> Completer:
        if self._llm is None:
            if self._llm_factory is None:
                raise ActionError("this session has no model to extract with", code="extract_model_error")
            self._llm = self._llm_factory()
        return self._llm

    def _tool(self, executor: ToolExecutor, name: str, args: Any) -> dict[str, Any]:
        ref = getattr(args, "ref", None)
        if ref is not None and (self.observation is None or ref not in self.observation.refs):
            # Refs come from the latest snapshot (an `extract`, or this one): take one if the ref is new.
            self._observe(executor.deadline)
        known = self.observation.refs if self.observation else {}
        elements = self.observation.elements if self.observation else {}
        outcome = executor.execute(name, args, known, elements)
        if outcome.error:
            raise ActionError(outcome.error)
        return {"message": outcome.message}

    def _observe(self, deadline: Deadline) -> Observation:
        self.observation = observe(self.session.page, timeout_s=deadline.cap(10), refs=self.refs)
        return self.observation

    def _evaluate(self, args: EvaluateArgs) -> dict[str, Any]:
        ms = int(args.timeout_s * 1000)
        # An async wrapper lets the expression await; the race bounds a promise that never settles
        # (a synchronous endless loop cannot be bounded from outside the page: the reply wait is).
        timer = f"new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after {ms} ms')), {ms}))"
        script = "Promise.race([(async () => (\n" + args.expression + f"\n))(), {timer}])"
        try:
            value = self.session.page.evaluate(script)
        except Exception as exc:
            raise ActionError(f"evaluate threw: {short_error(exc)}") from exc
        try:
            encoded = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ActionError(f"the result is not JSON-serialisable: {exc}") from exc
        if len(encoded) > MAX_RESULT_BYTES:
            raise ActionError(f"the result is {len(encoded)} bytes as JSON; at most {MAX_RESULT_BYTES}")
        return {"value": value}

    def _wait_for(self, args: WaitForArgs) -> dict[str, Any]:
        if (args.text is None) == (args.selector is None):
            raise ActionError("wait_for takes one of text or selector")
        page = self.session.page
        ms = args.timeout_s * 1000
        try:
            if args.text is not None:
                page.get_by_text(args.text).first.wait_for(state="visible", timeout=ms)
            else:
                page.wait_for_selector(str(args.selector), state="visible", timeout=ms)
        except Exception as exc:
            raise ActionError(f"wait_for: not found within {args.timeout_s:g}s ({short_error(exc)})") from exc
        return {"message": "found"}

    # -- evidence ------------------------------------------------------------------------------

    def _record(
        self,
        action: str,
        args: dict[str, Any],
        error: str | None,
        started_at: str,
        t0: float,
        deadline: Deadline,
        *,
        by: str = "api",
    ) -> StepRecord:
        index = self.evidence.steps_written + 1
        page = self.session.page
        screenshot: str | None = self.evidence.screenshot_relpath(index)
        try:
            page.screenshot(path=str(self.evidence.screenshot_path(index)), timeout=max(1000.0, deadline.cap_ms(10)))
        except Exception as exc:  # a missing screenshot must not fail the action
            log.warning("screenshot failed", extra={"step": index, "error": short_error(exc)})
            screenshot = None
        record = StepRecord(
            index=index,
            action=action,
            args={k: (v[:500] if isinstance(v, str) else v) for k, v in args.items()},
            url=page_url(page),
            title=safe_title(page),
            started_at=started_at,
            duration_ms=int((time.monotonic() - t0) * 1000),
            error=error,
            screenshot=screenshot,
            by=by,
        )
        self.evidence.write_step(record)
        return record
