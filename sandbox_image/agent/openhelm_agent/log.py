"""Stdlib logging as one JSON object per line on stderr (structlog is not in the sandbox image).

Never pass the run token to a logger. A run's per-domain secrets are masked in every line once
:func:`mask_secrets` has been given them (the whole rendered line, so whatever key they sit under).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_masker: Any = None


def mask_secrets(book: Any) -> None:
    """Mask this run's secrets (an ``openhelm_agent.secrets.SecretBook``) in every later log line."""
    global _masker
    _masker = book if book else None


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        rendered = json.dumps(line, default=str, ensure_ascii=False)
        return _masker.mask(rendered) if _masker is not None else rendered


def setup_logging(level: int = logging.INFO) -> None:
    """Send the agent's logs to stderr as JSON lines; keep HTTP client libraries quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Their DEBUG output can include request headers (the run token).
    for noisy in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str = "openhelm_agent") -> logging.Logger:
    return logging.getLogger(name)
