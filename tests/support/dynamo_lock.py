"""Serialize moto's DynamoDB actions for tests that write from several threads.

moto has no locking: two threads can both pass one item's condition and both write. DynamoDB
itself is linearizable per item, so tests of concurrent conditional writes run every moto DynamoDB
action under one lock (as the local stack does, devstack/patches.py) to model that, and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serialized_dynamodb() -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]
