import pytest
from pydantic import ValidationError

from shared.config import Settings


def test_reads_only_its_own_variables() -> None:
    s = Settings.from_env({"OPENHELM_TABLE": "t", "OPENHELM_STAGE": "local", "HOME": "/root"})
    assert s.table_name == "t" and s.stage == "local" and not s.is_production


def test_bad_values_fail_at_cold_start() -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"OPENHELM_STAGE": "staging"})
