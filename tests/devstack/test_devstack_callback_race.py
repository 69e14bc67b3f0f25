"""moto's waitForTaskToken with HeartbeatSeconds loses a task success that arrives before the
heartbeat endpoint exists (devstack/patches.py). With the patch the waiter sees it at once."""

from __future__ import annotations

from devstack import patches


def test_success_sent_before_the_heartbeat_endpoint_exists_is_not_lost() -> None:
    patches.install()
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, CallbackOutcomeSuccess

    endpoint = CallbackEndpoint(callback_id="tok")
    endpoint.notify(CallbackOutcomeSuccess(callback_id="tok", output="{}"))  # the agent was fast
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=1)
    assert heartbeat.clear_and_wait() is True  # unpatched: False after 1 s, the run "timed out"
    assert endpoint.get_outcome() is not None


def test_heartbeat_endpoint_without_an_outcome_still_waits() -> None:
    patches.install()
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    heartbeat = CallbackEndpoint(callback_id="tok2").setup_heartbeat_endpoint(heartbeat_seconds=0)
    assert heartbeat.clear_and_wait() is False
