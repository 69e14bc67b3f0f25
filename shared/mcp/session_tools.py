"""The sessions toolset: one live browser for many tasks and direct actions (docs/sessions.md).

create_session, get_session, list_sessions, run_session_task, session_action, control_session and
close_session, thin over the backend's session calls as :mod:`shared.mcp.tools`' run tools are over
its run calls. A task is a run: run_session_task answers the run's summary (plus its session), and
get_run / cancel_run then apply to it. A direct action is synchronous and bounded (about 25 s).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from shared.mcp.args import SessionWaitS, WaitS, _call
from shared.mcp.summary import summarize, summarize_action, summarize_session, summarize_session_page

SessionId = Annotated[str, Field(min_length=1, max_length=40, description="The session id (ses_...).")]
SessionState = Literal["starting", "ready", "busy", "paused", "closed", "expired", "failed"]
ActionName = Literal[
    "navigate", "evaluate", "screenshot", "extract", "click", "type", "key_press", "scroll", "go_back", "wait_for"
]


def _some(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def register_session_tools(server: MCPServer, backend: Any) -> None:
    """Session tools over ``backend`` (a BackendProvider, see :mod:`shared.mcp.tools`)."""

    @server.tool(annotations=ToolAnnotations(title="Open a browser session", open_world_hint=True))
    def create_session(
        start_url: Annotated[str | None, Field(description="Page the browser opens when it starts.")] = None,
        allowed_domains: Annotated[
            list[str] | None, Field(description="If set, the only domains the browser may visit.")
        ] = None,
        blocked_domains: Annotated[list[str] | None, Field(description="Domains the browser may never visit.")] = None,
        idle_timeout_s: Annotated[
            int | None, Field(description="Seconds without a task or action before it closes.")
        ] = None,
        max_duration_s: Annotated[int | None, Field(description="Seconds it may live at most.")] = None,
        metadata: Annotated[dict[str, str] | None, Field(description="Up to 16 string pairs.")] = None,
        wait_s: SessionWaitS = 0,
    ) -> dict[str, Any]:
        """Start a sandboxed browser that stays open for many tasks and direct actions. Answers at once
        with status starting (or once it is ready, within wait_s); it is ready within a few seconds
        (get_session with wait_s). Close it when done: its sandbox time is billed while it lives."""
        body = _some(
            start_url=start_url,
            allowed_domains=allowed_domains,
            blocked_domains=blocked_domains,
            idle_timeout_s=idle_timeout_s,
            max_duration_s=max_duration_s,
            metadata=metadata,
        )
        return _call(lambda: summarize_session(backend().create_session(body, wait_s)))

    @server.tool(annotations=ToolAnnotations(title="Get a session", read_only_hint=True))
    def get_session(session_id: SessionId, wait_s: SessionWaitS = 0) -> dict[str, Any]:
        """A session's status, its page (URL and title) and its running task. With wait_s, answers when
        it is no longer starting or busy (ready for the next task or action, or ended), or after wait_s."""
        return _call(lambda: summarize_session(backend().get_session(session_id, wait_s)))

    @server.tool(annotations=ToolAnnotations(title="List sessions", read_only_hint=True))
    def list_sessions(
        limit: Annotated[int, Field(ge=1, le=100, description="Sessions per page.")] = 10,
        status: Annotated[SessionState | None, Field(description="Only sessions in this status.")] = None,
        cursor: Annotated[str | None, Field(max_length=2000, description="next_cursor of the previous page.")] = None,
    ) -> dict[str, Any]:
        """The org's sessions, newest first."""
        return _call(lambda: summarize_session_page(backend().list_sessions(limit, cursor, status)))

    @server.tool(annotations=ToolAnnotations(title="Run a task in a session", open_world_hint=True))
    def run_session_task(
        session_id: SessionId,
        prompt: Annotated[
            str, Field(min_length=3, max_length=20_000, description="What the agent should do, in plain words.")
        ],
        output_schema: Annotated[
            dict[str, Any] | None, Field(description="JSON Schema the result must validate against.")
        ] = None,
        start_url: Annotated[str | None, Field(description="Page to open first, in the session's tab.")] = None,
        inputs: Annotated[
            dict[str, Any] | None, Field(description="Values for {{name}} placeholders in the prompt.")
        ] = None,
        model: Annotated[str | None, Field(description="LLM that drives the browser (default: the API's).")] = None,
        max_steps: Annotated[int | None, Field(description="Most browser actions.")] = None,
        max_duration_s: Annotated[int | None, Field(description="Wall-clock budget in seconds.")] = None,
        max_cost_usd: Annotated[str | None, Field(description='Most the task may cost in USD, e.g. "0.50".')] = None,
        metadata: Annotated[dict[str, str] | None, Field(description="Up to 16 string pairs.")] = None,
        idempotency_key: Annotated[
            str | None,
            Field(min_length=1, max_length=255, description="Same key and arguments return the same task (24 h)."),
        ] = None,
        wait_s: WaitS = 0,
    ) -> dict[str, Any]:
        """Run an agent task in a ready session's browser (its cookies and tabs). The task is a run:
        answers its run_id at once (or when it finishes, within wait_s); poll get_run for the result.
        One task at a time: a session that is not ready is an error."""
        body = _some(
            prompt=prompt,
            output_schema=output_schema,
            start_url=start_url,
            inputs=inputs,
            model=model,
            max_steps=max_steps,
            max_duration_s=max_duration_s,
            max_cost_usd=max_cost_usd,
            metadata=metadata,
        )

        def go() -> dict[str, Any]:
            return {
                "session_id": session_id,
                **summarize(backend().run_session_task(session_id, body, idempotency_key, wait_s)),
            }

        return _call(go)

    @server.tool(annotations=ToolAnnotations(title="Take a direct browser action", open_world_hint=True))
    def session_action(
        session_id: SessionId,
        action: Annotated[ActionName, Field(description="What to do (no LLM involved).")],
        url: Annotated[str | None, Field(description="navigate: the URL.")] = None,
        expression: Annotated[str | None, Field(description="evaluate: a JavaScript expression.")] = None,
        ref: Annotated[str | None, Field(description="click/type: an element ref from the last extract.")] = None,
        x: Annotated[float | None, Field(description="click: x in CSS pixels (with y, instead of ref).")] = None,
        y: Annotated[float | None, Field(description="click: y in CSS pixels.")] = None,
        text: Annotated[str | None, Field(description="type: the text; wait_for: text to wait for.")] = None,
        submit: Annotated[bool | None, Field(description="type: press Enter afterwards.")] = None,
        key: Annotated[str | None, Field(description="key_press: a key name (Enter, Tab, Control+A).")] = None,
        direction: Annotated[Literal["up", "down"] | None, Field(description="scroll: which way.")] = None,
        amount: Annotated[float | None, Field(description="scroll: how many screens.")] = None,
        selector: Annotated[str | None, Field(description="wait_for: a CSS selector.")] = None,
        timeout_s: Annotated[float | None, Field(description="evaluate/wait_for: seconds, at most 15.")] = None,
    ) -> dict[str, Any]:
        """One browser action in a ready (or paused) session, answered when done (about 25 s at most):
        ok, its result (extract: the page's elements with refs; evaluate: the value) and the page's URL."""
        body = _some(
            action=action,
            url=url,
            expression=expression,
            ref=ref,
            x=x,
            y=y,
            text=text,
            submit=submit,
            key=key,
            direction=direction,
            amount=amount,
            selector=selector,
            timeout_s=timeout_s,
        )
        return _call(lambda: summarize_action(backend().session_action(session_id, body)))

    @server.tool(annotations=ToolAnnotations(title="Pause, resume or stop a session's task", idempotent_hint=False))
    def control_session(
        session_id: SessionId,
        verb: Annotated[
            Literal["pause", "resume", "stop"],
            Field(description="pause the running task, resume it, or stop it (the session stays, ready)."),
        ],
    ) -> dict[str, Any]:
        """Pause, resume or stop the task running in a session."""
        return _call(lambda: summarize_session(backend().control_session(session_id, verb)))

    @server.tool(annotations=ToolAnnotations(title="Close a session", destructive_hint=True))
    def close_session(session_id: SessionId) -> dict[str, Any]:
        """End a session and its browser (a running task ends cancelled). A closed session is an error."""
        return _call(lambda: summarize_session(backend().close_session(session_id)))
