"""The agent loop, LLM-driven or replayed, bounded by max_steps, max_duration_s and schema repairs."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from openhelm_agent.browser import BROWSER_GONE, BrowserSession, page_url, safe_title, short_error
from openhelm_agent.callback import ControlPlaneClient, InputUnavailable
from openhelm_agent.clock import Deadline
from openhelm_agent.compact import RefMap
from openhelm_agent.conversation import Conversation
from openhelm_agent.errors import AgentFailure, ErrorCode
from openhelm_agent.evidence import EvidenceWriter, RunResult, StepRecord, now_iso
from openhelm_agent.llm import LLMClient, LLMReply, LLMTimeout
from openhelm_agent.log import get_logger
from openhelm_agent.observation import Observation, extract, observe
from openhelm_agent.prompt import (
    MAX_SCHEMA_REPAIRS,
    build_system_prompt,
    build_task_message,
    tool_call_format,
    url_in_prompt,
)
from openhelm_agent.repeats import RepeatWatch
from openhelm_agent.secrets import SecretBook
from openhelm_agent.spec import RunSpec
from openhelm_agent.tools import (
    ASK_HUMAN,
    AskHumanArgs,
    DoneArgs,
    ExtractArgs,
    ToolArgsError,
    ToolExecutor,
    ToolOutcome,
    parse_args,
    tool_specs,
)
from openhelm_agent.validation import check_result

if TYPE_CHECKING:
    from openhelm_agent.options import AgentOptions

log = get_logger("openhelm_agent.loop")
MAX_ASKS = 3  # the control plane gives the sandbox this many input timeouts of extra lifetime

_NUDGE_TOOL = "Reply with a tool call: an action, or done(result, confidence, summary) if you have the answer."
MISSING_VALUE = (
    "A null here means you have not found that value yet. Do not make one up: you have {n} action(s) "
    "left, so go and read it on the site first (type into the search or login fields, click, select), "
    "then call done with what the page shows.\n"
)
_LAST_TURN = (
    "You have used all {n} browser actions. Call done now with your best schema-valid result "
    "(use a low confidence if unsure and say what is missing in the summary)."
)


class AgentRun:
    """One run's loop over an open browser session. ``steps``/``schema_repairs`` survive a failure."""

    def __init__(
        self,
        spec: RunSpec,
        session: BrowserSession,
        evidence: EvidenceWriter,
        callback: ControlPlaneClient | None,
        deadline: Deadline,
        options: AgentOptions,
        secrets: SecretBook | None = None,
    ) -> None:
        self.spec = spec
        self.secrets = secrets or SecretBook()
        self.session = session
        self.evidence = evidence
        self.callback = callback
        self.deadline = deadline
        self.options = options
        self.executor = ToolExecutor(
            session,
            deadline,
            action_timeout_s=options.action_timeout_s,
            navigation_timeout_s=options.navigation_timeout_s,
            secrets=self.secrets,
            files={f.name: f.path for f in spec.files},
        )
        self.schema_repairs = 0
        self.actions = 0
        self.manual_note: str | None = None  # set by a session's resume after a take-over
        self.refs = RefMap()  # short refs for the whole run: a number keeps its element
        self.repeats = RepeatWatch()
        # (URL, main frame) of the document our last action loaded by a navigate, while nothing else
        # has been done on it: a navigate there again is answered without a reload (see _already_open).
        self._opened: tuple[str, Any] | None = None
        self.observation: Observation | None = None
        # Ordinal of the LLM reply that chose the steps being taken (None before the first, and in
        # replays): step records name it so the control plane can show that call's tokens and cost.
        self.llm_call: int | None = None
        self.asks = 0
        self.paused_s = 0.0  # the control plane's count of time waited for answers

    # -- limits -------------------------------------------------------------------------------
    def crash_failure(self, probe: bool = False) -> AgentFailure | None:
        """The run's end when its page or browser crashed (run.py also asks after an exception,
        with ``probe``: see BrowserSession.crash)."""
        url = self.session.crash(probe)
        if url is None:
            return None
        limit = self.options.memory_limit_mb
        what = "the browser" if url == BROWSER_GONE else f"the page {url[:300]}"
        return AgentFailure(
            ErrorCode.AGENT_CRASHED,
            f"{what} crashed, most likely out of memory"
            + (f" (the sandbox's memory limit is {limit} MB)" if limit else ""),
        )

    def _check_page(self) -> None:
        failure = self.crash_failure()
        if failure is not None:
            raise failure

    def _check_time(self) -> None:
        self._check_page()
        if self.deadline.expired():
            raise AgentFailure(
                ErrorCode.AGENT_TIMEOUT,
                f"run exceeded max_duration_s={self.spec.max_duration_s:g} after {self.evidence.steps_written} steps",
            )

    # -- evidence -----------------------------------------------------------------------------
    def _screenshot(self, index: int) -> str | None:
        try:
            page = self.session.page
            page.screenshot(
                path=str(self.evidence.screenshot_path(index)),
                timeout=self.deadline.cap_ms(10) + 2000,
                # Password fields show as boxes: what was typed there never reaches the evidence.
                mask=[page.locator("input[type=password]")],
            )
        except Exception as exc:  # a missing screenshot must not end the run
            log.warning("screenshot failed", extra={"step": index, "error": short_error(exc)})
            return None
        return self.evidence.screenshot_relpath(index)

    def _record(self, action: str, args: dict[str, Any], error: str | None, started_at: str, t0: float) -> None:
        index = self.evidence.steps_written + 1
        screenshot = self._screenshot(index)
        page = self.session.page
        record = StepRecord(
            index=index,
            action=action,
            args=args,
            url=page_url(page),
            title=safe_title(page),
            started_at=started_at,
            duration_ms=int((time.monotonic() - t0) * 1000),
            error=error,
            screenshot=screenshot,
            llm_call=self.llm_call,
        )
        self.evidence.write_step(record)
        log.info("step", extra={"step": index, "action": action, "error": error, "ms": record.duration_ms})
        if self.callback is not None:
            self.callback.progress(index, self.secrets.mask(record.url), action)

    def _act(self, action: str, arguments: str | dict[str, Any] | None) -> ToolOutcome:
        """Run one browser action (not done) and record it as a step."""
        started_at, t0 = now_iso(), time.monotonic()
        try:
            args = parse_args(action, arguments)
        except ToolArgsError as exc:
            outcome = ToolOutcome("", str(exc))
            recorded = arguments if isinstance(arguments, dict) else {"raw": arguments}
        else:
            recorded = args.model_dump()
            if action == "done":
                outcome = ToolOutcome("", "done cannot be combined here")
            elif isinstance(args, ExtractArgs):  # reads the latest observation; the page is not touched
                full = self.observation.full_text if self.observation else ""
                outcome = ToolOutcome(extract(full, args.query, args.part, self.options.observation_max_chars))
            else:
                known = self.observation.refs if self.observation else {}
                elements = self.observation.elements if self.observation else {}
                outcome = self.executor.execute(action, args, known, elements, handed_out=self.refs.aria)
        downloads = self.session.keep_downloads()
        if downloads:
            outcome.message = " ".join(filter(None, [outcome.message, *downloads]))
            refused = [d for d in downloads if "not kept" in d or "failed" in d]
            if refused and outcome.error is None:  # the step says so; the run goes on
                outcome.error = refused[0]
        notices = self.session.take_notices()
        if notices:
            outcome.message = " ".join(filter(None, [outcome.message, *notices]))
            blocked = [n for n in notices if "blocked by the domain policy" in n]
            if blocked and outcome.error is None:
                outcome.error = blocked[0]
        self._record(action, recorded, outcome.error, started_at, t0)
        if action == "navigate" and outcome.error is None:
            self._opened = (page_url(self.session.page), _main_frame(self.session.page))
        elif action != "extract":  # extract reads the observation; the page is not touched
            self._opened = None
        return outcome

    def _already_open(self, action: str, arguments: str | dict[str, Any] | None) -> str:
        """The answer to a navigate to the page our last navigate opened, untouched since ("" otherwise).

        The real 1.5B model's first call was nearly always a navigate to the URL the run had already
        opened, often with a click in the same reply: a reload spent a step and made that click's ref
        stale (the eval's search-year, js-tide, iframe-wind, form-quote). Not reloading keeps the refs;
        a second navigate there in a row does reload, for a model that means it."""
        if action != "navigate" or self._opened is None:
            return ""
        try:
            url = str(parse_args(action, arguments).url)  # type: ignore[attr-defined]
        except ToolArgsError:
            return ""
        opened, frame = self._opened
        page = self.session.page
        if _same_url(url, opened) and page_url(page) == opened and _main_frame(page) is frame:
            self._opened = None
            return (
                f"{opened} is already open and the snapshot is current (not reloaded): use its refs. "
                "Call navigate to it again only to reload the page."
            )
        return ""

    def _attempt_done(self, arguments: str | dict[str, Any] | None) -> tuple[RunResult | None, str]:
        """Validate a done call and record it as a step; (result, "") or (None, errors for the model)."""
        started_at, t0 = now_iso(), time.monotonic()
        self.session.keep_downloads()  # one the last action started is kept too
        error = ""
        recorded: dict[str, Any]
        try:
            args = parse_args("done", arguments)
            assert isinstance(args, DoneArgs)
        except ToolArgsError as exc:
            error = str(exc)
            recorded = arguments if isinstance(arguments, dict) else {"raw": arguments}
            args = None
        else:
            args.result, problems = check_result(self.spec.output_schema, args.result)
            recorded = args.model_dump()
            if problems:
                error = "done.result does not match the output schema:\n" + "\n".join(f"- {p}" for p in problems)
        self._record("done", recorded, error or None, started_at, t0)
        if error or args is None:
            return None, error
        return (
            RunResult(
                status="succeeded",
                result=args.result,
                confidence=args.confidence,
                summary=args.summary,
                schema_repairs=self.schema_repairs,
                steps=self.evidence.steps_written,
            ),
            "",
        )

    def _observe(self) -> Observation:
        self._check_page()
        try:
            self.observation = observe(
                self.session.page,
                max_chars=self.options.observation_max_chars,
                timeout_s=self.deadline.cap(10),
                refs=self.refs,
            )
        except Exception:
            self._check_page()  # "Target crashed" says less than why it crashed
            raise
        log.info(
            "observation",
            extra={
                "ms": self.observation.snapshot_ms,
                "chars": len(self.observation.snapshot.text),
                "raw_chars": self.observation.snapshot.original_chars,
            },
        )
        return self.observation

    def _custom_tool(self, name: str, arguments: str) -> str:
        """Hand a call of one of the caller's tools over, wait for its result (the wait is paused
        time) and return it for the model; a timeout is an error result, not the run's end."""
        started_at, t0 = now_iso(), time.monotonic()
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            error = f"arguments of {name} are not valid JSON: {exc}"
            self._record(name, {"raw": arguments[:500]}, error, started_at, t0)
            return f"Error: {error}"
        if not isinstance(args, dict):
            args = {"value": args}
        assert self.callback is not None
        try:
            tool_call = self.callback.call_tool(name, args)
            reply = self.callback.wait_tool_result(tool_call["id"])
        except InputUnavailable as exc:
            self._record(name, args, str(exc), started_at, t0)
            return f"Error: {exc}"
        paused = float(reply.get("paused_s") or 0.0)
        self.deadline.extend(paused - self.paused_s)
        self.paused_s = max(self.paused_s, paused)
        recorded = {"call_id": tool_call["id"], "arguments": args}
        if reply.get("status") != "answered":
            error = f"{name} did not answer in time (tool_timeout_s); go on without it"
        elif reply.get("error"):
            error = f"{name} failed: {str(reply['error'])[:2000]}"
        else:
            error = None
        output = None if error else reply.get("output")
        recorded["output"] = output
        self._record(name, recorded, error, started_at, t0)
        if error:
            return f"Error: {error}"
        return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)

    def _ask_human(self, arguments: str | dict[str, Any] | None) -> str:
        """Ask the person, wait (the deadline moves by the time waited) and return the answer as the
        tool's result. The answer is a secret: it is redacted from every evidence file by the
        request's id, and never logged. No answer by the input deadline ends the run INPUT_TIMEOUT."""
        started_at, t0 = now_iso(), time.monotonic()
        try:
            if not self.spec.human_input or self.callback is None:
                raise ToolArgsError(f"unknown tool {ASK_HUMAN!r}: this run cannot ask for input")
            args = parse_args(ASK_HUMAN, arguments)
            assert isinstance(args, AskHumanArgs)
        except ToolArgsError as exc:
            self._record(ASK_HUMAN, {"raw": str(arguments)[:500]}, str(exc), started_at, t0)
            return f"Error: {exc}"
        recorded: dict[str, Any] = {"question": args.question, "fields": args.fields}
        if self.asks >= MAX_ASKS:
            error = f"at most {MAX_ASKS} questions per run; go on without it or call done"
            self._record(ASK_HUMAN, recorded, error, started_at, t0)
            return f"Error: {error}"
        self.asks += 1
        try:
            request = self.callback.ask(args.question, args.fields)
        except InputUnavailable as exc:
            self._record(ASK_HUMAN, recorded, str(exc), started_at, t0)
            return f"Error: {exc}"
        recorded["request_id"] = request["id"]
        try:
            reply = self.callback.wait_answer(request["id"])
        except InputUnavailable as exc:
            raise AgentFailure(ErrorCode.AGENT_CRASHED, str(exc)) from exc
        paused = float(reply.get("paused_s") or 0.0)
        self.deadline.extend(paused - self.paused_s)
        self.paused_s = max(self.paused_s, paused)
        if reply.get("status") != "answered":
            self._record(ASK_HUMAN, recorded, "no answer by the input deadline", started_at, t0)
            raise AgentFailure(ErrorCode.INPUT_TIMEOUT, f"no answer to request {request['id']} by its input deadline")
        answer = reply.get("answer")
        for leaf in _strings(answer):
            self.evidence.redact(leaf, request["id"])
        self._record(ASK_HUMAN, recorded, None, started_at, t0)
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return f"The person answered: {text}"

    # -- replay -------------------------------------------------------------------------------
    def run_replay(self) -> RunResult:
        """Perform the recorded steps with no LLM, then finish with the recorded done arguments."""
        assert self.spec.replay is not None
        steps = self.spec.replay.steps
        self._observe()
        for step in steps[:-1]:
            self._check_time()
            if self.actions >= self.spec.max_steps:
                raise AgentFailure(ErrorCode.AGENT_MAX_STEPS, f"replay has more than {self.spec.max_steps} steps")
            outcome = self._act(step.action, step.args)
            self.actions += 1
            if outcome.error:
                log.warning("replay step failed", extra={"action": step.action, "error": outcome.error})
            self._observe()
        result, error = self._attempt_done(steps[-1].args)
        if result is None:
            raise AgentFailure(ErrorCode.SCHEMA_UNSATISFIED, f"replayed done is invalid: {error}")
        return result

    # -- LLM ----------------------------------------------------------------------------------
    def _header(self) -> str:
        left = self.spec.max_steps - self.actions
        return (
            f"[{self.actions} of {self.spec.max_steps} actions used; {max(0, int(self.deadline.remaining()))}s left]"
            + (" This is your last action: call done next unless it is essential." if left == 1 else "")
        )

    def _ask(self, llm: LLMClient, conversation: Conversation, tools: list[dict[str, Any]]) -> LLMReply:
        try:
            response_format = (
                tool_call_format(tools, self.spec.output_schema) if self.options.constrained_output else None
            )
            # The model never sees a secret's value, only its placeholder (a page may echo a value).
            messages = self.secrets.mask_data(conversation.messages())
            return llm.complete(messages, tools, self.deadline, self.options.llm_timeout_s, response_format)
        except LLMTimeout as exc:  # the run's time ran out inside the call or before its retry
            raise AgentFailure(
                ErrorCode.AGENT_TIMEOUT,
                f"run exceeded max_duration_s={self.spec.max_duration_s:g} waiting for the model "
                f"after {self.evidence.steps_written} steps ({exc})",
            ) from exc

    def _after_manual(self, conversation: Conversation) -> None:
        """After a person had control (a session's take-over): what they did, and a fresh look."""
        note, self.manual_note = self.manual_note, None
        if not note:
            return
        conversation.add_user(note)
        obs = self._observe()
        conversation.set_observation(obs.render(self._header()), obs.brief())

    def run_llm(self, llm: LLMClient) -> RunResult:
        spec = self.spec
        all_tools = tool_specs(
            spec.human_input, spec.tools if self.callback is not None else [], with_files=bool(spec.files)
        )
        custom = {t["name"] for t in spec.tools} if self.callback is not None else set()
        done_only = [t for t in all_tools if t["function"]["name"] == "done"]
        # A URL named in the prompt is opened first when there is no start_url: a small model
        # otherwise answers from memory without ever looking.
        start_url = spec.start_url or url_in_prompt(spec.prompt)
        conversation = Conversation(
            build_system_prompt(spec, constrained=self.options.constrained_output),
            build_task_message(spec, start_url),
            keep_turns=self.options.keep_turns,
        )
        if start_url:
            self._act("navigate", {"url": start_url})
        obs = self._observe()
        conversation.set_observation(obs.render(self._header()), obs.brief())
        budget = 0  # browser actions + replies without a tool call
        told_last_turn = False
        while True:
            self._check_time()
            self._after_manual(conversation)
            last_turn = budget >= spec.max_steps
            if last_turn and not told_last_turn:
                conversation.add_user(_LAST_TURN.format(n=spec.max_steps))
                told_last_turn = True
            reply = self._ask(llm, conversation, done_only if last_turn else all_tools)
            self.llm_call = llm.calls
            self._check_time()
            conversation.start_turn(reply.assistant_message)
            if self.manual_note and reply.tool_calls:  # chosen on the page before a person changed it
                for call in reply.tool_calls:
                    name = call.name if reply.calls_in_content else None
                    text = "Not executed: a person took control of the browser meanwhile"
                    conversation.add_tool_result(call.id, text, f"{call.name}: skipped", name=name)
                continue
            if not reply.tool_calls:
                if last_turn:
                    raise AgentFailure(ErrorCode.AGENT_MAX_STEPS, f"no answer after {spec.max_steps} steps")
                budget += 1
                conversation.add_user(_NUDGE_TOOL)
                continue
            stop_reason = ""
            acted = tried_done = False
            for call in reply.tool_calls:
                # Calls written in the content get their results as user messages naming the tool.
                as_user = call.name if reply.calls_in_content else None
                if stop_reason:
                    conversation.add_tool_result(
                        call.id, f"Not executed: {stop_reason}", f"{call.name}: skipped", name=as_user
                    )
                    continue
                if call.name == "done":
                    tried_done = True
                    result, error = self._attempt_done(call.arguments)
                    if result is not None:
                        return result
                    if self.schema_repairs >= MAX_SCHEMA_REPAIRS:
                        raise AgentFailure(
                            ErrorCode.SCHEMA_UNSATISFIED,
                            f"done result still invalid after {MAX_SCHEMA_REPAIRS} corrections: {error[:500]}",
                        )
                    self.schema_repairs += 1
                    left = MAX_SCHEMA_REPAIRS - self.schema_repairs
                    # A null where a value is required means "not read yet": the 1.5B model, told only
                    # to fix it, made a number up (the eval's search-year and login-balance runs).
                    missing = (
                        MISSING_VALUE.format(n=spec.max_steps - budget)
                        if "got null" in error and budget < spec.max_steps
                        else ""
                    )
                    conversation.add_tool_result(
                        call.id,
                        f"Error: {error}\n{missing}Fix the result and call done again "
                        f"({left} more correction(s) allowed).",
                        "done: result rejected by the output schema",
                        name=as_user,
                    )
                    stop_reason = "done must be corrected first"
                    continue
                if call.name == ASK_HUMAN:  # not a browser action: it does not use up a step
                    text = self._ask_human(call.arguments)
                    brief = "ask_human: " + ("error" if text.startswith("Error") else "answered")
                    conversation.add_tool_result(call.id, text, brief, name=as_user)
                    continue
                if call.name in custom and budget < spec.max_steps:  # a step, but not a browser action
                    text = self._custom_tool(call.name, call.arguments)
                    budget += 1
                    conversation.add_tool_result(call.id, text, f"{call.name}: {text[:160]}", name=as_user)
                    continue
                if budget >= spec.max_steps:
                    stop_reason = "the step limit is reached; call done"
                    conversation.add_tool_result(
                        call.id, f"Not executed: {stop_reason}", f"{call.name}: skipped", name=as_user
                    )
                    continue
                self._check_time()
                if self.manual_note:
                    stop_reason = "a person took control of the browser meanwhile; read the new snapshot first"
                    conversation.add_tool_result(
                        call.id, f"Not executed: {stop_reason}", f"{call.name}: skipped", name=as_user
                    )
                    continue
                already = self._already_open(call.name, call.arguments)
                if already:
                    budget += 1
                    conversation.add_tool_result(call.id, already, f"navigate: {already[:160]}", name=as_user)
                    continue
                url_before = page_url(self.session.page)
                frame_before = _main_frame(self.session.page)
                page_before = self.observation.full_text if self.observation else None
                outcome = self._act(call.name, call.arguments)
                budget += 1
                self.actions += 1
                acted = True
                text = f"Error: {outcome.error}. {outcome.message}".strip() if outcome.error else outcome.message
                repeated = self.repeats.note(call.name, call.arguments, page_before)
                text = f"{text} {repeated}".strip() if repeated else text
                conversation.add_tool_result(
                    call.id, text, f"{call.name}({call.arguments[:120]}): {text[:160]}", name=as_user
                )
                # A navigate or go_back loads a new document even to the same URL (the real model
                # reopened the page it was on and clicked in the same reply): the old refs are stale.
                if (
                    outcome.error
                    or call.name in NEW_DOCUMENT_ACTIONS
                    or page_url(self.session.page) != url_before
                    or _main_frame(self.session.page) is not frame_before
                ):
                    stop_reason = "the page changed or the previous action failed; read the new snapshot first"
            if last_turn and not tried_done:
                raise AgentFailure(ErrorCode.AGENT_MAX_STEPS, f"no answer after {spec.max_steps} steps")
            if acted:
                obs = self._observe()
                conversation.set_observation(obs.render(self._header()), obs.brief())


NEW_DOCUMENT_ACTIONS = frozenset({"navigate", "go_back"})


def _same_url(asked: str, current: str) -> bool:
    """The same page: equal but for a trailing slash of the path or a fragment."""

    def norm(url: str) -> str:
        return url.split("#", 1)[0].rstrip("/")

    return norm(asked) == norm(current)


def _main_frame(page: Any) -> Any:
    """The page's main frame object (a new one after a cross-document navigation in Chromium)."""
    try:
        return page.main_frame
    except Exception:  # a closed page
        return None


def _strings(value: Any) -> list[str]:
    """The string leaves of an answer (what is redacted); numbers count as their text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
