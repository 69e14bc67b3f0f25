"""What the model sees after each step: URL, title and the capped AI aria snapshot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from openhelm_agent.browser import page_url, safe_title, short_error
from openhelm_agent.compact import RefMap, compact, unmark
from openhelm_agent.snapshot_cap import CappedSnapshot, cap_snapshot, extract_refs

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEFAULT_MAX_CHARS = 40_000


@dataclass
class Observation:
    url: str
    title: str
    snapshot: CappedSnapshot
    # short ref the model reads (``12``) -> Playwright's aria ref (``f5e13``), for the refs shown;
    # each aria ref of the page also maps to itself, so that a replay recorded with Playwright's
    # refs (before short refs) still resolves. No clash: short refs are digits only.
    refs: dict[str, str] = field(default_factory=dict)
    # short ref -> (role, name): what an action's error names.
    elements: dict[str, tuple[str, str]] = field(default_factory=dict)
    error: str | None = None
    snapshot_ms: int = 0
    # The compact snapshot before the cap: what extract() reads from.
    full_text: str = ""
    budget_chars: int = DEFAULT_MAX_CHARS

    def render(self, header: str = "") -> str:
        """The observation as the model reads it."""
        lines = [header] if header else []
        lines += [f"URL: {self.url}", f"Title: {self.title}"]
        if self.error:
            lines.append(f"Snapshot unavailable: {self.error}")
        elif not self.snapshot.text.strip():
            lines.append("Snapshot: (empty page)")
        else:
            note = ""
            if self.snapshot.capped:
                note = (
                    f" (page is long: {self.snapshot.original_chars} characters, over the budget of "
                    f"{self.budget_chars}; long texts shortened"
                    + (f", {self.snapshot.omitted_lines} lines left out" if self.snapshot.omitted_lines else "")
                    + "; extract(query) finds any text of the whole page, extract(part=N) reads it in parts)"
                )
            lines.append(f"Snapshot{note}:")
            lines.append(self.snapshot.text)
        return "\n".join(lines)

    def brief(self) -> str:
        """One line standing in for this observation once a newer one exists."""
        return f"(earlier page: {self.url} — {self.title!r}; snapshot elided, its refs are stale)"


# The text of the page's <pre> blocks, line breaks included (the aria snapshot squashes them).
_PRE_JS = "() => Array.from(document.querySelectorAll('pre')).slice(0, 100).map(p => p.innerText.slice(0, 20000))"


def _pre_blocks(page: Page) -> list[str]:
    try:
        blocks = page.evaluate(_PRE_JS)
    except Exception:  # a navigation under us: the snapshot stays usable without them
        return []
    return [b for b in blocks if isinstance(b, str)]


def observe(
    page: Page, *, max_chars: int = DEFAULT_MAX_CHARS, timeout_s: float = 10.0, refs: RefMap | None = None
) -> Observation:
    """Snapshot the page, retrying while a navigation replaces the document under us (``refs``: the
    session's short refs, so that a number keeps its meaning from one observation to the next)."""
    started = time.monotonic()
    raw: str | None = None
    pre: list[str] = []
    error: str | None = None
    for attempt in range(3):
        remaining = timeout_s - (time.monotonic() - started)
        if remaining <= 0:
            error = error or "timed out"
            break
        try:
            page.wait_for_load_state("domcontentloaded", timeout=max(1.0, remaining * 1000))
            raw = page.aria_snapshot(mode="ai", timeout=max(1.0, remaining * 1000))
            pre = _pre_blocks(page)
            error = None
            break
        except Exception as exc:  # "Execution context was destroyed" during a navigation, timeouts
            error = short_error(exc)
            if attempt < 2:
                try:
                    page.wait_for_timeout(100)
                except Exception:
                    break
    text = raw or ""
    compacted = compact(text, pre, refs)
    capped = cap_snapshot(compacted.text, max_chars)
    full = unmark(compacted.text)
    return Observation(
        url=page_url(page),
        title=safe_title(page),
        # original_chars counts the unmarked text too, so "capped" still means "the cap cut something".
        snapshot=replace(capped, text=unmark(capped.text), original_chars=len(full)),
        full_text=full,
        budget_chars=max_chars,
        refs={**{ref: ref for ref in extract_refs(text)}, **compacted.refs},
        elements=compacted.elements,
        error=error if raw is None else None,
        snapshot_ms=int((time.monotonic() - started) * 1000),
    )


def extract(full_text: str, query: str, part: int, max_chars: int) -> str:
    """Text of the whole (uncapped) snapshot: the lines matching ``query`` (case-insensitive) with a
    line of context each side, or else part ``part`` of it in ``max_chars`` pieces."""
    lines = full_text.splitlines()
    if query.strip():
        needle = query.strip().lower()
        hits = [i for i, line in enumerate(lines) if needle in line.lower()]
        if not hits and len(full_text) <= max_chars:
            # The answer may be worded otherwise: the real model asked for "tide height" on a page whose
            # table said "Height (m)" and "12:00 3.61", was told to look elsewhere, and made a value up
            # (the eval's js-tide). A page that fits is given whole.
            return (
                f"no text matching {query!r} on this page; the page is short, so here it is whole (the answer "
                "may be worded differently: a table row, a label). If it is not here, it may be on another "
                f"page: open the link whose name fits best.\n{full_text}"
            )
        if not hits:
            # Not "not found": a small model read the bare sentence as the answer while the fact was one
            # link away (the eval's nav-url-in-prompt).
            return (
                f"no text matching {query!r} on this page (the whole page was searched). That does not mean "
                "the site lacks it: it may be on another page; open the link whose name fits best, "
                "or search with a shorter query"
            )
        keep = sorted({j for i in hits for j in range(max(0, i - 1), min(len(lines), i + 2))})
        out: list[str] = []
        used = 0
        for j in keep:
            if used + len(lines[j]) + 1 > max_chars:
                out.append(f"… more matches left out ({len(hits)} lines match)")
                break
            out.append(lines[j])
            used += len(lines[j]) + 1
        return f"{len(hits)} line(s) match {query!r}:\n" + "\n".join(out)
    parts: list[list[str]] = [[]]
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars and parts[-1]:
            parts.append([])
            used = 0
        parts[-1].append(line[:max_chars])
        used += len(line) + 1
    if part > len(parts):
        return f"the page has only {len(parts)} part(s)"
    return f"part {part} of {len(parts)}:\n" + "\n".join(parts[part - 1])
