"""The IETF RateLimit / RateLimit-Policy fields: on every answer of run creation (202, 200 with
wait), with Retry-After on the 429, and Retry-After on a 503."""

from __future__ import annotations

from shared.clock import FakeClock
from shared.models.orgs import OrgLimits
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.apigw import call, http_event

LIMITS = OrgLimits(rate_per_minute=60, rate_burst=3)


def create(key: str) -> object:
    return call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key))


def test_successes_count_down_the_remaining_budget_and_the_429_says_when(svc: Services) -> None:
    _, key = bootstrap_org("acme", svc, limits=LIMITS)
    answers = [create(key) for _ in range(4)]
    assert [a.status for a in answers] == [202, 202, 202, 429]
    assert {a.headers["ratelimit-policy"] for a in answers} == {'"runs";q=3;w=3'}
    assert [a.headers["ratelimit"] for a in answers[:3]] == ['"runs";r=2;t=1', '"runs";r=1;t=2', '"runs";r=0;t=3']
    refused = answers[3]
    assert refused.headers["retry-after"] == "1" and refused.headers["ratelimit"] == '"runs";r=0;t=3'
    assert refused.json["error"]["code"] == "rate_limited"


def test_a_503_says_when_to_retry(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    svc.orchestrator.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:gone"
    r = create(key)
    assert r.status == 503
    assert r.headers["retry-after"] == "2"
    assert r.headers["ratelimit-policy"] == '"runs";q=30;w=15' and r.headers["ratelimit"] == '"runs";r=0;t=2'


class FinishingClock(FakeClock):
    """A clock whose first sleep is when the run finishes (as the agent would, while ?wait polls)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_sleep: list = []

    def sleep(self, seconds: float) -> None:
        while self.on_sleep:
            self.on_sleep.pop()()
        super().sleep(seconds)


def test_the_200_of_a_waited_run_carries_them_too(moto_aws: None) -> None:
    from shared.api import deps
    from shared.models.common import RunStatus
    from shared.runs import service as runs
    from tests.support.aws import make_services

    clock = FinishingClock()
    svc = make_services(clock=clock)
    deps.override(svc)
    try:
        org_id, key = bootstrap_org("acme", svc, limits=LIMITS)

        def finish() -> None:
            (run,) = svc.runs.list(org_id, limit=1, cursor=None, status=None, project_id=None, job_id=None)[0]
            runs.finish_run(svc, org_id, run.id, RunStatus.succeeded, {"result": {"n": 1}})

        clock.on_sleep.append(finish)
        r = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, query={"wait": "5"}))
        assert r.status == 200, r.text
        assert r.json["status"] == "succeeded"
        assert r.headers["ratelimit"] == '"runs";r=2;t=1' and r.headers["ratelimit-policy"] == '"runs";q=3;w=3'
    finally:
        deps.override(None)
