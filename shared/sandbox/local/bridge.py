"""In-sandbox network bridge and launcher for the local (bubblewrap) sandbox. Stdlib only.

The local sandbox has its own, empty network namespace (loopback only). The host side of the
provider listens on unix sockets that are bound into the sandbox's file system; this script runs
*inside* the sandbox, before the agent, and re-exposes each of those unix sockets as a TCP port on
the sandbox's own 127.0.0.1, so ordinary HTTP clients (the OpenAI client, Chromium) can use them::

    python -I -S bridge.py --listen 127.0.0.1:8787=/run/openhelm/sock/control.sock \\
                           --listen 127.0.0.1:3128=/run/openhelm/sock/proxy.sock -- CMD ARGS...

It binds every listener first, then starts ``CMD`` (inheriting environment and stdio), forwards
SIGTERM/SIGINT/SIGHUP to it and exits with its exit status. Each accepted TCP connection is relayed
byte for byte to a fresh unix-socket connection; the host decides what the bytes may reach.

Constraints: this file is copied into the sandbox and run with ``python -I -S``, so it must import
nothing outside the standard library, and it must never log request contents (they carry the run
token). The host side imports :func:`relay` from here so both ends share one relay loop.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import subprocess
import sys
import threading

BUFFER = 64 * 1024
IDLE_TIMEOUT_S = 600.0


def relay(a: socket.socket, b: socket.socket, idle_timeout: float = IDLE_TIMEOUT_S) -> tuple[int, int]:
    """Copy bytes both ways between ``a`` and ``b`` until both directions end or nothing moves for
    ``idle_timeout`` seconds. Half-closes are propagated. Returns (bytes a→b, bytes b→a).
    Does not close the sockets."""
    counts = {id(a): 0, id(b): 0}
    a.settimeout(idle_timeout)
    b.settimeout(idle_timeout)
    with selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        open_directions = 2
        while open_directions:
            events = sel.select(idle_timeout)
            if not events:
                break  # idle for too long
            for key, _ in events:
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                dst: socket.socket = key.data
                while True:
                    try:
                        data = src.recv(BUFFER)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    try:
                        dst.sendall(data)
                    except OSError:
                        return counts[id(a)], counts[id(b)]
                    counts[id(src)] += len(data)
                    # A TLS socket may hold decrypted bytes that select() cannot see.
                    pending = getattr(src, "pending", None)
                    if not (pending and pending()):
                        break
                if data:
                    continue
                sel.unregister(src)
                open_directions -= 1
                if not hasattr(dst, "pending"):  # SSLSocket.shutdown would drop TLS both ways
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
    return counts[id(a)], counts[id(b)]


def _serve_connection(conn: socket.socket, unix_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.settimeout(10)
        upstream.connect(unix_path)
        relay(conn, upstream)
    except OSError as exc:
        sys.stderr.write(f"openhelm-bridge: {unix_path}: {exc.__class__.__name__}: {exc}\n")
    finally:
        upstream.close()
        conn.close()


def _accept_loop(listener: socket.socket, unix_path: str) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve_connection, args=(conn, unix_path), daemon=True).start()


def parse_listen(spec: str) -> tuple[str, int, str]:
    """``HOST:PORT=UNIX_PATH`` → (host, port, unix_path)."""
    address, sep, unix_path = spec.partition("=")
    host, colon, port = address.rpartition(":")
    if not sep or not colon or not unix_path or not port.isdigit():
        raise ValueError(f"bad --listen value {spec!r} (want HOST:PORT=UNIX_PATH)")
    return host, int(port), unix_path


def listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    return listener


def main(argv: list[str]) -> int:
    if "--" not in argv:
        sys.stderr.write("usage: bridge.py --listen HOST:PORT=UNIX_PATH ... -- CMD [ARGS...]\n")
        return 2
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    if not command or len(options) % 2 or any(opt != "--listen" for opt in options[::2]):
        sys.stderr.write("usage: bridge.py --listen HOST:PORT=UNIX_PATH ... -- CMD [ARGS...]\n")
        return 2
    for spec in options[1::2]:
        host, port, unix_path = parse_listen(spec)
        listener = listen(host, port)
        threading.Thread(target=_accept_loop, args=(listener, unix_path), daemon=True).start()

    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    code = child.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
