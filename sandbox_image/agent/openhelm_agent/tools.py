"""The tools offered to the model: parameter models (their descriptions reach the model) and execution."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from openhelm_agent.browser import BLOCKED_STATUS, BrowserSession, page_url, short_error
from openhelm_agent.secrets import PLACEHOLDER, SecretBook, SecretRefused

if TYPE_CHECKING:
    from openhelm_agent.clock import Deadline

_REF = "Element ref from the LATEST snapshot: the number in brackets after the element, e.g. '12' for [12]."


def _bare_ref(value: Any) -> Any:
    """``12``, ``"[12]"``, ``"ref=12"`` -> ``"12"``: small models wrap the number as the snapshot shows it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        text = value.strip().strip("[]").strip()
        return text[4:].strip() if text.startswith("ref=") else text
    return value


Ref = Annotated[str, BeforeValidator(_bare_ref)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NavigateArgs(_Args):
    url: str = Field(description="Absolute http(s) URL to open in the current tab.")


class ClickArgs(_Args):
    ref: Ref = Field(description=_REF)


class TypeArgs(_Args):
    ref: Ref = Field(description=_REF + " Must be a text box, search box or text area.")
    text: str = Field(
        description="Text to put into the field (replaces what is there). For a secret of this run, write "
        "its placeholder exactly, e.g. '<secret:password>': the value is filled in for you."
    )
    submit: bool = Field(default=False, description="Press Enter after typing (submits most forms).")


class SelectArgs(_Args):
    ref: Ref = Field(description=_REF + " Must be a combobox / <select>.")
    value: str = Field(description="The option to choose: its value or its visible label.")


class UploadFileArgs(_Args):
    ref: Ref = Field(description=_REF + " Must be a file input (often shown as a 'Choose File' button).")
    file: str = Field(description="Name of one of this run's files, exactly as listed in the instructions.")


class ScrollArgs(_Args):
    direction: Literal["up", "down"] = Field(description="Which way to scroll.")
    amount: float = Field(default=1.0, gt=0, le=20, description="How far, in screen heights (1 = one screen).")


class GoBackArgs(_Args):
    pass


class WaitArgs(_Args):
    seconds: float = Field(ge=0, le=30, description="How long to wait, in seconds (at most 30).")


class ExtractArgs(_Args):
    query: str = Field(
        default="", description="Text to find on the whole page (case-insensitive); empty: read by part."
    )
    part: int = Field(default=1, ge=1, le=1000, description="Without a query: which part of a long page to read.")


class DoneArgs(_Args):
    result: Any = Field(description="The answer, as JSON that validates against the output schema in the instructions.")
    confidence: float = Field(
        ge=0,
        le=1,
        description="How sure you are that the result is correct and complete, from 0.0 to 1.0.",
    )
    summary: str = Field(description="One or two sentences: what you found and where.")


class AskHumanArgs(_Args):
    question: str = Field(description="What you need from the person, in one or two sentences.")
    fields: dict[str, Any] | None = Field(
        default=None,
        description='Optional small JSON Schema of the answer, e.g. {"type": "object", "properties": '
        '{"code": {"type": "string"}}, "required": ["code"]}; without it the answer is one string.',
    )


# Offered only when the run allows it (spec.human_input); loop.py runs it, not the executor.
ASK_HUMAN = "ask_human"
TOOLS: dict[str, tuple[type[_Args], str]] = {
    "navigate": (NavigateArgs, "Open a URL in the current tab. Prefer clicking links found on the page."),
    "click": (ClickArgs, "Click the element with this ref (link, button, tab, checkbox ...)."),
    "type": (TypeArgs, "Type text into the input with this ref; submit=true presses Enter afterwards."),
    "select": (SelectArgs, "Choose an option of the drop-down (combobox) with this ref."),
    "upload_file": (UploadFileArgs, "Put one of this run's files on the file input with this ref."),
    "scroll": (
        ScrollArgs,
        "Scroll the page. The snapshot already lists the whole page; scroll to load lazy content.",
    ),
    "go_back": (GoBackArgs, "Go back to the previous page of this tab."),
    "wait": (WaitArgs, "Wait for the page to finish loading or updating."),
    "extract": (
        ExtractArgs,
        "Read the whole current page as text when the snapshot was shortened: the lines matching a "
        "query, or the page part by part. Does not change the page.",
    ),
    ASK_HUMAN: (
        AskHumanArgs,
        "Ask the person who started the run for something only they have (a one-time code, a login, a "
        "choice); the run waits for the answer. Use it only when you cannot go on without it.",
    ),
    "done": (
        DoneArgs,
        "Finish the task with the result, your confidence and a short summary. Ends the run "
        "if the result matches the output schema; otherwise you get the errors and can call it again.",
    ),
}


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


# Offered only to a run that has files (RunSpec.files): the others would never use it.
FILE_TOOLS = frozenset({"upload_file"})


def tool_specs(
    human_input: bool = False, custom: list[dict[str, Any]] | None = None, *, with_files: bool = False
) -> list[dict[str, Any]]:
    """The tools in OpenAI chat-completions ``tools`` format (ask_human only if ``human_input``,
    ``upload_file`` only ``with_files``), after the caller's own ``custom`` tools."""
    own = [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t["description"], "parameters": t["parameters"]},
        }
        for t in custom or []
    ]
    return own + [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": _strip_titles(model.model_json_schema()),
            },
        }
        for name, (model, description) in TOOLS.items()
        if (with_files or name not in FILE_TOOLS) and (human_input or name != ASK_HUMAN)
    ]


