"""The run record's budget (shared/orchestration/budget.py): whatever the agent left, Finalize's write
stays within DynamoDB's 400 KB item quota, the result is kept whole or the run says why."""

from __future__ import annotations

import pytest

from shared.orchestration.budget import (
    ITEM_QUOTA_BYTES,
    RUN_ITEM_BUDGET_BYTES,
    ResultTooLarge,
    clip,
    fit_records,
    fit_run_item,
    item_bytes,
    value_bytes,
)


def _step(i: int, text_chars: int = 9000) -> dict:
    return {"index": i, "action": "type", "args": {"ref": f"e{i}", "text": "✓" * text_chars}, "url": "u" * 2000}


def test_clip_says_how_much_was_cut() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("a" * 10, 4) == "aaaa…[6 more characters not kept]"


def test_records_within_budget_are_only_clipped_at_the_string_cap() -> None:
    steps = [_step(i, 100) for i in range(1, 11)]
    assert fit_records(steps, 10**6) == steps


def test_records_past_the_budget_clip_strings_then_drop_from_the_middle() -> None:
    steps = [_step(i) for i in range(1, 201)]
    fitted = fit_records(steps, 40_000)
    assert value_bytes(fitted) <= 40_000
    assert fitted[0]["index"] == 1 and fitted[-1]["index"] == 200, "the first and last steps stay"
    assert "more characters not kept" in fitted[0]["args"]["text"]
    assert len(fitted) < 200


def test_a_large_run_item_fits_with_its_result_whole() -> None:
    run = {"id": "run_1", "prompt": "p" * 20_000, "metadata": {f"k{n}": "v" * 500 for n in range(16)}}
    fields = {
        "result": {"rows": ["r" * 1000] * 240},
        "steps": [_step(i) for i in range(1, 201)],
        "network": [{"url": "n" * 2000, "status": 200} for _ in range(500)],
        "evidence": [{"step": i, "url": "e" * 200, "path": f"screenshots/step-{i:04d}.png"} for i in range(1, 201)],
    }
    assert item_bytes({**run, **fields}) > 3 * ITEM_QUOTA_BYTES
    notes: list[str] = []
    fitted = fit_run_item(run, fields, notes.append)
    assert item_bytes({**run, **fitted}) <= RUN_ITEM_BUDGET_BYTES
    assert fitted["result"] == fields["result"] and fitted["evidence"] == fields["evidence"]
    assert fitted["steps"] and fitted["network"]
    assert any(n.startswith("steps: ") for n in notes)


def test_a_result_that_cannot_fit_is_refused() -> None:
    run = {"id": "run_1", "inputs": {"blob": "i" * 200_000}}
    with pytest.raises(ResultTooLarge):
        fit_run_item(run, {"result": {"blob": "r" * 200_000}, "steps": [], "network": []})
