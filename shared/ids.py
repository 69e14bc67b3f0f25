"""Prefixed, time-sortable, unguessable ids: ``run_01JD8X...``.

The body is a ULID (48-bit millisecond timestamp + 80 random bits, Crockford base32, 26 chars), so ids
sort by creation time (DynamoDB sort keys list newest first with no extra index) and cannot be
guessed. Written here rather than taken from python-ulid because it is twenty lines and the prefix,
clock and randomness must be injectable for tests.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES = (
    "run",
    "job",
    "prj",
    "org",
    "key",
    "ses",
    "cmd",
    "evt",
    "dlv",
    "whk",
    "file",
    "prof",
    "sec",
    "crd",
    "txn",
    "inp",
    "call",
)
ID_PATTERN = re.compile(r"^(?P<prefix>[a-z]+)_(?P<body>[0-9A-HJKMNP-TV-Z]{26})$")


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


class IdFactory:
    """Makes ids; inject ``now_ms`` and ``random_bytes`` to make them deterministic in tests."""

    def __init__(
        self,
        now_ms: Callable[[], int] | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._random = random_bytes or os.urandom

    def new(self, prefix: str) -> str:
        if prefix not in PREFIXES:
            raise ValueError(f"unknown id prefix {prefix!r}")
        ts = self._now_ms() & ((1 << 48) - 1)
        rnd = int.from_bytes(self._random(10), "big")
        return f"{prefix}_{_encode(ts, 10)}{_encode(rnd, 16)}"


def is_id(value: str, prefix: str) -> bool:
    """True if ``value`` is a well-formed id with that prefix (cheap guard before any lookup)."""
    m = ID_PATTERN.match(value or "")
    return bool(m) and m.group("prefix") == prefix