# Roles whose element takes typed text, and those select() works on (from the snapshot).
TEXT_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton"})
SELECT_ROLES = frozenset({"combobox", "listbox"})
# What is listed as an alternative: a <select> is a combobox too, so comboboxes are not offered for text.
_KINDS = {
    "type": (TEXT_ROLES, TEXT_ROLES - {"combobox"}, "a text input", "text inputs"),
    "select": (SELECT_ROLES, SELECT_ROLES, "a drop-down", "drop-downs"),
}
MAX_LISTED_ALTERNATIVES = 8


def describe(ref: str, elements: Mapping[str, tuple[str, str]]) -> str:
    """``ref e12 (link "Pricing")``: the ref as the snapshot shows it."""
    role, name = elements.get(ref, ("", ""))
    if not role:
        return f"ref {ref}"
    return f'ref {ref} ({role} "{name[:60]}")' if name else f"ref {ref} ({role})"


def _listed(items: list[str]) -> str:
    """The first ``MAX_LISTED_ALTERNATIVES`` items, comma-separated, with " …" when there are more."""
    return ", ".join(items[:MAX_LISTED_ALTERNATIVES]) + (" …" if len(items) > MAX_LISTED_ALTERNATIVES else "")


# A number no snapshot of this run ever showed (the real model clicked "14", the row number of a table
# whose text already held the answer, twice: the eval's table-lagos). "The page changed" would be untrue.
NO_SUCH_REF = (
    "no element has ref {ref!r}: refs are the numbers in brackets after links, buttons and fields, e.g. "
    "'link Pricing [3]'; text, headings and table cells have none and need no click. If the snapshot "
    "shows the answer, call done with it"
)


def stale_ref(ref: str, elements: Mapping[str, tuple[str, str]]) -> str:
    """The error for a ref of an earlier snapshot, naming what the page has now: the real model clicked
    the sign-in button's number three more times after signing in (the eval's login-balance)."""
    listed = _listed([f"{r} ({role} {name[:40]})" if name else f"{r} ({role})" for r, (role, name) in elements.items()])
    return (
        f"ref {ref!r} is not in the latest snapshot (the page changed); use a ref from the latest snapshot"
        + (f". It has: {listed}" if listed else "")
        + ". If the snapshot shows the answer, call done with it"
    )


def wrong_kind(action: str, ref: str, elements: Mapping[str, tuple[str, str]], *, force: bool = False) -> str:
    """The error for typing into / selecting on an element of the wrong kind, naming the ones that
    would work; "" when the element is of the right kind (or unknown, unless ``force``)."""
    if action not in _KINDS:
        return ""
    roles, offered, one, many = _KINDS[action]
    role = elements.get(ref, ("", ""))[0]
    if not force and (not role or role in roles):
        return ""
    alternatives = [f"{r} ({n[:40]})" if n else r for r, (kind, n) in elements.items() if kind in offered and r != ref]
    listed = _listed(alternatives)
    role_text = f"a {role}" if role else "an element"
    name = elements.get(ref, ("", ""))[1]
    head = f"ref {ref} is {role_text}" + (f' "{name[:60]}"' if name else "") + f", not {one}"
    if action == "type" and role in SELECT_ROLES:  # a <select>: what the model wants is select()
        head += f"; to choose one of its options use select(ref={ref!r}, value=...)"
    return (
        f"{head}; {many} on this page: {listed}"
        if alternatives
        else f"{head}; there is no {one[2:] if one.startswith('a ') else one} on this page"
    )


class ToolArgsError(ValueError):
    """Unknown tool or arguments that do not fit its parameter model (sent back to the model)."""


