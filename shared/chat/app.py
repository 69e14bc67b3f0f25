"""The WSGI application of ChatCompletionsFunction: ``/v1/chat/completions`` and ``/v1/models``.

Why WSGI and a function URL: a run takes longer than API Gateway's 30 s, and a streamed answer
needs Lambda's RESPONSE_STREAM mode, which the Python managed runtime cannot produce by itself.
The Lambda Web Adapter (a layer) runs this application as a plain HTTP server inside the function
and streams what it writes through the function URL (functions/chat_completions/). The local stack
serves the same application behind its own function URL endpoint (devstack/web_adapter.py).

A WSGI iterable is the stream: every SSE event is one yielded chunk (the server writes and flushes
each); a caller that leaves closes the iterable (GeneratorExit) or sets ``openhelm.disconnected``
(where the server can tell), and the run is cancelled. Every answer, errors included, is in
OpenAI's shape, so OpenAI clients raise their own typed errors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from shared.auth import Authenticator, require_scope
from shared.chat import mapping, watch
from shared.chat.models import ChatCompletionRequest
from shared.errors import MethodNotAllowed, NotFound, OpenHelmError, PayloadTooLarge
from shared.logging import bind_context, clear_context, get_logger
from shared.models.orgs import Org
from shared.ratelimit import unavailable_headers
from shared.runs import service as runs
from shared.services import Services, get_services

log = get_logger(__name__)

StartResponse = Callable[..., Any]
MAX_BODY = 6 * 1024 * 1024  # a function URL request's payload quota
KEEPALIVE_S = 10.0  # an SSE comment at least this often: proxies keep the stream, a gone caller shows
HEALTH_PATH = "/healthz"  # the Web Adapter's readiness check (AWS_LWA_READINESS_CHECK_PATH)
_STATUS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ChatApp:
    """``app = ChatApp()`` is a WSGI callable. ``services`` is injectable for tests."""

    def __init__(self, services: Callable[[], Services] = get_services, *, keepalive_s: float = KEEPALIVE_S) -> None:
        self._services = services
        self.keepalive_s = keepalive_s
        self._auth: dict[int, Authenticator] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        clear_context()
        try:
            return self._route(environ, start_response)
        except OpenHelmError as exc:
            if exc.status >= 500:
                log.error("chat_failed", code=exc.code, error=exc.message)
            return _error(start_response, exc)
        except Exception as exc:
            log.exception("chat_unhandled", error_type=type(exc).__name__)
            return _error(start_response, OpenHelmError("internal error; it has been logged"))

    # ------------------------------------------------------------------------------------------ routes

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/").rstrip("/") or "/"
        if path == HEALTH_PATH:
            return _json(start_response, 200, {"ok": True})
        svc = self._services()
        if path == "/v1/chat/completions":
            _allow(method, "POST")
            org = self._caller(svc, environ, method)
            return self._chat(svc, org, environ, start_response)
        if path == "/v1/models" or path.startswith("/v1/models/"):
            _allow(method, "GET")
            self._caller(svc, environ, method)
            listed = mapping.model_list(svc.settings, int(svc.clock.now().timestamp()))
            if path == "/v1/models":
                return _json(start_response, 200, listed.model_dump())
            wanted = path.removeprefix("/v1/models/")
            for model in listed.data:
                if model.id == wanted:
                    return _json(start_response, 200, model.model_dump())
            raise NotFound(f"the model '{wanted}' does not exist", code="model_not_found")
        raise NotFound(f"no route {path}; this endpoint serves POST /v1/chat/completions and GET /v1/models")

    def _caller(self, svc: Services, environ: dict[str, Any], method: str) -> Org:
        with self._lock:
            auth = self._auth.get(id(svc))
            if auth is None:
                auth = self._auth[id(svc)] = Authenticator(svc.orgs, clock=svc.clock)
        record, org = auth.authenticate(environ.get("HTTP_AUTHORIZATION"))
        require_scope(record, method)
        bind_context(org_id=org.id)
        return org

    def _chat(self, svc: Services, org: Org, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = mapping.parse_request(_body(environ))
        created = runs.create_run(
            svc, org, mapping.run_request(req, svc.settings, org), None, control_url=_base_url(svc)
        )
        run_id = created.run.id
        bind_context(run_id=run_id)
        log.info("chat_run_created", run_id=run_id, model=req.model, stream=req.stream)
        deadline = _deadline(svc, environ)
        disconnected = environ.get("openhelm.disconnected")
        ticks = watch.watch(svc, org.id, run_id, deadline=deadline, disconnected=disconnected)
        body = (
            self._stream(svc, req, org.id, run_id, deadline, ticks, start_response)
            if req.stream
            else _answer(svc, req, org.id, deadline, ticks, start_response)
        )
        return _cancel_if_left(svc, org.id, run_id, body)

    def _stream(
        self,
        svc: Services,
        req: ChatCompletionRequest,
        org_id: str,
        run_id: str,
        deadline: float,
        ticks: Iterator[watch.Tick | watch.Outcome],
        start_response: StartResponse,
    ) -> Iterator[bytes]:
        created = int(svc.clock.now().timestamp())
        base = _base_url(svc)
        usage_wanted = bool(req.stream_options and req.stream_options.include_usage)
        start_response(
            "200 OK",
            [
                ("content-type", "text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
                ("x-accel-buffering", "no"),
                ("x-openhelm-run-id", run_id),
            ],
        )

        def event(delta: dict[str, Any] | None, **extra: Any) -> bytes:
            return _sse(mapping.chunk(run_id, req.model, created, delta, **extra))

        yield event(
            {"role": "assistant", "content": ""}, openhelm={"run_id": run_id, "run_url": f"{base}/v1/runs/{run_id}"}
        )
        quiet_since = svc.clock.monotonic()
        try:
            for tick in ticks:
                if isinstance(tick, watch.Outcome):
                    outcome = tick
                    break
                if tick.note:
                    # Progress goes in reasoning_content (as reasoning models stream their thinking):
                    # UIs show it, and the answer's content stays the clean result.
                    p = tick.run.progress
                    progress = {"step": p.step, "url": p.last_url, "action": p.last_action} if p else None
                    yield event({"reasoning_content": tick.note}, openhelm={"run_id": run_id, "progress": progress})
                    quiet_since = svc.clock.monotonic()
                elif svc.clock.monotonic() - quiet_since >= self.keepalive_s:
                    yield b": keep-alive\n\n"
                    quiet_since = svc.clock.monotonic()
        except OpenHelmError as exc:  # the answer's time ran out (the run is cancelled)
            yield _sse(mapping.error_body(exc))
            yield b"data: [DONE]\n\n"
            return
        run = outcome.run
        if outcome.error is not None:
            yield _sse(mapping.error_body(outcome.error))
            yield b"data: [DONE]\n\n"
            return
        yield event({"content": mapping.content(run)})  # the answer as soon as the run has it
        run = watch.with_evidence(svc, org_id, run, deadline=deadline)
        yield event({}, finish_reason="stop", openhelm=mapping.info(run, base).model_dump())
        if usage_wanted:
            yield event(None, usage=mapping.usage(run).model_dump())
        yield b"data: [DONE]\n\n"


def _answer(
    svc: Services,
    req: ChatCompletionRequest,
    org_id: str,
    deadline: float,
    ticks: Iterator[watch.Tick | watch.Outcome],
    start_response: StartResponse,
) -> Iterator[bytes]:
    """The non-streaming answer: nothing is sent until the run ends, so the status can say how."""
    try:
        outcome = next(t for t in ticks if isinstance(t, watch.Outcome))
    except OpenHelmError as exc:
        yield from _error(start_response, exc)
        return
    if outcome.error is not None:
        yield from _error(start_response, outcome.error)
        return
    run = watch.with_evidence(svc, org_id, outcome.run, deadline=deadline)
    created = int(svc.clock.now().timestamp())
    yield from _json(start_response, 200, mapping.completion(run, req.model, created, _base_url(svc)))


def _cancel_if_left(svc: Services, org_id: str, run_id: str, body: Iterator[bytes]) -> Iterator[bytes]:
    """``body``, cancelling the run if the caller leaves before the answer is complete: the server
    closes the iterable (GeneratorExit) when a write fails, or the watch sees ``disconnected``."""
    finished = False
    try:
        yield from body
        finished = True
    except watch.ClientGone:
        pass
    finally:
        if not finished:
            watch.cancel(svc, org_id, run_id, "the client disconnected")


# ---------------------------------------------------------------------------------------------- helpers


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise MethodNotAllowed(f"this path takes {allowed}", headers={"Allow": allowed})


def _body(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise PayloadTooLarge(f"the request body is over {MAX_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"null", parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise mapping.ChatRequestError("the request body is not valid JSON", code="invalid_json") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _base_url(svc: Services) -> str:
    # The API's URL (the template sets it on this function): runs' own links, and the sandbox's
    # callbacks, go to the API, not to this function URL.
    return (svc.settings.public_url or svc.settings.control_url).rstrip("/")


def _deadline(svc: Services, environ: dict[str, Any]) -> float:
    """When this invocation must have answered, on the monotonic clock. The Web Adapter passes the
    Lambda context as JSON in ``x-amzn-lambda-context`` (``deadline``: epoch milliseconds)."""
    fallback = svc.clock.monotonic() + mapping.CHAT_MAX_DURATION_S + 2 * watch.ANSWER_MARGIN_S
    try:
        context = json.loads(environ.get("HTTP_X_AMZN_LAMBDA_CONTEXT") or "{}")
        # lambda_runtime's Context serializes `deadline`; one page of the adapter's guide says deadline_ms.
        deadline_ms = int(context.get("deadline") or context.get("deadline_ms") or 0)
    except (ValueError, TypeError, AttributeError):
        return fallback
    if not deadline_ms:
        return fallback
    return svc.clock.monotonic() + (deadline_ms - svc.clock.now_ms()) / 1000


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _json(
    start_response: StartResponse, status: int, payload: Any, headers: dict[str, str] | None = None
) -> list[bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    start_response(
        f"{status} {_STATUS.get(status, 'Error')}",
        [("content-type", "application/json"), ("content-length", str(len(body))), *(headers or {}).items()],
    )
    return [body]


def _error(start_response: StartResponse, exc: OpenHelmError) -> list[bytes]:
    # A 503 always says when to come back, as the API's do.
    headers = {**unavailable_headers(None), **exc.headers} if exc.status == 503 else exc.headers
    return _json(start_response, mapping.http_status(exc), mapping.error_body(exc), headers)


app = ChatApp()
