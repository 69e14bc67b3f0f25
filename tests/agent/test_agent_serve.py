"""Session mode's pure parts (openhelm_agent/serve.py): the mailbox reads commands once, in order,
waiting for a half-written one; pause / resume / stop apply to the running task only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openhelm_agent.clock import Deadline
from openhelm_agent.serve import Mailbox, TaskControl, TaskStopped


def test_the_mailbox_reads_each_command_once_in_name_order(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    (tmp_path / "cmd_02.json").write_text(json.dumps({"id": "cmd_02", "kind": "action"}))
    (tmp_path / "cmd_01.json").write_text(json.dumps({"id": "cmd_01", "kind": "task"}))
    (tmp_path / "note.txt").write_text("not a command")
    assert [c["id"] for c in box.new_commands()] == ["cmd_01", "cmd_02"]
    assert box.new_commands() == []
    (tmp_path / "cmd_03.json").write_text(json.dumps({"id": "cmd_03", "kind": "close"}))
    assert [c["id"] for c in box.new_commands()] == ["cmd_03"]


def test_a_half_written_command_holds_back_the_ones_after_it(tmp_path: Path) -> None:
    box = Mailbox(tmp_path, settle_s=60)
    (tmp_path / "cmd_01.json").write_text('{"id": "cmd_01", "ki')
    (tmp_path / "cmd_02.json").write_text(json.dumps({"id": "cmd_02", "kind": "action"}))
    assert box.new_commands() == []  # cmd_02 must not overtake cmd_01
    (tmp_path / "cmd_01.json").write_text(json.dumps({"id": "cmd_01", "kind": "action"}))
    assert [c["id"] for c in box.new_commands()] == ["cmd_01", "cmd_02"]


def test_an_unreadable_command_is_skipped_once_it_had_time(tmp_path: Path) -> None:
    box = Mailbox(tmp_path, settle_s=0)
    (tmp_path / "cmd_01.json").write_text("garbage")
    (tmp_path / "cmd_02.json").write_text(json.dumps({"id": "cmd_02", "kind": "action"}))
    assert [c["id"] for c in box.new_commands()] == ["cmd_02"]


def test_pause_holds_the_task_and_its_deadline_waits_with_it() -> None:
    control = TaskControl()
    assert control.apply("pause", "run_1") == "no such task is running"
    control.begin("run_1")
    assert control.apply("pause", "run_other") == "no such task is running"
    assert control.apply("pause", "run_1") is None
    deadline = Deadline(60)
    before = deadline.at
    served: list[int] = []

    def while_paused() -> None:  # what the agent does meanwhile: serve direct actions; here, resume
        served.append(1)
        if len(served) == 3:
            control.apply("resume", "run_1")

    control.checkpoint("run_1", deadline, while_paused, beat=lambda: None)
    assert len(served) == 3 and deadline.at > before  # moved by the time paused
    control.checkpoint("run_1", deadline, lambda: pytest.fail("not paused"), beat=lambda: None)


def test_stop_ends_the_task_at_its_next_step_even_while_paused_or_before_it_began() -> None:
    control = TaskControl()
    control.apply("stop", "run_early")  # the stop overtook its task's start
    assert control.stopped("run_early")
    control.begin("run_1")
    control.apply("pause", "run_1")

    def while_paused() -> None:
        control.apply("stop", "run_1")

    with pytest.raises(TaskStopped):
        control.checkpoint("run_1", Deadline(60), while_paused, beat=lambda: None)
    with pytest.raises(TaskStopped):
        control.checkpoint("run_1", Deadline(60), lambda: None, beat=lambda: None)


def test_a_resume_after_a_take_over_hands_its_note_to_the_next_step_once() -> None:
    control = TaskControl()
    control.begin("run_1")
    assert control.apply("pause", "run_1") is None
    assert control.apply("resume", "run_1", "A person took control and did: pressed Enter.") is None
    assert control.take_note() == "A person took control and did: pressed Enter."
    assert control.take_note() is None
