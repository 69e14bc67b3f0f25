"""In-process Lambda runtime: import a function's handler from its CodeUri and call it.

Every invoke path of the local stack (direct Invoke, Step Functions, EventBridge, SQS poller,
HTTP gateway) ends in :meth:`LocalFunction.invoke`, so a handler is imported once per stack and
behaves the same whichever way it is reached.

Why import by file path with a unique module name: SAM projects conventionally call every
handler module ``app.py``; importing them by plain name would hand every function the first
one's module. The CodeUri folders are also put on ``sys.path`` (Lambda puts ``/var/task`` there)
so handlers can import their sibling modules.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.handlers

from devstack import limits
from shared.logging import get_logger

log = get_logger("devstack.lambda")


class FunctionError(Exception):
    """A function invocation errored; ``payload`` is Lambda's error object."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType", ""))


class LambdaContext:
    """The subset of Lambda's context object that handlers and Powertools read."""

    def __init__(self, fn: LocalFunction, request_id: str | None = None, deadline: float | None = None) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline if deadline is not None else time.monotonic() + fn.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One function of the template, as the local runtime runs it."""

    logical_id: str
    name: str
    arn: str
    handler: str  # "module.function", module may be dotted ("pkg.mod.fn")
    code_uri: Path | None
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    async_retries: int = 2  # Lambda's default; EventInvokeConfig.MaximumRetryAttempts overrides
    module_prefix: str = "_openhelm_fn"
    closed: bool = False  # set when the stack stops; invocations still running make no more AWS calls
    _module: ModuleType | None = field(default=None, init=False, repr=False)
    _callable: Callable[[Any, Any], Any] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def module_name(self) -> str:
        """The unique ``sys.modules`` name of this function's handler module."""
        return f"{self.module_prefix}_{self.logical_id}"

    @property
    def module(self) -> ModuleType:
        """The imported handler module (imported on first use)."""
        self.load()
        assert self._module is not None
        return self._module

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the handler once (thread-safe) and return the handler callable."""
        if self._callable is not None:
            return self._callable
        with self._lock:
            if self._callable is None:
                self._callable = self._import()
        return self._callable

    @property
    def web_adapter(self) -> bool:
        """The function runs behind the Lambda Web Adapter (its layer's exec wrapper): its Handler
        is a start script, and what answers requests is a web application (devstack/web_adapter.py)."""
        return self.environment.get("AWS_LAMBDA_EXEC_WRAPPER") == WEB_ADAPTER_WRAPPER

    def _import(self) -> Callable[[Any, Any], Any]:
        if self.code_uri is None:
            raise ImportError(f"{self.logical_id}: no local CodeUri (S3 or inline code cannot run locally)")
        module_path, _, attr = self.handler.rpartition(".")
        if self.web_adapter:
            # The start script execs `python3 -m <module>`; that module's WSGI `app` is the handler.
            module_path, attr = web_app_module(self.code_uri / self.handler), "app"
        if not module_path or not attr:
            raise ImportError(f"{self.logical_id}: Handler {self.handler!r} is not module.function")
        base = self.code_uri.joinpath(*module_path.split("."))
        file = base.with_suffix(".py")
        search: list[str] | None = None
        if not file.is_file() and (base / "__init__.py").is_file():
            file, search = base / "__init__.py", [str(base)]
        if not file.is_file():
            raise ImportError(f"{self.logical_id}: handler module {file} does not exist")
        spec = importlib.util.spec_from_file_location(self.module_name, file, submodule_search_locations=search)
        if spec is None or spec.loader is None:
            raise ImportError(f"{self.logical_id}: cannot import {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module  # before exec: dataclasses and pickle look it up
        started = time.perf_counter()
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module_name, None)
            raise
        fn = getattr(module, attr, None)
        if not callable(fn):
            sys.modules.pop(self.module_name, None)
            raise ImportError(f"{self.logical_id}: {file} has no callable {attr!r}")
        self._module = module
        log.info("handler_loaded", function=self.logical_id, handler=self.handler, ms=_ms(started))
        return fn  # type: ignore[no-any-return]

    def unload(self) -> None:
        """Forget the imported module, so the next stack cold-starts the handler again."""
        with self._lock:
            sys.modules.pop(self.module_name, None)
            self._module = self._callable = None

    def call(self, event: Any, request_id: str | None = None, *, deadline: float | None = None) -> Any:
        """Call the handler in this thread; its exceptions propagate."""
        handler = self.load()
        return handler(event, LambdaContext(self, request_id, deadline))

    def invoke(
        self, event: Any, request_id: str | None = None, *, limit_bytes: int = limits.LAMBDA_SYNC_REQUEST_BYTES
    ) -> tuple[str, bool]:
        """Invoke like Lambda does: JSON in, ``(JSON payload, errored)`` out; what the handler does never raises.

        An exception becomes ``{"errorType": <class name>, "errorMessage": ...}`` so that Step
        Functions Retry/Catch can match on the exception's type, as with a deployed function. A
        handler past the function's Timeout answers Lambda's timeout error, a result past 6 MB
        Lambda's ``Function.ResponseSizeTooLarge`` (see :meth:`start` for what keeps running).
        ``limit_bytes`` is the request payload quota of the invocation type (6 MB synchronous,
        1 MB asynchronous); an event past it is refused before the handler runs, as
        :class:`PayloadTooLarge`, since Lambda refuses it at the API (413) rather than as a
        function error.
        """
        return self.start(event, request_id, limit_bytes=limit_bytes).outcome()

    def start(
        self, event: Any, request_id: str | None = None, *, limit_bytes: int = limits.LAMBDA_SYNC_REQUEST_BYTES
    ) -> Invocation:
        """Start an invocation in its own thread and return at once; the caller waits as long as it
        is willing to (API Gateway gives up at 30 s, the invocation goes on to the function's Timeout).

        A thread cannot be killed, so a timed-out handler is stopped at its next AWS call: every
        botocore call made from the invocation's thread after the deadline raises
        :class:`InvocationTimedOut`, which ``except Exception`` does not catch. What keeps running
        past the Timeout, unlike in Lambda, where the execution environment is frozen: the call in
        progress at the deadline (an HTTP request, a sleep), plain Python work until the handler
        next calls AWS, and threads or processes the handler started itself.
        """
        payload = json.dumps(event)
        size = limits.json_bytes(payload)
        limits.note("lambda_request", size)
        if size > limit_bytes:
            raise PayloadTooLarge(size, limit_bytes)
        invocation = Invocation(self, request_id or str(uuid.uuid4()), time.monotonic() + self.timeout_s)
        worker = threading.Thread(
            target=invocation.run, args=(json.loads(payload),), name=f"lambda-{self.logical_id}", daemon=True
        )
        worker.start()
        return invocation


WEB_ADAPTER_WRAPPER = "/opt/bootstrap"
_PYTHON_M = re.compile(r"\bexec\b.*\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")


def web_app_module(script: Path) -> str:
    """The module a Web Adapter start script runs (``exec python3 -m <module>``)."""
    try:
        text = script.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportError(f"{script}: the Web Adapter start script cannot be read: {exc}") from exc
    found = [
        m.group(1)
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for m in [_PYTHON_M.search(line)]
        if m
    ]
    if not found:
        raise ImportError(
            f"{script}: the local stack serves a Web Adapter function whose start script runs "
            "`exec python3 -m <module>` and whose module has a WSGI `app`"
        )
    return found[-1]


class PayloadTooLarge(Exception):
    """An invoke whose event is past the invocation type's quota (Lambda: 413 RequestTooLargeException)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} byte payload is too large for this invocation type (limit {limit} bytes)")
        self.size = size
        self.limit = limit


class InvocationTimedOut(BaseException):
    """Raised in a handler's thread at its next AWS call once the function's Timeout has passed.

    A BaseException, so the handler's own ``except Exception`` blocks do not swallow it."""


_current = threading.local()


def _stop_timed_out_handler(**_kwargs: Any) -> None:
    """botocore ``before-call`` hook: a handler past its deadline makes no more AWS calls."""
    invocation: Invocation | None = getattr(_current, "invocation", None)
    if invocation is None:
        return
    if invocation.expired():
        raise InvocationTimedOut(f"{invocation.fn.logical_id}: the function's Timeout has passed")
    if invocation.fn.closed:  # its stack stopped: its AWS endpoints are gone (botocore would go to AWS)
        raise InvocationTimedOut(f"{invocation.fn.logical_id}: the local stack stopped")


# botocore copies BUILTIN_HANDLERS into every session it creates (moto registers its own stubber the
# same way), so every client a handler makes carries the hook; the stack's own clients never run in an
# invocation's thread and are unaffected.
if ("before-call", _stop_timed_out_handler) not in botocore.handlers.BUILTIN_HANDLERS:
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _stop_timed_out_handler))


