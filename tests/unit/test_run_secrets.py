"""Run secrets on the control plane: patterns inside allowed domains, hashing, log masking."""

from __future__ import annotations

import io
import json

import pytest

from shared import logging as oh_logging
from shared import secrets as run_secrets
from shared.errors import Unprocessable
from shared.models.runs import CreateRunRequest, RunSecret


@pytest.mark.parametrize(
    ("inner", "outer", "inside"),
    [
        ("shop.example.com", "*.example.com", True),
        ("example.com", "*.example.com", True),
        ("*.shop.example.com", "*.example.com", True),
        ("*.example.com", "*.example.com", True),
        ("*.example.com", "example.com", False),
        ("badexample.com", "*.example.com", False),
        ("example.org", "*.example.com", False),
        ("example.com", "example.com", True),
        ("www.example.com", "example.com", False),
        ("*", "*.example.com", False),
        ("anything.test", "*", True),
        ("203.0.113.7", "203.0.113.0/24", True),
        ("203.0.113.0/28", "203.0.113.0/24", True),
        ("198.51.100.1", "203.0.113.0/24", False),
        ("203.0.113.7", "*.example.com", False),
        ("203.0.113.7", "203.0.113.7", True),
    ],
)
def test_pattern_within(inner: str, outer: str, inside: bool) -> None:
    assert run_secrets.pattern_within(inner, outer) is inside


def _secret(match: str, **fields: str) -> RunSecret:
    return RunSecret(match=match, fields=fields)


def test_secrets_outside_allowed_domains_are_refused_with_their_location() -> None:
    secrets = [_secret("a.example.com", password="p1p1p1"), _secret("example.org", password="p2p2p2")]
    with pytest.raises(Unprocessable) as err:
        run_secrets.check_secrets(secrets, ["*.example.com"])
    assert err.value.code == "secret_domain_not_allowed"
    assert [d["loc"] for d in err.value.details] == [["secrets", 1, "match"]]
    assert "p2p2p2" not in json.dumps(err.value.details) and "p2p2p2" not in err.value.message
    run_secrets.check_secrets(secrets, None)  # no allowed list: any pattern


def test_secrets_too_large_to_seal_are_refused() -> None:
    big = [_secret(f"s{i}.example.com", **{f"f{j}": "x" * 900 for j in range(2)}) for i in range(2)]
    with pytest.raises(Unprocessable) as err:
        run_secrets.check_secrets(big, None)
    assert err.value.code == "secrets_too_large"


def test_request_fields_validate_names_and_never_echo_values() -> None:
    with pytest.raises(ValueError) as err:
        CreateRunRequest(prompt="sign in", secrets=[{"match": "example.com", "fields": {"bad name": "s3cr3t-v"}}])
    assert "s3cr3t-v" not in str(err.value)


def test_idempotency_hash_holds_no_value_and_still_tells_bodies_apart() -> None:
    from shared.runs.service import request_hash

    a = CreateRunRequest(prompt="sign in", secrets=[{"match": "example.com", "fields": {"pw": "value-one"}}])
    b = CreateRunRequest(prompt="sign in", secrets=[{"match": "example.com", "fields": {"pw": "value-two"}}])
    assert request_hash(a, "k") == request_hash(a.model_copy(), "k")
    assert request_hash(a, "k") != request_hash(b, "k")
    assert "value-one" not in json.dumps(run_secrets.hash_view([{"match": "x", "fields": {"pw": "value-one"}}], "k"))


def test_known_values_are_masked_in_every_log_line_while_held() -> None:
    stream = io.StringIO()
    oh_logging.configure(stream=stream)
    try:
        log = oh_logging.get_logger("t")
        with oh_logging.secret_values(["hunter2-canary", 'q"uote-canary']):
            log.info("typed", detail={"deep": [{"x": "was hunter2-canary!"}]}, other='q"uote-canary')
            try:
                raise ValueError("boom hunter2-canary")
            except ValueError:
                log.exception("failed")
        log.info("after", note="hunter2-canary")
    finally:
        oh_logging.configure()
    held, failed, after = stream.getvalue().splitlines()
    assert "hunter2-canary" not in held and "uote-canary" not in held and "[REDACTED]" in held
    assert "hunter2-canary" not in failed
    assert "hunter2-canary" in after  # released: nothing is masked for ever
