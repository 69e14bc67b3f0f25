"""Every eval checker accepts its task's right answer and rejects wrong ones (a checker that cannot fail
would report a broken agent as passing)."""

from __future__ import annotations

import pytest

from evals.checks import fields, not_found, number, set_of, text
from evals.runner import select
from evals.tasks import TASKS

WRONG = [None, {}, "", "I could not find it.", {"found": True, "value": "42"}, {"found": False, "value": None}]


def test_suite_covers_the_required_kinds_of_task() -> None:
    assert len(TASKS) >= 25 and len({t.id for t in TASKS}) == len(TASKS)
    kinds = {t.category for t in TASKS}
    assert {
        "navigation",
        "forms",
        "search",
        "pagination",
        "tables",
        "javascript",
        "iframes",
        "downloads",
        "login",
        "not-found",
    } <= kinds
    assert any(t.start is None and "{site}" in t.prompt for t in TASKS)  # a URL named only in the prompt


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_checker_accepts_the_answer_and_rejects_wrong_ones(task) -> None:
    assert task.check(task.answer).ok, task.check(task.answer).reason
    for wrong in WRONG:
        if wrong != task.answer:
            assert not task.check(wrong).ok, wrong


def test_matching_is_tolerant_where_a_reader_would_be() -> None:
    assert number(2418.07)("€2,418.07").ok and number(15)("15").ok and not number(15)("150").ok
    assert text("Kofi Mensah")("The harbour master is KOFI  MENSAH.").ok
    assert text("Bogotá")("bogota").ok
    assert set_of(["Delhi", "Mumbai"])(["mumbai", "New Delhi"]).ok
    assert not set_of(["Delhi", "Mumbai"])(["Delhi"]).ok
    assert not set_of(["Delhi"])(["Delhi", "Paris"]).ok
    assert not fields(year=number(1987))('{"year": 1987}').ok  # a JSON string is not the object asked for
    assert not not_found()({"found": False, "value": "$12"}).ok  # "not found" plus a made-up value


def test_select_by_id_prefix_category_and_limit() -> None:
    assert [t.id for t in select(TASKS, "js-tide,login")] == ["js-tide", "login-balance"]
    assert len(select(TASKS, "not-found")) == 5
    assert len(select(TASKS, None, 3)) == 3
    with pytest.raises(SystemExit):
        select(TASKS, "no-such-task")
