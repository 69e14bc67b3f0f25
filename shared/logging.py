"""structlog JSON logging, set up once per process, with secret redaction.

Bind request-scoped ids with :func:`bind_context` (``org_id``, ``run_id``); they appear on every line
until :func:`clear_context`. The redaction processor masks values under secret-looking keys and
anything that looks like an API key, bearer token or webhook secret, wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
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


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) and v else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask secret keys and secret-looking values before rendering."""
    return _scrub(event_dict)  # type: ignore[no-any-return]


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
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
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
