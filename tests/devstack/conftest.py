"""Shared helpers for the local stack tests: the fixture template, a stack per test module, and
waits that block on the recorder's condition or poll state with a deadline (never a fixed sleep)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

from tests.support.polling import poll

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.stack import EmbeddedStack  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
FIXTURE_PARAMS = {"Stage": "dev", "FixtureSecret": "fixture-secret-value"}

T = TypeVar("T")


def wait_records(
    module: ModuleType, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Block on the recorder's condition until ``count`` records match ``predicate``."""
    deadline = time.monotonic() + timeout
    with module.CHANGED:
        while True:
            found = [r for r in module.RECORDS if predicate(r)]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kinds = [r["kind"] for r in module.RECORDS]
                raise AssertionError(f"{len(found)}/{count} matching records after {timeout}s; have {kinds}")
            module.CHANGED.wait(remaining)


def poll_until(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Bounded polling of state that has no notification to wait on (an execution's status)."""
    return poll(probe, timeout=timeout, interval=0.02)


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    embedded = EmbeddedStack(FIXTURE_TEMPLATE, FIXTURE_PARAMS, stack_name="fixture", async_retry_delays=(0.05, 0.1))
    with embedded as running:
        yield running


@pytest.fixture(scope="module")
def recorder(stack: EmbeddedStack) -> ModuleType:
    return stack.handler_module("Recorder")


@pytest.fixture(autouse=True)
def _clear_records(request: pytest.FixtureRequest) -> None:
    if "recorder" in request.fixturenames:
        module = request.getfixturevalue("recorder")
        with module.CHANGED:
            module.RECORDS.clear()
