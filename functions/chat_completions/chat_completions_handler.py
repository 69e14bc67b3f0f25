"""ChatCompletionsFunction: the WSGI app of shared.chat.app, served on 127.0.0.1 for the Lambda Web Adapter.

Thin on purpose: the routes, the mapping to runs and the streaming live in shared/chat/. The
stdlib server is enough here: each Lambda execution environment gets one request at a time from
the adapter, which speaks HTTP/1.0 and 1.1 to the app; wsgiref writes and flushes every chunk the
app yields, so each SSE event leaves as soon as it is made (no dependency to add to the layer).
"""

from __future__ import annotations

import os
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from shared.chat.app import app
from shared.logging import get_logger

log = get_logger("chat_completions_handler")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # the app logs one structured line per run


def make(port: int, wsgi_app: object = app) -> WSGIServer:
    """The server the adapter talks to (tests serve their own app through it, on port 0)."""
    return make_server("127.0.0.1", port, wsgi_app, server_class=_Server, handler_class=_QuietHandler)


def main() -> None:
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or 8080)
    server = make(port)
    log.info("chat_server_listening", port=port)
    server.serve_forever()


if __name__ == "__main__":
    main()
