"""After a failed pytest run: if the test process itself crashed, print the test that was running and
the faulting thread's stack (tests/conftest.py leaves both in build/pytest-crash/). Prints nothing
after an ordinary failure: pytest removes the files when it ends normally."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_DEFAULT_CRASH_DIR = Path(__file__).resolve().parent.parent / "build" / "pytest-crash"
CRASH_DIR = Path(os.environ.get("OPENHELM_CRASH_DIR") or _DEFAULT_CRASH_DIR)


def faulting_thread(stacks: str) -> str:
    """The block of faulthandler's dump that belongs to the thread that crashed."""
    blocks = stacks.strip().split("\n\n")
    current = [b for b in blocks if b.lstrip().startswith("Current thread")]
    return (current or blocks[-1:] or [""])[0]


def main() -> int:
    stacks = CRASH_DIR / "stacks.txt"
    if not stacks.exists() or not stacks.read_text().strip():
        return 0
    current = CRASH_DIR / "current_test.txt"
    test = current.read_text().strip() if current.exists() else "(unknown)"
    text = stacks.read_text()
    first = text.strip().splitlines()[0]
    sys.stderr.write(f"pytest crashed ({first}) while running: {test}\n{faulting_thread(text)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
