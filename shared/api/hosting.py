"""Which resolver answers a request: the one app of the process, unless the host says otherwise.

A Powertools resolver holds the request it is answering, so one instance answers one request at a
time. Lambda runs one request per process and needs nothing more. A host that calls
:func:`shared.api.app.handle` from many threads at once (the local stack's threaded gateway) hands
each call its own resolver by installing a lease here (devstack/resolver_pool.py). Stdlib only, so
that the host can install one without importing the API (~1.8 s of imports).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

Lease = Callable[[], AbstractContextManager[Any]]

_lease: Lease | None = None


def serve_concurrently(lease: Lease | None) -> None:
    """Answer each request with the resolver ``lease()`` yields; None: the process's one app again."""
    global _lease
    _lease = lease


def current_lease() -> Lease | None:
    return _lease
