"""The local sandbox's one exposed port: the live view's frames (docs/sessions.md, "Live view").

The sandbox has no network of its own, so the agent's frame endpoint listens on a unix socket in a
directory of the run (``<run>/live/live.sock``, bound writable into the sandbox). This relay listens
on one loopback TCP port of the host, made on first use, and copies each connection byte for byte to
a fresh connection to that socket (``bridge.relay``, as the other sockets use). Nothing but loopback:
what the port serves needs the sandbox's frame token anyway (openhelm_agent/live.py).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from shared.logging import get_logger
from shared.sandbox.local.bridge import relay

log = get_logger("openhelm.sandbox.local")


class LivePort:
    def __init__(self, unix_path: Path, *, host: str = "127.0.0.1") -> None:
        self.unix_path = unix_path
        self._sock = socket.create_server((host, 0))
        self.host, self.port = self._sock.getsockname()[:2]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, name=f"live-port-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            inner.connect(str(self.unix_path))
            relay(conn, inner, idle_timeout=30.0)
        except OSError as exc:  # the agent is not (or no longer) listening
            log.debug("sandbox.live_port_unreachable", error=str(exc))
        finally:
            inner.close()
            conn.close()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.close()
