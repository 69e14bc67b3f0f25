from shared.confidence import Signals, score


def test_clean_run_keeps_the_models_confidence() -> None:
    value, reason = score(Signals(0.92, True, 0, 0, 0))
    assert value == 0.92 and reason == "model reported 0.92"


def test_repairs_errors_and_blocks_lower_it_and_say_why() -> None:
    value, reason = score(Signals(0.9, True, schema_repairs=1, step_errors=2, blocked_requests=1))
    assert value == 0.65
    assert "1 schema repair(s)" in reason and "2 step error(s)" in reason and "blocked" in reason


def test_invalid_result_is_zero() -> None:
    assert score(Signals(1.0, False, 0, 0, 0)) == (0.0, "result does not satisfy the output schema")
