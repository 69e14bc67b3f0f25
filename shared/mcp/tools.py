"""The MCP tool registry and the server built from it (official ``mcp`` SDK, ``MCPServer``).

Tools are grouped in toolsets, one per resource, each a ``register(server, backend)`` function; the
server is every toolset of :data:`TOOLSETS` over one backend provider (a callable answering the
backend of the request being served: in-process for the API's ``/mcp``, the public HTTP API for
``openhelm mcp``). Sessions are one more toolset (:mod:`shared.mcp.session_tools`: create a session,
run a task in it, send a direct action, pause / resume / stop its task, close it).

Every tool answers at once with ids and a short summary (:mod:`shared.mcp.summary`); the only waits
are ``wait_s`` on create_run, get_run, run_session_task, create_session and get_session (the session
tools wait while it starts or is busy), bounded by ``MAX_WAIT_S`` (API Gateway ends every request at
30 s). Failures of the API come back as tool errors (``is_error``) that name the API's code and status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from shared.mcp.args import RunId, Status, WaitS, _call
from shared.mcp.backend import RunsBackend
from shared.mcp.session_tools import register_session_tools
from shared.mcp.summary import summarize, summarize_page
from shared.version import VERSION

BackendProvider = Callable[[], RunsBackend]
SERVER_NAME = "openhelm"
INSTRUCTIONS = (
    "OpenHelm runs a browser agent in a sandbox for a natural-language task and returns JSON (valid "
    "against output_schema when given), a confidence score and screenshots. Start a run with "
    "create_run (optionally wait_s up to 25 s); runs usually take longer: poll get_run with wait_s "
    "until finished is true, then read result. Cancel a run you no longer need. A run in needs_input or "
    "waiting_for_tool shows its question or tool call: answer with answer_input or send_tool_result. For "
    "many tasks in one browser (its login, cookies, tabs), open a session with create_session (wait_s: "
    "until its browser is up; else get_session with wait_s), then run_session_task and session_action "
    "(direct, no LLM), and close_session when done."
)


def register_run_tools(server: MCPServer, backend: BackendProvider) -> None:
    """create_run, get_run, list_runs, cancel_run, answer_input, send_tool_result."""

    @server.tool(annotations=ToolAnnotations(title="Start a browser run", open_world_hint=True))
    def create_run(
        prompt: Annotated[
            str, Field(min_length=3, max_length=20_000, description="What the agent should do, in plain words.")
        ],
        output_schema: Annotated[
            dict[str, Any] | None, Field(description="JSON Schema the result must validate against.")
        ] = None,
        start_url: Annotated[str | None, Field(description="Page the browser opens first.")] = None,
        inputs: Annotated[
            dict[str, Any] | None, Field(description="Values for {{name}} placeholders in the prompt.")
        ] = None,
        allowed_domains: Annotated[
            list[str] | None, Field(description="If set, the only domains the browser may visit.")
        ] = None,
        blocked_domains: Annotated[list[str] | None, Field(description="Domains the browser may never visit.")] = None,
        model: Annotated[str | None, Field(description="LLM that drives the browser (default: the API's).")] = None,
        max_steps: Annotated[int | None, Field(description="Most browser actions.")] = None,
        max_duration_s: Annotated[int | None, Field(description="Wall-clock budget in seconds.")] = None,
        max_cost_usd: Annotated[str | None, Field(description='Most the run may cost in USD, e.g. "0.50".')] = None,
        project_id: Annotated[str | None, Field(description="Project (prj_...); default: the org's.")] = None,
        metadata: Annotated[dict[str, str] | None, Field(description="Up to 16 string pairs.")] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=255,
                description="Same key and same arguments return the same run for 24 h (safe retries).",
            ),
        ] = None,
        wait_s: WaitS = 0,
    ) -> dict[str, Any]:
        """Start a browser agent run. Answers its run_id and status at once (or when it finishes, within
        wait_s); poll get_run for the result."""
        fields = {
            "prompt": prompt,
            "output_schema": output_schema,
            "start_url": start_url,
            "inputs": inputs,
            "allowed_domains": allowed_domains,
            "blocked_domains": blocked_domains,
            "model": model,
            "max_steps": max_steps,
            "max_duration_s": max_duration_s,
            "max_cost_usd": max_cost_usd,
            "project_id": project_id,
            "metadata": metadata,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        return _call(lambda: summarize(backend().create_run(body, idempotency_key, wait_s)))

    @server.tool(annotations=ToolAnnotations(title="Get a run", read_only_hint=True))
    def get_run(run_id: RunId, wait_s: WaitS = 0) -> dict[str, Any]:
        """A run's status and progress; once finished, its result, confidence and error."""
        return _call(lambda: summarize(backend().get_run(run_id, wait_s)))

    @server.tool(annotations=ToolAnnotations(title="List runs", read_only_hint=True))
    def list_runs(
        limit: Annotated[int, Field(ge=1, le=100, description="Runs per page.")] = 10,
        status: Annotated[Status | None, Field(description="Only runs in this status.")] = None,
        cursor: Annotated[str | None, Field(max_length=2000, description="next_cursor of the previous page.")] = None,
    ) -> dict[str, Any]:
        """The org's runs, newest first, one short summary each (no results: get_run has them)."""
        return _call(lambda: summarize_page(backend().list_runs(limit, cursor, status)))

    @server.tool(annotations=ToolAnnotations(title="Cancel a run", destructive_hint=True, idempotent_hint=True))
    def cancel_run(run_id: RunId) -> dict[str, Any]:
        """Cancel a queued or running run and stop its browser. A finished run answers an error."""
        return _call(lambda: summarize(backend().cancel_run(run_id)))

    @server.tool(annotations=ToolAnnotations(title="Answer a run's question"))
    def answer_input(
        run_id: RunId,
        request_id: Annotated[str, Field(min_length=1, max_length=100, description="input_request.id of the run.")],
        answer: Annotated[Any, Field(description="The answer, valid against input_request.schema when it has one.")],
    ) -> dict[str, Any]:
        """Answer the question of a run in needs_input (get_run shows it as input_request); the run
        goes on. The answer is kept sealed, never shown again."""
        return _call(lambda: summarize(backend().answer_input(run_id, {"request_id": request_id, "answer": answer})))

    @server.tool(annotations=ToolAnnotations(title="Send a custom tool's result"))
    def send_tool_result(
        run_id: RunId,
        call_id: Annotated[str, Field(min_length=1, max_length=100, description="tool_call.id of the run.")],
        output: Annotated[Any, Field(description="The tool's output (JSON, at most 32 KiB).")] = None,
        error: Annotated[str | None, Field(max_length=2000, description="Why the tool failed, instead.")] = None,
    ) -> dict[str, Any]:
        """Give the result of the run's own tool call (a run in waiting_for_tool; get_run shows it as
        tool_call): exactly one of output and error. The run goes on."""
        body = {"call_id": call_id, **({"output": output} if output is not None else {})}
        if error is not None:
            body["error"] = error
        return _call(lambda: summarize(backend().send_tool_result(run_id, body)))


# Register order is the order tools are listed in.
TOOLSETS: tuple[Callable[[MCPServer, BackendProvider], None], ...] = (register_run_tools, register_session_tools)


def build_server(backend: BackendProvider) -> MCPServer:
    # MCPServer runs logging.basicConfig at its log_level (a no-op where the root logger has a handler,
    # as in Lambda) and the SDK logs a few INFO lines per stateless request ("session manager
    # started", "Terminating session"): warnings and errors are what our logs want from it.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    server = MCPServer(SERVER_NAME, version=VERSION, instructions=INSTRUCTIONS, log_level="WARNING")
    for register in TOOLSETS:
        register(server, backend)
    return server
