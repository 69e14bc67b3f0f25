"""The transition table of shared/sessions/lifecycle.py: every status has its row, closed ones move
nowhere, every live one can close every way, and a move the table does not allow is refused before
any write."""

from __future__ import annotations

from typing import cast

import pytest

from shared.models.sessions import CloseReason, SessionStatus
from shared.services import Services
from shared.sessions.lifecycle import CLOSED_AS, LIVE, TERMINAL, TRANSITIONS, TransitionNotAllowed, move, sources

_S = SessionStatus


def test_every_status_has_a_row_and_only_live_ones_move() -> None:
    assert set(TRANSITIONS) == set(SessionStatus)
    assert {s for s in SessionStatus if s.is_terminal} == TERMINAL
    for status, targets in TRANSITIONS.items():
        if status in TERMINAL:
            assert targets == frozenset()
        else:
            assert targets >= TERMINAL, f"{status} must be able to close"
            assert status not in targets


def test_the_browser_goes_ready_busy_and_back_and_pauses_only_while_busy() -> None:
    assert sources(_S.starting) == []
    assert sources(_S.ready) == [_S.starting, _S.busy, _S.paused, _S.manual]
    assert sources(_S.busy) == [_S.ready, _S.paused, _S.manual]
    assert sources(_S.paused) == [_S.busy, _S.manual]


def test_a_person_takes_over_a_live_browser_and_hands_it_back_to_what_it_was() -> None:
    assert sources(_S.manual) == [_S.ready, _S.busy, _S.paused]
    assert TRANSITIONS[_S.manual] >= {_S.ready, _S.busy, _S.paused, *TERMINAL}
    assert _S.manual not in TRANSITIONS[_S.starting]


def test_every_close_reason_ends_in_a_terminal_status() -> None:
    assert set(CLOSED_AS) == set(CloseReason)
    assert set(CLOSED_AS.values()) <= TERMINAL
    assert CLOSED_AS[CloseReason.idle_timeout] == CLOSED_AS[CloseReason.max_duration] == _S.expired
    assert CLOSED_AS[CloseReason.failed] == _S.failed


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        ([_S.closed], _S.ready),
        ([_S.closed], _S.manual),  # a closed session never changes
        ([_S.starting], _S.manual),
        ([_S.ready], _S.paused),  # only a running task pauses
        ([_S.starting], _S.busy),  # a task waits for the browser
        ([_S.ready, _S.expired], _S.closed),
        (sorted(LIVE), _S.starting),
        ([], _S.closed),
    ],
)
def test_a_move_the_table_does_not_allow_is_refused_before_any_write(
    frm: list[SessionStatus], to: SessionStatus
) -> None:
    with pytest.raises(TransitionNotAllowed):
        move(cast(Services, None), "org_x", "ses_x", frm=frm, to=to)
