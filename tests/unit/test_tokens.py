import pytest

from shared.errors import Unauthorized
from shared.tokens import mint, verify

SECRET = b"s" * 32


def test_a_token_is_good_for_its_run_until_expiry() -> None:
    token = mint(SECRET, "run_A", "org_B", expires_at=1000)
    claims = verify(SECRET, token, now_s=999, run_id="run_A")
    assert (claims.run_id, claims.org_id) == ("run_A", "org_B")
    with pytest.raises(Unauthorized):
        verify(SECRET, token, now_s=1001)
    with pytest.raises(Unauthorized):
        verify(SECRET, token, now_s=1, run_id="run_C")


def test_forged_or_foreign_tokens_fail() -> None:
    token = mint(SECRET, "run_A", "org_B", expires_at=1000)
    forged = token.replace("org_B", "org_X")
    for bad in [forged, mint(b"other" * 8, "run_A", "org_B", 1000), "ohrt_x", None, "Bearer"]:
        with pytest.raises(Unauthorized):
            verify(SECRET, bad, now_s=1)
