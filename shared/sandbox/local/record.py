"""What the local provider keeps about one live sandbox."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.sandbox.base import (
    SandboxInfo,
)
from shared.sandbox.local.egress_server import ControlForwarder, EgressProxy
from shared.sandbox.local.limits import SandboxCgroup
from shared.sandbox.local.live_port import LivePort


@dataclass(eq=False)
class SandboxRecord:
    info: SandboxInfo
    run_dir: Path
    out_dir: Path
    log_dir: Path
    isolation: str
    proc: subprocess.Popen[bytes] | None = None
    servers: list[ControlForwarder | EgressProxy | LivePort] = field(default_factory=list)
    status_fd: int | None = None
    # pidfd of the sandbox's init (bwrap's pid 1): readable once every process of the sandbox is gone.
    init_pidfd: int | None = None
    init_pid: int | None = None
    stage_dir: Path | None = None
    timer: threading.Timer | None = None
    exited: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_mono: float = field(default_factory=time.monotonic)
    exit_code: int | None = None
    killed: bool = False
    timed_out: bool = False
    # Where the watcher reports an exit nobody asked for (the run's callback base URL and token).
    control_url: str = ""
    run_token: str = field(default="", repr=False)
    cgroup: SandboxCgroup | None = None
    oom_kills: int = 0
    # A session's mailbox (host path), written by send_command; None for a one-run sandbox.
    mailbox_dir: Path | None = None
    # The mailbox as the agent sees it (bwrap: a fixed path inside; subprocess: the host path).
    mailbox_in_sandbox: str = ""
    # The live view's frame socket (host path) of a session started with a live secret, and the
    # loopback port relayed to it (live_port.py), made on the first live_endpoint call.
    live_socket: Path | None = None
    live_port: LivePort | None = None


@dataclass(frozen=True)
class Bind:
    source: str  # real host path
    dest: str  # path inside the sandbox
    writable: bool = False
