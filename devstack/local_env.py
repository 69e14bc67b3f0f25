"""Settings every local stack (``openhelm dev``, ``openhelm demo``, the end-to-end tests and the
benchmarks) runs with. Production never sets these: they open loopback to sandboxes and webhooks,
so each is announced at start."""

from __future__ import annotations

from typing import Any

LOCAL_ENV: dict[str, str] = {
    "OPENHELM_STAGE": "local",
    # Pages served on this machine can be browsed from a sandbox.
    "OPENHELM_SANDBOX_ALLOW_LOOPBACK": "true",
    # Webhooks may go to http://127.0.0.1 receivers.
    "OPENHELM_WEBHOOK_ALLOW_LOOPBACK": "true",
    # Webhook retries compressed from ≥ 24 h to about an hour; as many attempts as in production
    # (the queue's maxReceiveCount), the first retry within 5 s.
    "OPENHELM_WEBHOOK_RETRY_SCHEDULE_S": "2,4,8,15,30,60,120,300,600,1200,1800",
}


def announce(log: Any, env: dict[str, str]) -> None:
    """Log, loudly, what a local stack allows that production does not."""
    if env.get("OPENHELM_SANDBOX_ALLOW_LOOPBACK") == "true":
        log.warning("sandbox_loopback_allowed", note="sandboxes may reach 127.0.0.1 (local stack only)")
    if env.get("OPENHELM_WEBHOOK_ALLOW_LOOPBACK") == "true":
        log.warning("webhook_loopback_allowed", note="webhooks may go to http:// and 127.0.0.1 (local stack only)")
