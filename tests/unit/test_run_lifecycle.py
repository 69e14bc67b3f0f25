"""The transition table of shared/runs/lifecycle.py: every status has its row, terminal ones move
nowhere, every live one can end, and a move the table does not allow is refused before any write."""

from __future__ import annotations

from typing import cast

import pytest

from shared.models.common import TERMINAL_STATUSES, RunStatus
from shared.runs.lifecycle import HOLDS_SLOT, TRANSITIONS, TransitionNotAllowed, move, sources
from shared.services import Services


def test_every_status_has_a_row_and_only_live_ones_move() -> None:
    assert set(TRANSITIONS) == set(RunStatus)
    for status, targets in TRANSITIONS.items():
        if status in TERMINAL_STATUSES:
            assert targets == frozenset()
        else:
            assert targets >= TERMINAL_STATUSES, f"{status} must be able to end"
            assert status not in targets


def test_no_run_goes_back_to_queued() -> None:
    assert sources(RunStatus.queued) == []
    assert sources(RunStatus.starting) == [RunStatus.queued]
    assert HOLDS_SLOT.isdisjoint(TERMINAL_STATUSES | {RunStatus.queued})


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        ([RunStatus.running], RunStatus.queued),
        ([RunStatus.succeeded], RunStatus.failed),
        ([RunStatus.running], RunStatus.starting),
        ([RunStatus.queued, RunStatus.running], RunStatus.failed),  # one holds a slot, one does not
    ],
)
def test_a_move_the_table_does_not_allow_is_refused_before_any_write(frm: list[RunStatus], to: RunStatus) -> None:
    # No Services at all: the refusal comes before anything is read or written.
    with pytest.raises(TransitionNotAllowed):
        move(cast(Services, None), "org_x", "run_x", frm=frm, to=to)


@pytest.mark.parametrize("waiting", [RunStatus.needs_input, RunStatus.waiting_for_tool])
def test_a_waiting_run_goes_back_to_running_keeps_its_slot_and_can_end(waiting: RunStatus) -> None:
    assert waiting in TRANSITIONS[RunStatus.running]
    assert RunStatus.running in TRANSITIONS[waiting]
    assert waiting in HOLDS_SLOT  # the slot is kept while the run waits: no re-admission on the answer
    assert TRANSITIONS[waiting] >= TERMINAL_STATUSES
    assert sources(waiting) == [RunStatus.running]  # only a running agent asks


def test_a_waiting_run_cannot_jump_to_the_other_wait() -> None:
    assert RunStatus.waiting_for_tool not in TRANSITIONS[RunStatus.needs_input]
    assert RunStatus.needs_input not in TRANSITIONS[RunStatus.waiting_for_tool]
    with pytest.raises(TransitionNotAllowed):
        move(cast(Services, None), "org_x", "run_x", frm=[RunStatus.needs_input], to=RunStatus.waiting_for_tool)
