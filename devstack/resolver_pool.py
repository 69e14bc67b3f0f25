"""One API resolver per concurrent request, for the local stack's threaded gateway.

A Powertools resolver answers one request at a time (it holds the request on the instance), and a
deployed API function runs one request per execution environment. The local stack serves many
requests at once from one process, so while it runs, :func:`shared.api.app.handle` takes a resolver
from this pool for each request (building another when all are busy) and puts it back afterwards.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.api import hosting


class ResolverPool:
    def __init__(self) -> None:
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._seeded = False
        self.built = 0

    @contextmanager
    def lease(self) -> Iterator[Any]:
        try:
            resolver = self._idle.get_nowait()
        except queue.Empty:
            # Imported here: the API's imports cost ~1.8 s, and a stack that never serves a request
            # should not pay them; by the time a request arrives, handle() has imported the module.
            from shared.api.app import app, build_app

            with self._lock:  # the module's own app is the first; only one thread may take it
                first, self._seeded = not self._seeded, True
            resolver = app if first else build_app()
            self.built += 1
        try:
            yield resolver
        finally:
            self._idle.put(resolver)

    def install(self) -> None:
        hosting.serve_concurrently(self.lease)

    @staticmethod
    def uninstall() -> None:
        hosting.serve_concurrently(None)
