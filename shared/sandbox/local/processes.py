"""Finding and ending a sandbox's processes: /proc walks and pidfds (no pid reuse races)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Sequence


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tagged_processes(sandbox_id: str) -> list[int]:
    """Pids whose environment carries ``OPENHELM_SANDBOX_ID=<sandbox_id>`` (readable ones only)."""
    needle = f"OPENHELM_SANDBOX_ID={sandbox_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def open_pidfds(pids: Sequence[int]) -> list[int]:
    fds = []
    for pid in dict.fromkeys(pids):
        with contextlib.suppress(OSError):
            fds.append(os.pidfd_open(pid))
    return fds


def signal_pidfds(pidfds: Sequence[int], sig: int) -> None:
    for pidfd in pidfds:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, sig)


def wait_pidfds(pidfds: Sequence[int], timeout: float) -> bool:
    """Wait until every process behind ``pidfds`` has exited; False on timeout."""
    deadline = time.monotonic() + timeout
    pending = list(pidfds)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select(pending, [], [], remaining)
        pending = [fd for fd in pending if fd not in ready]
    return True
