"""A function URL in RESPONSE_STREAM mode in front of a Lambda Web Adapter function, locally.

In AWS the adapter (a layer; ``AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap``) starts the function's
start script, a web server on 127.0.0.1, and turns each function URL request into an HTTP request
to it, streaming the answer back. Here the endpoint plays both parts: it serves the WSGI ``app`` of
the module the start script runs (devstack.runtime.web_app_module) in-process, and streams what the
app yields to the client with chunked transfer encoding, one flushed chunk per yielded piece, as a
streaming function URL does. What AWS enforces is enforced: the 6 MB request payload, the 200 MB
streamed response and the function's Timeout (the stream ends there; the app's AWS calls past it
raise, as for every local invoke). The app gets the adapter's ``x-amzn-lambda-context`` header
(its ``deadline``) and, as an extension AWS does not have, ``openhelm.disconnected``: an event set
when the client closes its connection (a streaming function in AWS is not told; see README).
"""

from __future__ import annotations

import io
import json
import select
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from devstack import limits, runtime
from devstack.runtime import LocalFunction
from shared.logging import get_logger

log = get_logger("devstack.web_adapter")

STREAM_MAX_BYTES = 200 * limits.MIB  # "The maximum response payload size is 200 MB" (RESPONSE_STREAM)
REQUEST_MAX_BYTES = limits.LAMBDA_SYNC_REQUEST_BYTES


class WebAdapterEndpoint:
    """One streaming function URL on its own loopback port (bound at once, served by :meth:`serve`)."""

    def __init__(self, logical_id: str, host: str = "127.0.0.1") -> None:
        self.logical_id = logical_id
        self.fn: LocalFunction | None = None
        self._server = ThreadingHTTPServer((host, 0), _handler_class(self))
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def serve(self, fn: LocalFunction) -> None:
        self.fn = fn
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="web-adapter", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(2)
        self._server.server_close()


def _environ(handler: BaseHTTPRequestHandler, body: bytes, deadline_ms: int, request_id: str) -> dict[str, Any]:
    path, _, query = handler.path.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": handler.command,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path),
        "QUERY_STRING": query,
        "CONTENT_TYPE": handler.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": handler.server.server_address[0],  # type: ignore[index]
        "SERVER_PORT": str(handler.server.server_address[1]),  # type: ignore[index]
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": handler.client_address[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for key, value in handler.headers.items():
        name = "HTTP_" + key.upper().replace("-", "_")
        if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            env[name] = f"{env[name]},{value}" if name in env else value
    # What the adapter adds for the app: the Lambda context, with the invocation's deadline.
    env["HTTP_X_AMZN_LAMBDA_CONTEXT"] = json.dumps({"request_id": request_id, "deadline": deadline_ms})
    return env


def _watch_disconnect(sock: socket.socket, gone: threading.Event, done: threading.Event) -> None:
    """Set ``gone`` when the client closes its side (readable with nothing to read)."""
    while not done.is_set():
        try:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    gone.set()
                return  # closed, or the client already sent its next request: stop looking
        except (OSError, ValueError):
            gone.set()
            return


def _handler_class(endpoint: WebAdapterEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        server_version = "openhelm-devstack"
        sys_version = ""

        def _serve(self) -> None:
            fn = endpoint.fn
            length = int(self.headers.get("content-length") or 0)
            if fn is None or length > REQUEST_MAX_BYTES:
                self.close_connection = True
                self._plain(413 if fn else 503, {"Message": "Request must be smaller than 6291456 bytes"})
                return
            body = self.rfile.read(length) if length else b""
            request_id = str(uuid.uuid4())
            deadline = time.monotonic() + fn.timeout_s
            deadline_ms = int(time.time() * 1000 + fn.timeout_s * 1000)
            environ = _environ(self, body, deadline_ms, request_id)
            gone, done = threading.Event(), threading.Event()
            environ["openhelm.disconnected"] = gone
            threading.Thread(target=_watch_disconnect, args=(self.connection, gone, done), daemon=True).start()
            invocation = runtime.Invocation(fn, request_id, deadline)
            runtime._current.invocation = invocation  # the app's AWS calls stop at the Timeout
            started = time.perf_counter()
            try:
                self._stream(fn, environ, deadline)
            finally:
                runtime._current.invocation = None
                done.set()
                log.info(
                    "http",
                    function=fn.logical_id,
                    method=self.command,
                    path=self.path.partition("?")[0],
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )

        def _stream(self, fn: LocalFunction, environ: dict[str, Any], deadline: float) -> None:
            state: dict[str, Any] = {}

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                state["status"], state["headers"] = status, headers
                return lambda data: None  # the legacy write() callable; this app never uses it

            app = fn.load()
            result = app(environ, start_response)
            sent = 0
            headers_out = False
            try:
                for piece in result:
                    if not piece:
                        continue
                    if not headers_out:
                        self._headers(state)
                        headers_out = True
                    sent += len(piece)
                    if sent > STREAM_MAX_BYTES or time.monotonic() > deadline:
                        log.error("stream_cut", function=fn.logical_id, bytes=sent, timed_out=sent <= STREAM_MAX_BYTES)
                        self.close_connection = True
                        return  # the client sees the stream end without its last chunk
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                if not headers_out:
                    if "status" not in state:  # the app gave up before answering (its client left)
                        self.close_connection = True
                        return
                    self._headers(state)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError) as exc:
                log.info("client_disconnected", function=fn.logical_id, error=type(exc).__name__)
                self.close_connection = True
            except Exception:  # the app failed mid-answer: a function URL answers 502 or cuts the stream
                log.exception("web_app_error", function=fn.logical_id)
                self.close_connection = True
                if not headers_out:
                    self._plain(502, {"Message": "Internal Server Error"})
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # a generator sees GeneratorExit where it stopped: the app's cleanup runs

        def _headers(self, state: dict[str, Any]) -> None:
            code, _, reason = str(state["status"]).partition(" ")
            self.send_response(int(code), reason or None)
            for key, value in state["headers"]:
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-amzn-requestid", str(uuid.uuid4()))
            self.end_headers()

        def _plain(self, status: int, payload: dict[str, Any]) -> None:
            out = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

    return Handler
