"""The agent's secret book: placeholders filled only on matching hosts, values masked everywhere."""

from __future__ import annotations

import pytest
from openhelm_agent.prompt import build_system_prompt
from openhelm_agent.secrets import Secret, SecretBook, SecretRefused
from openhelm_agent.spec import SpecError, parse_spec

BOOK = SecretBook([Secret("*.example.com", {"email": "me@corp.test", "password": 'pa ss&wo"rd'})])


def test_a_placeholder_is_filled_on_a_matching_host_only() -> None:
    assert BOOK.fill("<secret:password>", "https://login.example.com/x") == 'pa ss&wo"rd'
    assert BOOK.fill("user <secret:email>", "https://example.com/") == "user me@corp.test"
    with pytest.raises(SecretRefused) as err:
        BOOK.fill("<secret:password>", "https://example.com.evil.test/login")
    assert "may only be typed on pages of *.example.com" in str(err.value)
    assert "pa ss" not in str(err.value)
    with pytest.raises(SecretRefused, match="there is no secret <secret:pin>"):
        BOOK.fill("<secret:pin>", "https://example.com/")


def test_values_are_masked_raw_url_and_json_encoded() -> None:
    url = "https://example.com/welcome?email=me%40corp.test&password=pa+ss%26wo%22rd"
    assert BOOK.mask(url) == "https://example.com/welcome?email=<secret:email>&password=<secret:password>"
    data = {"title": "Hi me@corp.test", "nested": [{"t": 'pa ss&wo\\"rd'}], "me@corp.test": 1}
    masked = BOOK.mask_data(data)
    assert masked == {"title": "Hi <secret:email>", "nested": [{"t": "<secret:password>"}], "<secret:email>": 1}
    assert SecretBook().mask("me@corp.test") == "me@corp.test"


def test_the_spec_carries_secrets_without_showing_them() -> None:
    spec = parse_spec(
        {"run_id": "r", "prompt": "p", "model": "m", "secrets": [{"match": "Example.COM", "fields": {"pw": "s3cr3t"}}]}
    )
    assert spec.secrets[0].match == "example.com"
    assert "s3cr3t" not in repr(spec)
    prompt = build_system_prompt(spec)
    assert "<secret:pw> on pages of example.com" in prompt and "s3cr3t" not in prompt
    with pytest.raises(SpecError) as err:
        parse_spec(
            {"run_id": "r", "prompt": "p", "model": "m", "secrets": [{"match": "a b", "fields": {"pw": "s3cr3t"}}]}
        )
    assert "s3cr3t" not in str(err.value)
