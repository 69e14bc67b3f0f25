"""The static route table (shared/api/route_table.py) names each route of the routers, and only those."""

from __future__ import annotations

import importlib

from shared.api import route_table


def test_the_route_table_lists_exactly_the_routes_the_routers_declare() -> None:
    declared = []
    for name in route_table.MODULES:
        router = importlib.import_module(f"shared.api.routes.{name}").router
        declared += [(name, method, key[0]) for key in router._routes for method in key[1]]
    assert declared == list(route_table.ROUTES)
