"""The pure parts of bench/browser_use_compare.py: counting browser-use's text and the comparison table.

No browser-use, browser or network: texts are written here in each side's format.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def compare():
    sys.path.insert(0, str(BENCH))
    try:
        import browser_use_compare

        yield browser_use_compare
    finally:
        sys.path.remove(str(BENCH))


class WordEncoding:
    """Stands in for o200k: one token per whitespace-separated word."""

    def encode(self, text: str) -> list[str]:
        return text.split()


BU_TEXT = """<browser_state>
Interactive elements:
[Start of page]
[13]<a />
\tHome
[44]<tr />
\tPrice
\t[47]<td />
\t\t$0
|scroll element[247]<iframe title=Orders /> (scroll)
\t[262]<button />
\t\tTrack parcel
|SHADOW(open)|[218]<input aria-label=Nickname />
[300]<div role=button />
\tOpen
[End of page]
</browser_state>"""


def test_browser_use_indices_on_links_buttons_fields_and_widgets_count_as_actionable(compare):
    # a, button, input (after a shadow prefix), div role=button; tr, td and the iframe are not.
    assert compare.browser_use_counts(BU_TEXT) == (4, 3)


def test_measure_counts_facts_and_refs_of_each_format(compare):
    ours = '- link "Home" [ref=e1]\n- row "Price $0":\n  - cell "$0"\n- button "Track parcel" [ref=e2]\n'
    facts = [r"Home", r"Track parcel", r"Nickname", r"member since 2019"]
    mine = compare.measure(ours, 12.0, facts, WordEncoding(), browser_use=False)
    theirs = compare.measure(BU_TEXT, 30.0, facts, WordEncoding(), browser_use=True)
    assert (mine.facts, mine.actionable, mine.others) == (2, 2, 0)
    assert (theirs.facts, theirs.actionable, theirs.others) == (3, 4, 3)
    assert mine.tokens == len(ours.split()) and mine.ms == 12.0


def test_table_gives_ratios_flags_pages_above_goal_and_sums_the_total(compare):
    side = compare.Side
    rows = [
        compare.Row("table", 4, 4, side(400, 4, 4, 0, 10.0), side(1000, 3, 4, 60, 40.0)),
        compare.Row("docs", 5, 85, side(1200, 5, 85, 0, 20.0), side(1000, 5, 85, 0, 50.0)),
    ]
    out = compare.table(rows)
    table_line = next(x for x in out if x.startswith("table "))
    docs_line = next(x for x in out if x.startswith("docs "))
    total_line = next(x for x in out if x.startswith("total "))
    assert "400/1000 (0.40x)" in table_line and "*" not in table_line
    assert "1200/1000 (1.20x) *" in docs_line
    assert "1600/2000 (0.80x)" in total_line and "*" not in total_line  # 0.8x meets the goal
    assert "9/8 of 9" in total_line and "89/89 of 89" in total_line and "30/90" in total_line
    assert "ours 0, browser-use 60" in out[-1]
