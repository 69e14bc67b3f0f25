"""The observation cap: long pages fit the budget, short text cells survive."""

from __future__ import annotations

import re

import pytest
from openhelm_agent.snapshot_cap import MIN_TEXT, cap_snapshot, extract_refs, shorten_line

TABLE = """\
- table [ref=e40]:
  - row [ref=e41]:
    - cell "Free" [ref=e42]
    - cell "1" [ref=e43]
    - cell "—" [ref=e44]
    - cell "✓" [ref=e45]"""


def long_page(paragraphs: int = 60, length: int = 900) -> str:
    prose = "\n".join(
        f"  - paragraph [ref=e{i}]: " + ("lorem ipsum dolor sit amet " * 40)[:length] for i in range(1, paragraphs)
    )
    links = "\n".join(
        f'  - link "Read more about section {i}" [ref=e{100 + i}] [cursor=pointer]:\n'
        f"    - /url: https://example.com/{'very/long/path/' * 12}{i}"
        for i in range(20)
    )
    return f"- main [ref=e0]:\n{prose}\n{links}\n{TABLE}"


def test_short_snapshot_is_untouched() -> None:
    capped = cap_snapshot(TABLE, 10_000)
    assert capped.text == TABLE
    assert not capped.capped


def test_long_page_fits_and_keeps_short_cells() -> None:
    page = long_page()
    assert len(page) > 50_000
    capped = cap_snapshot(page, 12_000)
    assert len(capped.text) <= 12_000
    assert capped.capped and capped.omitted_lines == 0
    for cell in ('cell "1" [ref=e43]', 'cell "—" [ref=e44]', 'cell "✓" [ref=e45]', 'cell "Free" [ref=e42]'):
        assert cell in capped.text
    assert "[cursor=pointer]" not in capped.text
    assert "…" in capped.text
    # Every ref survives: the model can still act on every element.
    assert extract_refs(capped.text) == extract_refs(page)


def test_url_lines_go_before_content_lines() -> None:
    page = long_page(paragraphs=150, length=200)
    capped = cap_snapshot(page, 18_000)
    assert len(capped.text) <= 18_000
    assert "/url:" not in capped.text
    assert capped.omitted_lines == 20  # exactly the URL lines
    assert 'cell "✓" [ref=e45]' in capped.text


def test_long_texts_are_emptied_and_folded_before_short_lines_go() -> None:
    page = long_page(paragraphs=400, length=100)
    capped = cap_snapshot(page, 5_000)
    assert len(capped.text) <= 5_000
    assert re.search(r"- … \d+ long texts left out", capped.text)
    assert capped.text.endswith(TABLE)


def test_last_resort_drops_whole_lines_with_a_marker() -> None:
    rows = "\n".join(f'  - row [ref=e{i}]:\n    - cell "{i % 7}" [ref=e{i}x]' for i in range(2_000))
    capped = cap_snapshot(f"- table [ref=e0]:\n{rows}", 5_000)
    assert len(capped.text) <= 5_000
    lines = capped.text.splitlines()
    assert re.fullmatch(r"- … \d+ more lines of this page were left out .*", lines[-1])
    assert int(lines[-1].split()[2]) == capped.omitted_lines
    assert lines[:-1] == f"- table [ref=e0]:\n{rows}".splitlines()[: len(lines) - 1]


@pytest.mark.parametrize(
    ("line", "limit", "expected"),
    [
        ('    - cell "1" [ref=e1]', MIN_TEXT, '    - cell "1" [ref=e1]'),
        (f'- link "{"x" * 200}" [ref=e2]:', 100, f'- link "{"x" * 100}…" [ref=e2]:'),
        (f"- paragraph [ref=e3]: {'y' * 300}", 120, f"- paragraph [ref=e3]: {'y' * 120}…"),
        (f'- text: "{"z" * 300}"', 90, f'- text: "{"z" * 90}…"'),
        (f'- button "{"a" * 50}" [ref=e4]', 10, f'- button "{"a" * 50}" [ref=e4]'),  # never below MIN_TEXT
        (
            f'- heading "{"q" * 99}\\"{"r" * 100}" [level=1] [ref=e5]',
            100,
            f'- heading "{"q" * 99}…" [level=1] [ref=e5]',
        ),
    ],
)
def test_shorten_line(line: str, limit: int, expected: str) -> None:
    assert shorten_line(line, limit) == expected


def test_extract_refs_with_frame_prefixes() -> None:
    text = '- button "A" [ref=e2]\n- iframe [ref=e3]:\n  - link "B" [ref=f1e2]\n- cell "x" [ref=f12e80]'
    assert extract_refs(text) == {"e2", "e3", "f1e2", "f12e80"}
