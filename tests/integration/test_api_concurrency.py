"""The API handler serves concurrent requests correctly when one process hosts many (the local stack's
threaded gateway, with its resolver pool installed as the stack does): each request is parsed,
validated and answered against its own route."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.resolver_pool import ResolverPool
from shared.api import hosting
from shared.services import Services
from tests.support.apigw import call, http_event

THREADS = 8
ROUNDS = 12


@pytest.fixture
def resolvers() -> Iterator[ResolverPool]:
    pool = ResolverPool()
    pool.install()
    yield pool
    pool.uninstall()
    assert hosting.current_lease() is None


def test_concurrent_requests_on_different_routes_are_answered_each_by_its_own_route(
    svc: Services, org_key: tuple[str, str], resolvers: ResolverPool
) -> None:
    _, key = org_key

    def create_project(i: int) -> tuple[str, int, str]:
        r = call(http_event("POST", "/v1/projects", body={"name": f"p{i}"}, key=key))
        return "project", r.status, r.json["name"] if r.status == 201 else r.text

    def cancel_missing(i: int) -> tuple[str, int, str]:
        r = call(http_event("POST", f"/v1/runs/run_missing{i}/cancel", key=key))
        return "cancel", r.status, r.json["error"]["code"]

    def health(i: int) -> tuple[str, int, str]:
        r = call(http_event("GET", "/v1/health"))
        return "health", r.status, r.json["status"]

    calls = [create_project, cancel_missing, health]
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda i: calls[i % 3](i), range(THREADS * ROUNDS)))

    expected = {
        "project": lambda i: ("project", 201, f"p{i}"),
        "cancel": lambda i: ("cancel", 404, "run_not_found"),
        "health": lambda i: ("health", 200, "ok"),
    }
    wrong = [(i, r) for i, r in enumerate(results) if r != expected[r[0]](i)]
    assert wrong == []
    names = {p["name"] for p in call(http_event("GET", "/v1/projects", key=key, query={"limit": "100"})).json["data"]}
    assert {f"p{i}" for i in range(0, THREADS * ROUNDS, 3)} <= names
    assert 1 < resolvers.built <= THREADS  # requests did overlap, each answered by a resolver of its own
