"""A scripted OpenAI-compatible chat-completions server for tests (real HTTP, no model).

Usage::

    from devstack.testing.fake_openai import FakeOpenAI, HttpError, ToolCall, find_ref

    script = [
        ToolCall("navigate", {"url": "http://127.0.0.1:8000/"}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        HttpError(500),                                   # the client retries ...
        ToolCall("done", {"result": {...}, "confidence": 0.9, "summary": "..."}, usage={...}),
    ]
    with FakeOpenAI(script) as llm:
        client = OpenAI(base_url=llm.base_url, api_key="tok")   # http://127.0.0.1:PORT/v1
        ...
        assert llm.requests[0].authorization == "Bearer tok"

Each ``POST .../chat/completions`` (any path prefix, so ``/v1`` or ``/internal/llm/v1`` both work)
consumes the next script entry:

* ``ToolCall(name, args)`` — an assistant message with one tool call (``ToolCalls`` for several);
* ``Text(content)`` — a plain assistant message without tool calls;
* ``HttpError(status, body, retry_after)`` — that HTTP error (an OpenAI-style error body by default);
* ``Stall(seconds, then)`` — a model that hangs: the answer (``then``, default a 500) comes only
  after ``seconds``, or at once when the server stops; ``stall.answered`` tells whether it came;
* ``Raw(body, status, content_type)`` — exactly these bytes (garbage JSON and the like);
* ``Hang(release, max_s)`` — no answer until ``release`` is set (a hung model), then a 504;
* a callable ``f(body) -> reply`` — called with the decoded request body; returns one of the above.

``add(*replies)`` appends to the script; ``reset(*replies)`` replaces it and forgets the recorded
requests (one server shared by several tests). When the script runs out, the server answers
``when_exhausted`` (default: HTTP 500 "script exhausted"), so a runaway client fails loudly instead
of hanging. Every request (chat or not) is recorded in ``requests`` with its path, headers and
decoded body. Other paths answer 404.

To embed the script engine in another fake server (e.g. a fake control plane that also serves
the LLM gateway path), call ``respond(method, path, headers, body_bytes)`` from its own
``respond`` and serve that with ``make_handler``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

__all__ = [
    "FakeOpenAI",
    "FakeResponse",
    "Hang",
    "HttpError",
    "Raw",
    "RecordedRequest",
    "Stall",
    "Text",
    "ToolCall",
    "ToolCalls",
    "find_ref",
    "last_user_text",
    "make_handler",
]


@dataclass(frozen=True)
class ToolCall:
    """Reply with one tool call. ``usage`` overrides the server's default usage block."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class ToolCalls:
    """Reply with several tool calls in one assistant message."""

    calls: tuple[ToolCall, ...]
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Text:
    """Reply with a plain assistant message (no tool call)."""

    content: str
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class HttpError:
    """Answer with an HTTP error. ``body`` defaults to ``{"error": {"message", "type", "code"}}``."""

    status: int
    body: Mapping[str, Any] | str | None = None
    retry_after: float | None = None
    code: str | None = None


@dataclass
class Stall:
    """A model that hangs for ``seconds`` before answering ``then`` (released early by ``stop``)."""

    seconds: float
    then: Any = None
    released: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> Any:
        self.released.wait(self.seconds)
        return self.then if self.then is not None else HttpError(500, code="stall_over")


