"""structlog JSON logging, set up once per process, with secret redaction.

Bind request-scoped ids with :func:`bind_context` (``org_id``, ``run_id``); they appear on every line
until :func:`clear_context`. The redaction processor masks values under secret-looking keys and
anything that looks like an API key, bearer token or webhook secret, wherever it appears.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog

_SECRET_KEYS = re.compile(
    r"(authorization|api[_-]?key|secret|password|passwd|token|cookie|credential|private[_-]?key)", re.I
)
# Values that are secrets whatever key they sit under.
_SECRET_VALUES = re.compile(
    r"(oh_(?:live|test)_[A-Za-z0-9_\-]{8,}|whsec_[A-Za-z0-9+/=]{8,}|Bearer\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|sk-[A-Za-z0-9_\-]{12,}|ohrt_[A-Za-z0-9._\-]{8,})"
)
REDACTED = "[REDACTED]"
_configured = False
# Values this process holds right now that must never be logged (a run's per-domain secrets),
# with how many holders each has; longest first, so a value containing another is masked whole.
_known: dict[str, int] = {}
_known_sorted: tuple[str, ...] = ()
_known_lock = threading.Lock()
# Shorter values are not masked: masking "a" everywhere would garble every line and protect nothing.
MIN_KNOWN_SECRET = 3


@contextmanager
def secret_values(values: Iterable[str]) -> Iterator[None]:
    """While inside, every log line of this process has these values replaced by ``[REDACTED]``
    (any thread: a handler's helpers and pools log too). Nesting and overlap are counted."""
    held = [v for v in dict.fromkeys(values) if isinstance(v, str) and len(v) >= MIN_KNOWN_SECRET]
    _hold(held, +1)
    try:
        yield
    finally:
        _hold(held, -1)


def _hold(values: list[str], delta: int) -> None:
    global _known_sorted
    if not values:
        return
    with _known_lock:
        for v in values:
            count = _known.get(v, 0) + delta
            if count > 0:
                _known[v] = count
            else:
                _known.pop(v, None)
        _known_sorted = tuple(sorted(_known, key=len, reverse=True))


def _mask_known(text: str) -> str:
    for value in _known_sorted:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, _mask_known(value) if _known_sorted else value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) and v else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def mask_rendered(_logger: Any, _method: str, line: str) -> str:
    """structlog processor after the renderer: the known secret values, also JSON-escaped, masked in
    the rendered line (whatever depth or key they were under)."""
    if not _known_sorted or not isinstance(line, str):
        return line
    for value in _known_sorted:
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        ascii_escaped = json.dumps(value)[1:-1]
        for form in dict.fromkeys((value, escaped, ascii_escaped)):
            if form in line:
                line = line.replace(form, REDACTED)
    return line


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask secret keys and secret-looking values before rendering."""
    return _scrub(event_dict)  # type: ignore[no-any-return]


class _CurrentStdout:
    """``sys.stdout`` as it is at each write, not as it was when logging was configured: whoever
    swaps it later (a runtime, a test's capture) still gets every line."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Configure structlog for JSON lines on stdout (CloudWatch reads them as-is)."""
    global _configured
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(),
            mask_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger(name: str, **initial: Any) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name).bind(logger=name, **initial)


def bind_context(**ids: Any) -> None:
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
