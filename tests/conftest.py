"""Shared fixtures. Unit tests need none of these; integration and API tests use moto."""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Where a crash of the test process itself (a segfault in an extension) leaves the faulting thread's
# stack and the test that was running: `make test` prints both when pytest dies (scripts/crash_report.py).
_DEFAULT_CRASH_DIR = Path(__file__).resolve().parent.parent / "build" / "pytest-crash"
CRASH_DIR = Path(os.environ.get("OPENHELM_CRASH_DIR") or _DEFAULT_CRASH_DIR)

# Never reach a real AWS account from tests, whatever the developer's shell has.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def pytest_configure(config: pytest.Config) -> None:
    # Replaces pytest's own faulthandler (disabled in pyproject.toml), which writes every thread's
    # stack to stderr, where a CI log keeps only the head and tail of it.
    CRASH_DIR.mkdir(parents=True, exist_ok=True)
    for stale in CRASH_DIR.iterdir():
        stale.unlink()
    config._openhelm_crash_log = (CRASH_DIR / "stacks.txt").open("w")  # type: ignore[attr-defined]
    faulthandler.enable(file=config._openhelm_crash_log, all_threads=True)  # type: ignore[attr-defined]
    # pytest sets and deletes PYTEST_CURRENT_TEST in os.environ around every test phase, from the main
    # thread, while the local stack's in-process Lambdas read the environment on their own threads
    # (pydantic-settings iterates os.environ): a deleted key mid-iteration failed a Step Functions task
    # with KeyError 'PYTEST_CURRENT_TEST'. The test being run is in current_test.txt instead.
    import _pytest.runner

    _pytest.runner._update_current_test_var = lambda item, when: None  # type: ignore[assignment]


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    (CRASH_DIR / "current_test.txt").write_text(nodeid + "\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.disable()
    log = getattr(config, "_openhelm_crash_log", None)
    if log is not None:
        log.close()
        (CRASH_DIR / "stacks.txt").unlink(missing_ok=True)
        (CRASH_DIR / "current_test.txt").unlink(missing_ok=True)
