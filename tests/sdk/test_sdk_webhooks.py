"""The SDK's webhook verification accepts what the API's signer (shared/webhooks/signing.py) sends and
what the reference ``standardwebhooks`` library signs, and refuses anything else."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from openhelm_sdk.webhooks import WebhookVerificationError, sign, verify
from standardwebhooks import Webhook

from shared.webhooks import signing

BODY = json.dumps({"type": "run.succeeded", "data": {"id": "run_1", "status": "succeeded"}})
NOW = 1_780_000_000


def test_a_delivery_signed_by_the_api_verifies_and_returns_the_payload() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", NOW, BODY)
    assert verify(BODY.encode(), headers, secret, now=NOW) == json.loads(BODY)


def test_during_a_rotation_either_secret_verifies() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "msg_1", NOW, BODY)
    assert verify(BODY, headers, old, now=NOW)["data"]["id"] == "run_1"
    assert verify(BODY, headers, [signing.new_secret(), new], now=NOW)


def test_the_reference_library_and_the_sdk_agree_both_ways() -> None:
    secret = signing.new_secret()
    theirs = Webhook(secret).sign("msg_2", datetime.fromtimestamp(NOW, tz=UTC), BODY)
    headers = {"Webhook-Id": "msg_2", "Webhook-Timestamp": str(NOW), "Webhook-Signature": theirs}
    assert verify(BODY, headers, secret, now=NOW)
    # the library checks the timestamp against its own clock
    now = int(time.time())
    ours = sign(BODY, secret, "msg_3", now)
    Webhook(secret).verify(BODY, {"webhook-id": "msg_3", "webhook-timestamp": str(now), "webhook-signature": ours})


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h, b: (h, b.replace("succeeded", "failed")), "no matching signature"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no matching signature"),
        (lambda h, b: ({**h, "webhook-timestamp": str(NOW - 301)}, b), "tolerance"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
    ],
)
def test_tampered_stale_or_unsigned_deliveries_are_refused(change, why) -> None:
    secret = signing.new_secret()
    headers, body = change(signing.headers([secret], "msg_1", NOW, BODY), BODY)
    with pytest.raises(WebhookVerificationError, match=why):
        verify(body, headers, secret, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, signing.headers([secret], "msg_1", NOW, BODY), signing.new_secret(), now=NOW)
