"""``openhelm admin`` as an operator runs it against a running local stack: a separate process that
reaches the stack's table through its moto server (``--endpoint-url``), and a key that the stack's
API accepts at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from devstack.stack import EmbeddedStack
from tests.devstack.conftest import ROOT

PARAMS = {"Stage": "dev", "SandboxProvider": "local", "RunTokenSecret": "r" * 40}


@pytest.fixture(scope="module")
def real() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(ROOT / "template.yaml", PARAMS, schedules=False) as stack:
        yield stack


def admin(stack: EmbeddedStack, *argv: str, table: str | None = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("OPENHELM_")}
    cmd = [
        sys.executable,
        "-m",
        "devstack.cli",
        "admin",
        "--endpoint-url",
        stack.aws_endpoint,
        "--region",
        stack.region,
        *(["--table", table or stack.physical_id("MainTable")] if table is not None else []),
        "--operator",
        "ops",
        *argv,
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def get(stack: EmbeddedStack, path: str, key: str) -> tuple[int, dict]:
    req = urllib.request.Request(stack.url + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_an_org_made_by_the_admin_process_is_served_by_the_running_stack(real: EmbeddedStack) -> None:
    made = admin(real, "org", "create", "Acme", "--balance", "12.5")
    org_id, key = made["org"]["id"], made["api_key"]
    admin(real, "balance", "credit", org_id, "2.5", "--reason", "welcome")
    status, balance = get(real, "/v1/balance", key)
    assert status == 200 and balance["balance_usd"] == "15.00"
    _, txns = get(real, "/v1/balance/transactions", key)
    assert [(t["amount_usd"], t["actor"]) for t in txns["data"]] == [
        ("2.50", "operator:ops"),
        ("12.50", "operator:ops"),
    ]
    assert org_id in [o["id"] for o in admin(real, "org", "list")["data"]]


def test_the_local_stacks_one_table_is_found_without_naming_it(real: EmbeddedStack) -> None:
    made = admin(real, "org", "create", "Globex", table=None)
    assert made["org"]["id"] in [o["id"] for o in admin(real, "org", "list", table=None)["data"]]
