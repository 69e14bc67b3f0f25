"""What a Lambda Web Adapter function runs: the adapter's exec wrapper, and the module its start
script execs (``exec python3 -m <module>``), whose WSGI ``app`` the local stack serves in-process
(devstack/web_adapter.py)."""

from __future__ import annotations

import re
from pathlib import Path

WEB_ADAPTER_WRAPPER = "/opt/bootstrap"
_PYTHON_M = re.compile(r"\bexec\b.*\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")


def web_app_module(script: Path) -> str:
    """The module a Web Adapter start script runs (``exec python3 -m <module>``)."""
    try:
        text = script.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportError(f"{script}: the Web Adapter start script cannot be read: {exc}") from exc
    found = [
        m.group(1)
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for m in [_PYTHON_M.search(line)]
        if m
    ]
    if not found:
        raise ImportError(
            f"{script}: the local stack serves a Web Adapter function whose start script runs "
            "`exec python3 -m <module>` and whose module has a WSGI `app`"
        )
    return found[-1]
