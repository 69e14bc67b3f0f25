"""Checkers of a run's result: small composable predicates with tolerant matching.

A checker takes the run's ``result`` (whatever the API returned) and returns a :class:`Verdict`. Matching is
tolerant where a human reader would be (case, spacing, punctuation, currency signs, thousands separators,
a number given as a string) and strict where it matters (the value itself, the type of the envelope).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


Check = Callable[[Any], Verdict]

_NUMBER = re.compile(r"[-\u2212]?\d[\d,\u202f ]*(?:\.\d+)?")


def norm(value: Any) -> str:
    """Lower-case text with accents, punctuation and repeated spaces folded away."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w.@:/-]+", " ", text)
    return " ".join(text.split())


def numbers_in(value: Any) -> list[float]:
    """Every number written in ``value`` ("€2,418.07" → 2418.07; "3.61 m" → 3.61)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    found = []
    for raw in _NUMBER.findall(value if isinstance(value, str) else json.dumps(value)):
        cleaned = raw.replace(",", "").replace("\u202f", "").replace(" ", "").replace("\u2212", "-")
        try:
            found.append(float(cleaned))
        except ValueError:
            continue
    return found


def text(expected: str, *alternatives: str) -> Check:
    """The value, as text, contains ``expected`` (or one of the alternatives) after normalising both."""
    wanted = [norm(e) for e in (expected, *alternatives)]

    def check(value: Any) -> Verdict:
        if value is None or value == "" or isinstance(value, bool):
            return Verdict(False, f"expected text containing {expected!r}, got {value!r}")
        got = norm(value)
        if any(w in got for w in wanted):
            return Verdict(True)
        return Verdict(False, f"expected {expected!r} in {_short(value)}")

    return check


def number(expected: float, tolerance: float = 0.005) -> Check:
    """The value is (or, as text, contains) ``expected`` within ``tolerance``."""

    def check(value: Any) -> Verdict:
        if any(abs(n - expected) <= tolerance for n in numbers_in(value)):
            return Verdict(True)
        return Verdict(False, f"expected the number {expected} in {_short(value)}")

    return check


def equals_bool(expected: bool) -> Check:
    def check(value: Any) -> Verdict:
        if value is expected:
            return Verdict(True)
        return Verdict(False, f"expected {expected}, got {value!r}")

    return check


def set_of(expected: Iterable[str], *, key: str | None = None) -> Check:
    """A list whose items (or item[key]) name exactly ``expected``, in any order, tolerant per item."""
    wanted = sorted(norm(e) for e in expected)

    def check(value: Any) -> Verdict:
        if not isinstance(value, list):
            return Verdict(False, f"expected a list, got {_short(value)}")
        items = [v.get(key) if key and isinstance(v, dict) else v for v in value]
        got = sorted(norm(i) for i in items if i is not None)
        missing = [w for w in wanted if not any(w in g for g in got)]
        extra = [g for g in got if not any(w in g for w in wanted)]
        if missing or extra:
            return Verdict(False, f"missing {missing}, unexpected {extra}")
        return Verdict(True)

    return check


def fields(**checks: Check) -> Check:
    """The result is an object and each named field passes its check."""

    def check(value: Any) -> Verdict:
        if not isinstance(value, dict):
            return Verdict(False, f"expected an object, got {type(value).__name__}: {_short(value)}")
        for name, field_check in checks.items():
            if name not in value:
                return Verdict(False, f"field {name!r} missing in {_short(value)}")
            verdict = field_check(value[name])
            if not verdict.ok:
                return Verdict(False, f"{name}: {verdict.reason}")
        return Verdict(True)

    return check


def not_found() -> Check:
    """The "not found" answer of the NOT_FOUND schema: found is false and no value is made up."""

    def check(value: Any) -> Verdict:
        if not isinstance(value, dict):
            return Verdict(False, f"expected an object, got {_short(value)}")
        if value.get("found") is not False:
            return Verdict(False, f"expected found=false, got {_short(value)}")
        if value.get("value") not in (None, "", "not found", "none", "n/a"):
            return Verdict(False, f"found=false but a value was given: {value.get('value')!r}")
        return Verdict(True)

    return check


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
