"""Fit an AI aria snapshot into a character budget without losing short text.

Playwright's AI snapshot is YAML-like, one node per line::

    - row [ref=e10]:
      - cell "Free" [ref=e11]
      - cell "1" [ref=e12]
    - paragraph [ref=e20]: A very long paragraph ...
      - /url: https://example.com/a/very/long/link

Long pages blow any sensible token budget, but the bits that carry answers are often tiny (a "1",
a "—", a "✓" in a pricing table), and they often come after pages of prose. So the cap spends the
budget on long texts last, working in stages and stopping as soon as the snapshot fits:

1. drop noise annotations (``[cursor=pointer]``);
2. shorten long ``/url:`` values (down to 60 characters);
3. shorten long texts (quoted names and ``: text`` values) step by step down to ``MIN_TEXT``
   characters, marking each cut with ``…``;
4. drop the ``/url:`` lines (links stay clickable by their ref);
5. cut the long texts (those over ``MIN_TEXT`` characters) to 30 characters, then to nothing
   (``- paragraph [ref=e4]: …``: role and ref stay, so the element can still be used);
6. fold each run of such emptied lines into one line ``- … 12 long texts left out``;
7. only then drop whole lines from the end, with a final marker saying how many were left out.

A text of ``MIN_TEXT`` characters or fewer is never shortened, and its line is dropped only in the
last stage, after every long text is gone. A line is never cut in the middle. The budget is in
characters (about four per token for page text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_TEXT = 80
ELLIPSIS = "…"
_TEXT_LIMITS = (400, 200, 120, MIN_TEXT)
_URL_LIMITS = (200, 100, 60)
_LONG_TEXT_LAST = 30
_MARKER_RESERVE = 200
_NOISE = re.compile(r" \[cursor=pointer\]")
_REF = re.compile(r"\[ref=([A-Za-z0-9_-]+)\]")
# `- role "name" [attr] [attr]: value` -- every part after the role optional.
_LINE = re.compile(
    r'^(?P<head>\s*- (?P<role>[^\s"\[:]+))'
    r'(?: "(?P<name>(?:[^"\\]|\\.)*)")?'
    r"(?P<attrs>(?: \[[^\]\n]*\])*)"
    r"(?P<tail>:(?: (?P<value>.*))?)?$"
)


@dataclass(frozen=True)
class CappedSnapshot:
    text: str
    original_chars: int
    shortened_lines: int
    omitted_lines: int

    @property
    def capped(self) -> bool:
        return len(self.text) != self.original_chars or self.omitted_lines > 0


def extract_refs(snapshot: str) -> set[str]:
    """Every element ref (``e12``, ``f4e80``) that appears in a snapshot."""
    return set(_REF.findall(snapshot))


def extract_elements(snapshot: str) -> dict[str, tuple[str, str]]:
    """ref -> (role, name) of every element line with a ref (for action errors the model can use)."""
    out: dict[str, tuple[str, str]] = {}
    for line in snapshot.splitlines():
        ref = _REF.search(line)
        if ref is None:
            continue
        match = _LINE.match(line)
        role = match.group("role") if match else "element"
        name = (match.group("name") or "") if match else ""
        out[ref.group(1)] = (role, name.replace('\\"', '"'))
    return out


def _cut(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters plus an ellipsis, never inside an escape sequence."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    backslashes = len(cut) - len(cut.rstrip("\\"))
    if backslashes % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def _shorten_value(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + _cut(value[1:-1], limit) + value[0]
    return _cut(value, limit)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def is_long(line: str) -> bool:
    """True if a text part of the line (name or value) is over ``MIN_TEXT`` characters."""
    match = _LINE.match(line)
    if match is None:
        return len(line) - _indent(line) - 2 > MIN_TEXT
    name, value = match.group("name"), match.group("value")
    return (name is not None and len(name) > MIN_TEXT) or (value is not None and len(value) > MIN_TEXT)


def shorten_line(line: str, limit: int, *, floor: int = MIN_TEXT) -> str:
    """Shorten each text part (quoted name, ``: value``) of one line that is over ``limit`` chars.

    ``limit`` is raised to ``floor`` (``MIN_TEXT`` by default) if lower.
    """
    limit = max(limit, floor)
    match = _LINE.match(line)
    if match is None:
        return _cut(line, _indent(line) + 2 + limit)
    name, value = match.group("name"), match.group("value")
    if (name is None or len(name) <= limit) and (value is None or len(value) <= limit):
        return line
    out = match.group("head")
    if name is not None:
        out += f' "{_cut(name, limit)}"'
    out += match.group("attrs")
    if value is not None:
        out += f": {_shorten_value(value, limit)}"
    elif match.group("tail"):
        out += ":"
    return out


def _emptied(line: str) -> str:
    """The line with its long text parts replaced by ``…`` (role, attributes and ref kept)."""
    match = _LINE.match(line)
    if match is None:
        return " " * _indent(line) + f"- {ELLIPSIS}"
    name, value = match.group("name"), match.group("value")
    out = match.group("head")
    if name is not None:
        out += f' "{ELLIPSIS}"' if len(name) > _LONG_TEXT_LAST else f' "{name}"'
    out += match.group("attrs")
    if value is not None:
        out += f": {ELLIPSIS}" if len(value) > _LONG_TEXT_LAST else f": {value}"
    elif match.group("tail"):
        out += ":"
    return out


def _is_url(line: str) -> bool:
    return line.lstrip().startswith("- /url: ")


def _shorten_url(line: str, limit: int) -> str:
    head, _, url = line.partition("/url: ")
    return f"{head}/url: {_cut(url, limit)}"


def _size(lines: list[str]) -> int:
    return sum(len(x) + 1 for x in lines) - 1 if lines else 0


def _fold_emptied(lines: list[str], emptied: list[bool]) -> tuple[list[str], int]:
    """Replace each run of emptied lines at one indentation by a single marker line."""
    out: list[str] = []
    folded = 0
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and emptied[j] and _indent(lines[j]) == _indent(lines[i]):
            j += 1
        if j - i >= 2:
            out.append(" " * _indent(lines[i]) + f"- {ELLIPSIS} {j - i} long texts left out")
            folded += j - i - 1
            i = j
        else:
            out.append(lines[i])
            i += 1
    return out, folded


def cap_snapshot(snapshot: str, max_chars: int) -> CappedSnapshot:
    """Return the snapshot fitted into ``max_chars`` characters by the staged rule above."""
    original = len(snapshot)
    if original <= max_chars:
        return CappedSnapshot(snapshot, original, 0, 0)
    lines = [_NOISE.sub("", line) for line in snapshot.splitlines()]
    before = list(lines)

    def result(kept: list[str]) -> CappedSnapshot:
        shortened = sum(1 for a, b in zip(before, kept, strict=True) if a != b)
        return CappedSnapshot("\n".join(kept), original, shortened, 0)

    if _size(lines) <= max_chars:
        return result(lines)
    for limit in _URL_LIMITS:
        lines = [_shorten_url(x, limit) if _is_url(x) else x for x in lines]
        if _size(lines) <= max_chars:
            return result(lines)
    long_flags = [is_long(x) for x in lines]
    for limit in _TEXT_LIMITS:
        lines = [shorten_line(x, limit) for x in lines]
        if _size(lines) <= max_chars:
            return result(lines)
    shortened = sum(1 for a, b in zip(before, lines, strict=True) if a != b)

    # From here on lines are removed; count them instead of comparing with the original.
    keep = [not _is_url(x) for x in lines]
    lines = [x for x, k in zip(lines, keep, strict=True) if k]
    long_flags = [f for f, k in zip(long_flags, keep, strict=True) if k]
    omitted = len(keep) - len(lines)
    if _size(lines) <= max_chars:
        return CappedSnapshot("\n".join(lines), original, shortened, omitted)
    lines = [shorten_line(x, _LONG_TEXT_LAST, floor=0) if f else x for x, f in zip(lines, long_flags, strict=True)]
    if _size(lines) <= max_chars:
        return CappedSnapshot("\n".join(lines), original, shortened, omitted)
    lines = [_emptied(x) if f else x for x, f in zip(lines, long_flags, strict=True)]
    if _size(lines) <= max_chars:
        return CappedSnapshot("\n".join(lines), original, shortened, omitted)
    lines, folded = _fold_emptied(lines, long_flags)
    omitted += folded
    if _size(lines) <= max_chars:
        return CappedSnapshot("\n".join(lines), original, shortened, omitted)

    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars - _MARKER_RESERVE:
            break
        kept.append(line)
        used += len(line) + 1
    dropped = len(lines) - len(kept)
    kept.append(
        f"- {ELLIPSIS} {dropped} more lines of this page were left out (snapshot over {max_chars} characters): "
        "extract(query) searches the whole page, extract(part=2) reads on"
    )
    return CappedSnapshot("\n".join(kept), original, shortened, omitted + dropped)
