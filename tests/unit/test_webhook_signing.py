"""Signing is checked with the reference implementation (standardwebhooks), not with itself."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.webhooks import signing

BODY = json.dumps({"type": "run.succeeded", "timestamp": "2026-01-01T00:00:00+00:00", "data": {"id": "run_1"}})


def test_new_secret_is_whsec_base64_of_at_least_24_random_bytes() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) >= 24


def test_headers_verify_with_standardwebhooks() -> None:
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers([secret], "msg_run_1_run_succeeded", now, BODY)
    assert headers["webhook-id"] == "msg_run_1_run_succeeded"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "OpenHelm-Webhooks/1"
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_a_wrong_secret_or_changed_body_does_not_verify() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("run_1", "run_2"), headers)


def test_during_rotation_two_signatures_new_first_and_either_secret_verifies() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    now = int(time.time())
    headers = signing.headers([new, old], "msg_1", now, BODY)
    sigs = headers["webhook-signature"].split(" ")
    assert sigs == [signing.signature(new, "msg_1", now, BODY), signing.signature(old, "msg_1", now, BODY)]
    assert Webhook(new).verify(BODY, headers) and Webhook(old).verify(BODY, headers)


def test_signature_matches_the_reference_signer_for_unicode_bodies() -> None:
    from datetime import UTC, datetime

    secret = signing.new_secret()
    body = json.dumps({"data": {"title": "Prix · 10 €"}}, ensure_ascii=False)
    ts = 1_767_225_600
    ref = Webhook(secret).sign("msg_x", datetime.fromtimestamp(ts, UTC), body)
    assert signing.sign([secret], "msg_x", ts, body) == ref


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        signing.sign([], "msg_1", 1, BODY)
