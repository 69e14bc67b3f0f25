"""What the session reaper costs each minute, counted at the DynamoDB wire: live sessions are settled
from one Query of the live index (gsi4 projects what the checks read), and only a session due for a
change is read again before it changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.api import deps
from shared.clock import FakeClock
from shared.db.sessions import LIVE_FIELDS
from shared.models.orgs import OrgLimits
from shared.orgs import bootstrap_org
from shared.sandbox.base import SandboxInfo
from shared.services import Services
from shared.sessions.reaper import reap_sessions
from tests.support.aws import make_services, template_resource
from tests.support.sessions import RecordingProvider, create, ready


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    services = make_services(clock=clock, OPENHELM_RUN_TOKEN_SECRET="x" * 40)
    services.sandbox_provider = RecordingProvider()
    deps.override(services)
    yield services
    deps.override(None)


@pytest.fixture
def dynamodb_calls(svc: Services) -> Counter[str]:
    """Every DynamoDB call from here on: the operation, with its index (Query) or its item's sort key
    (GetItem)."""
    calls: Counter[str] = Counter()

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "GetItem":
            calls[f"GetItem:{params['Key']['sk']['S']}"] += 1
        else:
            calls[f"{model.name}:{params['IndexName']}" if "IndexName" in params else model.name] += 1

    svc.table.client.meta.events.register("before-parameter-build.dynamodb", count)
    return calls


def _alive(provider: RecordingProvider) -> dict[str, SandboxInfo]:
    return {
        f"rec_{n}": SandboxInfo(f"rec_{n}", r.run_id, "recording", datetime.now(UTC), r.metadata)
        for n, r in enumerate(provider.requests, start=1)
    }


def test_live_sessions_cost_one_query_a_minute_and_a_read_only_when_one_is_due(
    svc: Services, clock: FakeClock, dynamodb_calls: Counter[str]
) -> None:
    _, key = bootstrap_org("acme", svc, limits=OrgLimits(max_concurrent_sessions=3))
    provider = svc.sandbox_provider
    assert isinstance(provider, RecordingProvider)
    ids = []
    for idle in (60, 600, 600):
        sid = create(key, {"start_url": "https://example.com/", "idle_timeout_s": idle}).json["id"]
        ready(svc, provider, sid)
        ids.append(sid)
    alive = _alive(provider)

    dynamodb_calls.clear()
    report = reap_sessions(svc, alive)
    assert report.expired == report.failed == report.killed == []
    # The live index, and the one sessions were listed under before it (empty): no GetItem at all.
    assert dynamodb_calls == {"Query:gsi4": 1, "Query:gsi3": 1}

    clock.advance(61)  # the first session's idle timeout has passed; the others' not
    dynamodb_calls.clear()
    report = reap_sessions(svc, alive)
    assert report.expired == [ids[0]]
    # Reads of the due session only (the reaper's consistent one before it acts, then the close's);
    # none of the healthy two, and none for the sandboxes (the closed one's was killed by its close).
    reads = {k for k in dynamodb_calls if k.startswith("GetItem:session#")}
    assert reads == {f"GetItem:session#{ids[0]}"}, dynamodb_calls
    assert provider.killed == ["rec_1"]

    dynamodb_calls.clear()
    del alive["rec_1"]
    reap_sessions(svc, alive)
    assert dynamodb_calls == {"Query:gsi4": 1, "Query:gsi3": 1}


def test_the_live_index_projects_every_field_the_checks_read() -> None:
    (gsi4,) = [i for i in template_resource("MainTable")["GlobalSecondaryIndexes"] if i["IndexName"] == "gsi4"]
    assert gsi4["Projection"]["ProjectionType"] == "INCLUDE"
    assert set(gsi4["Projection"]["NonKeyAttributes"]) == set(LIVE_FIELDS)
