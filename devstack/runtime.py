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

    def __init__(self, fn: LocalFunction, request_id: str | None = None) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + fn.timeout_s

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

    def _import(self) -> Callable[[Any, Any], Any]:
        if self.code_uri is None:
            raise ImportError(f"{self.logical_id}: no local CodeUri (S3 or inline code cannot run locally)")
        module_path, _, attr = self.handler.rpartition(".")
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

    def call(self, event: Any, request_id: str | None = None) -> Any:
        """Call the handler in this thread; its exceptions propagate (what the gateway wants)."""
        handler = self.load()
        return handler(event, LambdaContext(self, request_id))

    def invoke(self, event: Any, request_id: str | None = None) -> tuple[str, bool]:
        """Invoke like Lambda does: JSON in, ``(JSON payload, errored)`` out, never raises.

        An exception becomes ``{"errorType": <class name>, "errorMessage": ...}`` so that Step
        Functions Retry/Catch can match on the exception's type, as with a deployed function.
        The handler runs in its own thread so the function's Timeout can be enforced; a timed-out
        handler keeps running in the background (a thread cannot be killed), its result ignored.
        """
        request_id = request_id or str(uuid.uuid4())
        started = time.perf_counter()
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["result"] = json.dumps(self.call(json.loads(json.dumps(event)), request_id))
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=run, name=f"lambda-{self.logical_id}", daemon=True)
        worker.start()
        if not done.wait(self.timeout_s):
            log.error("invoke_timeout", function=self.logical_id, request_id=request_id, timeout_s=self.timeout_s)
            payload = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"{request_id} Task timed out after {self.timeout_s:.2f} seconds",
            }
            return json.dumps(payload), True
        exc = box.get("error")
        if exc is None:
            log.debug("invoked", function=self.logical_id, request_id=request_id, ms=_ms(started))
            return box["result"], False
        log.error(
            "invoke_error",
            function=self.logical_id,
            request_id=request_id,
            error_type=type(exc).__name__,
            exc_info=exc,
        )
        payload = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "requestId": request_id,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(payload), True


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
        delays instead of Lambda's minutes."""

        def run() -> None:
            attempts = 1 + min(fn.async_retries, len(self.async_retry_delays))
            for attempt in range(attempts):
                _payload, errored = fn.invoke(event)
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
            fn.unload()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