class Invocation:
    """One running invocation: its deadline, and its outcome once the handler returns."""

    def __init__(self, fn: LocalFunction, request_id: str, deadline: float) -> None:
        self.fn = fn
        self.request_id = request_id
        self.deadline = deadline
        self.started = time.perf_counter()
        self.done = threading.Event()
        self.result: str | None = None
        self.error: BaseException | None = None

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def run(self, event: Any) -> None:
        _current.invocation = self
        try:
            self.result = json.dumps(self.fn.call(event, self.request_id, deadline=self.deadline))
        except BaseException as exc:
            self.error = exc
        finally:
            _current.invocation = None
            self.done.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if the handler returned (or raised) in that time."""
        return self.done.wait(max(0.0, timeout))

    def outcome(self) -> tuple[str, bool]:
        """``(payload, errored)`` as Lambda answers now: the timeout error once the deadline passed."""
        fn = self.fn
        if not self.done.is_set():
            self.wait(self.deadline - time.monotonic())  # Lambda answers at the deadline, not before
        if not self.done.is_set() or isinstance(self.error, InvocationTimedOut):
            event = "invoke_stopped" if fn.closed and not self.expired() else "invoke_timeout"
            log.error(event, function=fn.logical_id, request_id=self.request_id, timeout_s=fn.timeout_s)
            return json.dumps(timeout_error(self.request_id, fn.timeout_s)), True
        exc = self.error
        if exc is None:
            assert self.result is not None
            size = limits.json_bytes(self.result)
            limits.note("lambda_response", size)
            if size > limits.LAMBDA_SYNC_RESPONSE_BYTES:
                log.error("invoke_response_too_large", function=fn.logical_id, bytes=size)
                payload = {
                    "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload "
                    f"size ({limits.LAMBDA_SYNC_RESPONSE_BYTES} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
                return json.dumps(payload), True
            log.debug("invoked", function=fn.logical_id, request_id=self.request_id, ms=_ms(self.started))
            return self.result, False
        log.error(
            "invoke_error",
            function=fn.logical_id,
            request_id=self.request_id,
            error_type=type(exc).__name__,
            exc_info=exc,
        )
        payload = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "requestId": self.request_id,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(payload), True


def timeout_error(request_id: str, timeout_s: float) -> dict[str, str]:
    """The payload Lambda answers for an invocation past its Timeout."""
    return {
        "errorType": limits.LAMBDA_TIMEOUT_ERROR,
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
    }


class FunctionRegistry:
    """The functions of one stack, by logical id, name and ARN, plus Lambda's async invoke queue."""

    def __init__(self, functions: list[LocalFunction], *, async_retry_delays: tuple[float, ...] = (1.0, 2.0)) -> None:
        self.functions = {f.logical_id: f for f in functions}
        self._by_name = {f.name: f for f in functions} | {f.arn: f for f in functions}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")
        self._stop = threading.Event()
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Condition()
        self.async_retry_delays = async_retry_delays

    def get(self, key: str) -> LocalFunction | None:
        """By logical id, function name, function ARN or qualified ARN."""
        fn = self.functions.get(key) or self._by_name.get(key)
        if fn is None and key.startswith("arn:") and key.count(":") == 7:
            fn = self._by_name.get(key.rsplit(":", 1)[0])  # qualified ARN ($LATEST, alias)
        return fn

    def invoke_async(self, fn: LocalFunction, event: Any, source: str) -> Future[Any]:
        """Lambda's asynchronous invoke: queued, run in a worker, retried on error like Lambda
        (two retries unless the function's EventInvokeConfig says otherwise), with short local
        delays instead of Lambda's minutes. An event past the asynchronous payload quota is refused
        here, before anything is queued (:class:`PayloadTooLarge`), as Lambda's Invoke API does."""
        size = limits.json_bytes(json.dumps(event))
        if size > limits.LAMBDA_ASYNC_REQUEST_BYTES:
            raise PayloadTooLarge(size, limits.LAMBDA_ASYNC_REQUEST_BYTES)

        def run() -> None:
            attempts = 1 + min(fn.async_retries, len(self.async_retry_delays))
            for attempt in range(attempts):
                _payload, errored = fn.invoke(event, limit_bytes=limits.LAMBDA_ASYNC_REQUEST_BYTES)
                if not errored:
                    return
                if attempt + 1 < attempts and self._stop.wait(self.async_retry_delays[attempt]):
                    return
            log.error("async_invoke_failed", function=fn.logical_id, source=source, attempts=attempts)

        future = self._pool.submit(run)
        with self._pending_lock:
            self._pending.add(future)

        def forget(f: Future[Any]) -> None:
            with self._pending_lock:
                self._pending.discard(f)
                self._pending_lock.notify_all()

        future.add_done_callback(forget)
        return future

    def wait_async(self, timeout: float) -> bool:
        """Wait until no asynchronous invoke is queued or running; False on timeout."""
        with self._pending_lock:
            return self._pending_lock.wait_for(lambda: not self._pending, timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for fn in self.functions.values():
            fn.closed = True
            fn.unload()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