def parse_args(name: str, arguments: str | dict[str, Any] | None) -> _Args:
    """Validate a tool call's arguments (a JSON string from the model, or a dict from a replay)."""
    if name not in TOOLS:
        raise ToolArgsError(f"unknown tool {name!r}; use one of: {', '.join(TOOLS)}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise ToolArgsError(f"arguments of {name} are not valid JSON: {exc}") from exc
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolArgsError(f"arguments of {name} must be a JSON object")
    try:
        return TOOLS[name][0].model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
        raise ToolArgsError(f"invalid arguments for {name}: {problems}") from exc


@dataclass
class ToolOutcome:
    message: str
    error: str | None = None


class ToolExecutor:
    """Runs one browser action on the session's current page, every wait bounded by the deadline."""

    def __init__(
        self,
        session: BrowserSession,
        deadline: Deadline,
        *,
        action_timeout_s: float = 10.0,
        navigation_timeout_s: float = 30.0,
        settle_timeout_s: float = 3.0,
        secrets: SecretBook | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.secrets = secrets or SecretBook()
        self.files = dict(files or {})  # name -> path in the sandbox
        self.deadline = deadline
        self.action_timeout_s = action_timeout_s
        self.navigation_timeout_s = navigation_timeout_s
        self.settle_timeout_s = settle_timeout_s
        self._aria: dict[str, str] = {}  # short ref -> aria ref of the latest snapshot

    def execute(
        self,
        name: str,
        args: _Args,
        known_refs: Mapping[str, str],
        elements: Mapping[str, tuple[str, str]] | None = None,
        handed_out: Callable[[str], object] | None = None,
    ) -> ToolOutcome:
        """Run the action; its errors (bad ref, wrong kind of element, timeouts) come back as an
        error outcome that says what the ref is and what would work (``known_refs``: short ref ->
        Playwright aria ref, ``elements``: short ref -> role, name, both of the latest snapshot),
        not as Playwright's text."""
        elements = elements or {}
        ref = getattr(args, "ref", None)
        if ref is not None and ref not in known_refs:
            # ``handed_out``: the run's own ref map, telling a number of an earlier snapshot from one
            # that never was (without it, every unknown ref is taken for a stale one).
            if handed_out is not None and not handed_out(ref):
                return ToolOutcome("", NO_SUCH_REF.format(ref=ref))
            return ToolOutcome("", stale_ref(ref, elements))
        self._aria = dict(known_refs)
        if ref is not None:
            mismatch = wrong_kind(name, ref, elements)
            if mismatch:
                return ToolOutcome("", mismatch)
        try:
            handler: Callable[[Any], ToolOutcome] = getattr(self, f"_do_{name}")
            outcome = handler(args)
        except Exception as exc:  # Playwright errors and timeouts are data for the model
            return ToolOutcome("", self._explain(name, args, exc, elements))
        if name not in ("wait", "scroll"):
            self._settle()
        return outcome

    def _explain(self, name: str, args: _Args, exc: Exception, elements: Mapping[str, tuple[str, str]]) -> str:
        """A short, actionable message for a failed action (Playwright's own text as a last resort)."""
        ref = getattr(args, "ref", None)
        raw = str(exc)
        if ref is None:
            if "Timeout" in raw:
                return f"{name} did not finish within the time allowed; the site may be slow: try again or wait"
            return f"{name} failed: {short_error(exc)}"
        what = describe(ref, elements)
        if "is not an <input>" in raw or "not an <input>, <textarea>" in raw:
            return wrong_kind("type", ref, elements, force=True) or f"{what} cannot take text"
        if "not a <select>" in raw:
            return wrong_kind("select", ref, elements, force=True) or f"{what} is not a drop-down"
        if name == "select" and "did not find some options" in raw:
            options = self._options(ref)
            value = getattr(args, "value", "")
            listed = ", ".join(repr(o) for o in options[:20]) if options else "none found"
            return f"{what} has no option {value!r}; its options: {listed}"
        if "not attached" in raw or "detached" in raw:
            return f"{what} is gone: the page changed; use a ref from the new snapshot"
        if "intercepts pointer events" in raw:
            return f"{what} is covered by another element (a dialog, banner or overlay?); close that first, or scroll"
        if "not enabled" in raw or "disabled" in raw:
            return f"{what} is disabled; fill in or select what it depends on first, or use another element"
        if "not visible" in raw or "Timeout" in raw:
            return (
                f"{what} could not be used within {self.action_timeout_s:g}s: it is probably hidden or not ready; "
                "open the menu or section that holds it, scroll to it, or wait"
            )
        return f"{name} on {what} failed: {short_error(exc)}"

    def _locate(self, ref: str) -> Any:
        """The element behind a short ref of the latest snapshot (Playwright's ``aria-ref=``)."""
        return self.session.page.get_by_ref(self._aria.get(ref, ref))

    def _options(self, ref: str) -> list[str]:
        with contextlib.suppress(Exception):
            labels = self._locate(ref).evaluate(
                "el => Array.from(el.options || el.querySelectorAll('[role=option]'))"
                ".map(o => (o.label || o.textContent || '').trim())",
                timeout=self._timeout_ms(1.0),
            )
            return [str(label) for label in labels if label]
        return []

    def _timeout_ms(self, seconds: float | None = None) -> float:
        return self.deadline.cap_ms(self.action_timeout_s if seconds is None else seconds)

    def _settle(self) -> None:
        """Let the page react: network quiet for a moment, then DOMContentLoaded of whatever document
        is current (bounded by the deadline; errors ignored)."""
        self.session.wait_for_quiet(max_ms=min(1000.0, self._timeout_ms(1.0)))
        with contextlib.suppress(Exception):
            self.session.page.wait_for_load_state("domcontentloaded", timeout=self._timeout_ms(self.settle_timeout_s))

    def _do_navigate(self, args: NavigateArgs) -> ToolOutcome:
        if not args.url.lower().startswith(("http://", "https://")):
            return ToolOutcome("", "navigate needs an absolute http:// or https:// URL")
        page = self.session.page
        response = page.goto(
            args.url, wait_until="domcontentloaded", timeout=self._timeout_ms(self.navigation_timeout_s)
        )
        status = response.status if response is not None else None
        if response is not None and status == BLOCKED_STATUS and response.url in self.session.blocked_urls:
            return ToolOutcome("", f"blocked by policy: {args.url} is not an allowed domain for this run")
        if status is not None and status >= 400:
            return ToolOutcome(f"opened {page_url(page)} (HTTP {status})")
        return ToolOutcome(f"opened {page_url(page)}")

    def _do_click(self, args: ClickArgs) -> ToolOutcome:
        self._locate(args.ref).click(timeout=self._timeout_ms())
        return ToolOutcome(f"clicked {args.ref}")

    def _do_type(self, args: TypeArgs) -> ToolOutcome:
        locator = self._locate(args.ref)
        text = args.text
        if PLACEHOLDER.search(text):
            # The field's own document decides, not the tab's: a matching page may frame another site.
            where = str(locator.evaluate("el => el.ownerDocument.location.href", timeout=self._timeout_ms()))
            try:
                text = self.secrets.fill(text, where)
            except SecretRefused as exc:
                return ToolOutcome("", str(exc))
        locator.fill(text, timeout=self._timeout_ms())
        if args.submit:
            locator.press("Enter", timeout=self._timeout_ms())
        return ToolOutcome(f"typed into {args.ref}" + (" and pressed Enter" if args.submit else ""))

    def _do_select(self, args: SelectArgs) -> ToolOutcome:
        chosen = self._locate(args.ref).select_option(args.value, timeout=self._timeout_ms())
        return ToolOutcome(f"selected {', '.join(chosen) or args.value} in {args.ref}")

    def _do_upload_file(self, args: UploadFileArgs) -> ToolOutcome:
        path = self.files.get(args.file)
        if path is None:
            listed = ", ".join(repr(n) for n in self.files) or "none"
            return ToolOutcome("", f"there is no file {args.file!r} in this run; its files: {listed}")
        locator = self._locate(args.ref)
        try:
            locator.set_input_files(path, timeout=self._timeout_ms())
        except Exception as exc:
            text = str(exc)
            if "HTMLInputElement" in text or "type=file" in text or "file input" in text.lower():
                return ToolOutcome("", f"ref {args.ref} is not a file input; use the page's file chooser input")
            raise
        return ToolOutcome(f"put {args.file} on {args.ref}")

    def _do_scroll(self, args: ScrollArgs) -> ToolOutcome:
        page = self.session.page
        height = (page.viewport_size or {"height": 800})["height"]
        delta = int(height * args.amount) * (1 if args.direction == "down" else -1)
        page.mouse.move(640, 400)
        page.mouse.wheel(0, delta)
        position = page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
            "() => r([Math.round(scrollY), document.documentElement.scrollHeight]))))"
        )
        return ToolOutcome(f"scrolled {args.direction}; now at y={position[0]} of {position[1]}px")

    def _do_go_back(self, args: GoBackArgs) -> ToolOutcome:
        page = self.session.page
        before = page_url(page)
        response = page.go_back(wait_until="domcontentloaded", timeout=self._timeout_ms(self.navigation_timeout_s))
        if response is None and page_url(page) == before:
            return ToolOutcome("", "there is no previous page to go back to")
        return ToolOutcome(f"went back to {page_url(page)}")

    def _do_wait(self, args: WaitArgs) -> ToolOutcome:
        seconds = self.deadline.cap(args.seconds) if args.seconds > 0 else 0
        if seconds > 0:
            self.session.page.wait_for_timeout(seconds * 1000)
        return ToolOutcome(f"waited {seconds:.1f}s")
