"""``openhelm admin`` against the local stack's table (moto): orgs, keys, credit, debit, floor and
limits, and the ledger lines they leave, seen through the public API as the org sees them."""

from __future__ import annotations

import io
import json
from typing import Any

from devstack.admin import run_admin
from devstack.cli import build_parser
from shared.services import Services
from tests.support.apigw import call, http_event


def admin(svc: Services, *argv: str) -> tuple[int, Any]:
    """Run one admin command through the real argument parser, on the test table."""
    args = build_parser().parse_args(["admin", "--table", svc.settings.table_name, "--operator", "alice", *argv])
    out = io.StringIO()
    code = run_admin(args, out, svc=svc)
    return code, json.loads(out.getvalue())


def api(method: str, path: str, key: str, body: object = None) -> Any:
    return call(http_event(method, path, key=key, body=body))


def test_an_operator_creates_an_org_credits_it_and_the_ledger_says_who_and_why(svc: Services) -> None:
    code, made = admin(svc, "org", "create", "Acme", "--balance", "50")
    assert code == 0, made
    org_id, key = made["org"]["id"], made["api_key"]
    assert made["balance"]["balance_usd"] == "50.00"
    assert api("GET", "/v1/runs", key).status == 200  # the first key works at once

    assert admin(svc, "balance", "credit", org_id, "25.5", "--reason", "invoice 2026-014")[1]["balance_usd"] == "75.50"
    assert admin(svc, "balance", "debit", org_id, "0.5", "--reason", "correction")[1]["balance_usd"] == "75.00"
    floor = admin(svc, "balance", "floor", org_id, "-10", "--reason", "credit line")[1]
    assert floor["floor_usd"] == "-10.00" and floor["available_micros"] == 85_000_000

    txns = api("GET", "/v1/balance/transactions", key)
    assert txns.status == 200, txns.text
    lines = [(t["kind"], t["amount_usd"], t["balance_after_usd"], t["reason"], t["actor"]) for t in txns.json["data"]]
    assert lines == [
        ("floor", "0.00", "75.00", "credit line", "operator:alice"),
        ("debit", "-0.50", "75.00", "correction", "operator:alice"),
        ("credit", "25.50", "75.50", "invoice 2026-014", "operator:alice"),
        ("credit", "50.00", "50.00", "starting balance", "operator:alice"),
    ]
    assert txns.json["data"][0]["floor_after_micros"] == -10_000_000
    assert admin(svc, "balance", "transactions", org_id)[1]["data"] == txns.json["data"]


def test_org_list_show_and_limits(svc: Services) -> None:
    _, acme = admin(svc, "org", "create", "Acme")
    _, globex = admin(svc, "org", "create", "Globex")
    listed = admin(svc, "org", "list")[1]["data"]
    assert [o["name"] for o in listed] == ["Acme", "Globex"]
    org_id = acme["org"]["id"]
    code, changed = admin(
        svc, "org", "limits", org_id, "--max-concurrent-runs", "2", "--rate-per-minute", "300", "--max-cost-usd", "0.25"
    )
    assert code == 0, changed
    limits = admin(svc, "org", "show", org_id)[1]["org"]["limits"]
    assert (limits["max_concurrent_runs"], limits["rate_per_minute"], limits["max_cost_micros"]) == (2, 300, 250_000)
    assert admin(svc, "org", "show", globex["org"]["id"])[1]["org"]["limits"]["max_concurrent_runs"] == 5
    # the org now refuses a run asking for more than its cost cap
    refused = api("POST", "/v1/runs", acme["api_key"], {"prompt": "Count the links", "max_cost_usd": "1"})
    assert refused.status == 422 and refused.json["error"]["code"] == "limit_exceeded"
    bad = admin(svc, "org", "limits", org_id, "--max-steps", "0")
    assert bad[0] == 1 and "max_steps" in bad[1]["error"]["message"]


def test_keys_made_listed_and_revoked_by_an_operator(svc: Services) -> None:
    _, made = admin(svc, "org", "create", "Acme")
    org_id, first = made["org"]["id"], made["api_key"]
    code, reader = admin(svc, "key", "create", org_id, "--name", "dashboard", "--scope", "read")
    assert code == 0 and reader["scopes"] == ["read"]
    assert api("POST", "/v1/projects", reader["key"], {"name": "x"}).status == 403
    keys = admin(svc, "key", "list", org_id)[1]["data"]
    assert [k["name"] for k in keys] == ["first key", "dashboard"] and all("key" not in k for k in keys)
    first_id = keys[0]["id"]
    assert admin(svc, "key", "revoke", org_id, first_id)[1]["revoked"] is True
    assert api("GET", "/v1/runs", first).status == 401
    # the last live key needs --force
    last = admin(svc, "key", "revoke", org_id, reader["id"])
    assert last[0] == 1 and last[1]["error"]["code"] == "last_key"
    assert admin(svc, "key", "revoke", org_id, reader["id"], "--force")[1]["revoked"] is True


def test_bad_operator_input_changes_nothing(svc: Services) -> None:
    _, made = admin(svc, "org", "create", "Acme", "--balance", "1")
    org_id = made["org"]["id"]
    assert admin(svc, "balance", "credit", org_id, "-5", "--reason", "x")[0] == 1
    assert admin(svc, "balance", "credit", org_id, "0.0000001", "--reason", "x")[0] == 1
    assert admin(svc, "balance", "credit", "org_nope", "1", "--reason", "x")[1]["error"]["message"] == "no org org_nope"
    assert admin(svc, "balance", "show", org_id)[1]["balance_usd"] == "1.00"
    assert len(admin(svc, "balance", "transactions", org_id)[1]["data"]) == 1
