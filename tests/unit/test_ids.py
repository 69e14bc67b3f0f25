from shared.ids import IdFactory, is_id


def test_ids_are_prefixed_time_ordered_and_random() -> None:
    t = [1_700_000_000_000]
    ids = IdFactory(now_ms=lambda: t[0])
    a = ids.new("run")
    t[0] += 1
    b = ids.new("run")
    assert a.startswith("run_") and len(a) == 30
    assert a < b
    assert ids.new("run") != ids.new("run")
    assert is_id(a, "run") and not is_id(a, "job") and not is_id("run_../../etc", "run")


def test_unknown_prefix_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        IdFactory().new("nope")