@dataclass(frozen=True)
class Raw:
    """Answer with these exact bytes (a model server gone wrong: garbage JSON, HTML, truncation)."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class Hang:
    """Hold the request without answering (a hung model) until ``release`` is set or ``max_s``
    passes, then answer HTTP 504. Set ``release`` at the end of a test so no handler thread lingers."""

    release: threading.Event = field(default_factory=threading.Event)
    max_s: float = 600.0


Reply = Union[ToolCall, ToolCalls, Text, HttpError, Stall, Raw, Hang, Callable[[dict[str, Any]], Any]]  # noqa: UP007


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def is_chat(self) -> bool:
        return self.path.rstrip("/").endswith("/chat/completions")


@dataclass(frozen=True)
class FakeResponse:
    status: int
    headers: dict[str, str]
    body: bytes


# A ref on a snapshot line: the agent's short `[12]` or Playwright's `[ref=e12]`.
_REF = re.compile(r" \[(?:ref=([A-Za-z0-9_-]+)|(\d+))\](?=:|$| \[)", re.M)


def _is_observation(content: str) -> bool:
    return _REF.search(content) is not None or ("URL: " in content and "\nTitle: " in content)


def last_user_text(body: Mapping[str, Any]) -> str:
    """Text of the last ``user`` or ``tool`` message that is an observation (element refs, or the
    agent's ``URL:``/``Title:`` lines for a page without any)."""
    for message in reversed(body.get("messages", [])):
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if message.get("role") in ("user", "tool") and isinstance(content, str) and _is_observation(content):
            return content
    return ""


_LINK_SEPARATOR = re.compile(r"(?<=\]), | \| ")


def _element_lines(text: str) -> Iterator[str]:
    """The snapshot's lines, with a ``links: Home [1], Docs [2]`` line read as ``link Home [1]``, …
    (the older ``links: Home [1] | Docs [2]`` too)."""
    for line in text.splitlines():
        body = line.lstrip()
        if body.startswith("links: "):
            yield from (f"link {item}" for item in _LINK_SEPARATOR.split(body[len("links: ") :]))
        else:
            yield line


def find_ref(body: Mapping[str, Any], pattern: str) -> str:
    """Ref of the first snapshot line in the latest observation matching the regex ``pattern``.

    ``find_ref(body, r"link Pro plan")`` → ``"7"`` (the agent's short ``[7]``; Playwright's
    ``[ref=e7]`` is read too). Raises LookupError if no line matches.
    """
    for line in _element_lines(last_user_text(body)):
        if re.search(pattern, line):
            match = _REF.search(line)
            if match:
                return match.group(1) or match.group(2)
    raise LookupError(f"no snapshot line matching {pattern!r} in the latest observation")


class FakeOpenAI:
    """Scripted chat-completions server on 127.0.0.1 (port 0 → a free port). Thread-safe."""

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        usage: Mapping[str, int] | None = None,
        when_exhausted: Reply | None = None,
        model_echo: bool = True,
    ) -> None:
        self._script: list[Reply] = list(script)
        self._lock = threading.Lock()
        self._usage = dict(usage or {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110})
        self._exhausted = when_exhausted or HttpError(500, code="script_exhausted")
        self._model_echo = model_echo
        self._counter = 0
        self.requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stalls: list[Stall] = []

    # -- script ---------------------------------------------------------------------------------
    def add(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def reset(self, *replies: Reply) -> None:
        """Replace the script and forget recorded requests (one server shared by several tests)."""
        with self._lock:
            self._script[:] = list(replies)
            self.requests.clear()

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_chat]

    def _next(self) -> Reply:
        with self._lock:
            return self._script.pop(0) if self._script else self._exhausted

    def respond(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> FakeResponse:
        """Record one request and build the scripted answer (usable without the HTTP server)."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(method, path, {k.lower(): v for k, v in headers.items()}, body)
        with self._lock:
            self.requests.append(request)
            self._counter += 1
            n = self._counter
        if not (method == "POST" and request.is_chat):
            return _json(404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
        reply = self._next()
        while callable(reply) or isinstance(reply, Stall):
            if isinstance(reply, Stall):
                with self._lock:
                    self._stalls.append(reply)
                stall, reply = reply, reply.wait()
                stall.answered.set()
            else:
                reply = reply(body if isinstance(body, dict) else {})
        return self._render(reply, body if isinstance(body, dict) else {}, n)

    def _render(self, reply: Any, body: dict[str, Any], n: int) -> FakeResponse:
        if isinstance(reply, Raw):
            return FakeResponse(reply.status, {"Content-Type": reply.content_type}, reply.body)
        if isinstance(reply, Hang):
            reply.release.wait(reply.max_s)
            return _json(504, {"error": {"message": "fake model hung", "type": "fake_error", "code": "504"}})
        if not isinstance(reply, ToolCall | ToolCalls | Text | HttpError):
            raise TypeError(f"unsupported script entry: {reply!r}")
        if isinstance(reply, HttpError):
            payload = reply.body
            if payload is None:
                payload = {
                    "error": {
                        "message": f"fake error {reply.status}",
                        "type": "fake_error",
                        "code": reply.code or str(reply.status),
                    }
                }
            headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            return _json(reply.status, payload, headers)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "tool_calls"
        if isinstance(reply, Text):
            message["content"] = reply.content
            finish = "stop"
        else:
            calls = reply.calls if isinstance(reply, ToolCalls) else (reply,)
            message["tool_calls"] = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.args)},
                }
                for i, c in enumerate(calls)
            ]
        return _json(
            200,
            {
                "id": f"chatcmpl-fake-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake") if self._model_echo else "fake",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": dict(reply.usage or self._usage),
            },
        )

    # -- server ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (after ``start``)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What to give ``OpenAI(base_url=...)`` / ``OPENAI_BASE_URL``: ``{url}/v1``."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.respond))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            for stall in self._stalls:
                stall.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
    data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return FakeResponse(status, {"Content-Type": "application/json", **(headers or {})}, data)


def make_handler(
    respond: Callable[[str, str, Mapping[str, str], bytes], FakeResponse],
) -> type[BaseHTTPRequestHandler]:
    """A request handler class that answers every request with ``respond``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            answer = respond(self.command, self.path, dict(self.headers.items()), raw)
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler
