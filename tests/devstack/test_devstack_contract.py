"""The API keeps its OpenAPI contract (issue 15, "CI keeps it so"): schemathesis, every check, a bounded
number of examples per operation and a fixed seed, against the real template in the local stack with
a valid key. Runs are handed to the instant sandbox double (devstack/testing/instant_provider.py), so
POST /v1/runs starts real executions that finish at once.

Counted from the HAR of every request sent, independently of schemathesis' own verdicts: server
errors (5xx), and statuses the document does not list for the operation. Schemathesis' failures
(response schema, content type, headers, negative data accepted, positive data refused except for
the rules the document states in words, see contract_hooks.py) fail the test with their report.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import urllib.request
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 8  # per operation and phase: 1,549 requests, 25 s quiet and 80-100 s on a loaded 2-core machine
SEED = 15


@pytest.fixture(scope="module")
def contract_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from devstack.local_env import LOCAL_ENV
    from devstack.stack import EmbeddedStack
    from devstack.testing.instant_provider import InstantProvider
    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox import factory

    params = {
        "Stage": "dev",
        "SandboxProvider": "local",
        "RunTokenSecret": "contract-" + "s" * 40,
        "OpenAIBaseUrl": "http://127.0.0.1:9/v1",
        "LlmApiKey": "sk-contract",
        "DefaultModel": "contract-model",
        "LogLevel": "ERROR",
    }
    with EmbeddedStack(ROOT / "template.yaml", params, env=dict(LOCAL_ENV), schedules=False) as stack:
        factory.override(InstantProvider())
        try:
            # Limits high enough that the generated load meets no 402/429: those are tested elsewhere.
            limits = OrgLimits(rate_per_minute=10**7, rate_burst=10**6, max_concurrent_runs=10**6)
            _, key = bootstrap_org("contract", limits=limits, start_balance_micros=10**12)
            # The document is built on its first request (its models load only then: cold start,
            # shared/api/openapi.py); built here, where no 10 s schema-loading timeout applies.
            with urllib.request.urlopen(f"{stack.url}/openapi.json", timeout=300) as reply:
                assert reply.status == 200
            yield stack.url, key
        finally:
            factory.override(None)


Operation = tuple[str, str, re.Pattern[str], set[int]]  # method, path template, its pattern, statuses


def _operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, ops in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, op in ops.items():
            out.append((method.upper(), path, pattern, {int(s) for s in op["responses"]}))
    return out


def _operation(table: list[Operation], method: str, path: str) -> Operation | None:
    # Static paths come first in the document, so /v1/webhooks/secret is not read as /v1/webhooks/{id}.
    for operation in table:
        if operation[0] == method and operation[2].match(path):
            return operation
    return None  # a method schemathesis tried on purpose (unsupported_method): 405 is the documented answer


# Methods schemathesis sends to see 405 (its default list). The two the local gateway does not
# dispatch yet are probed first; see the test.
KNOWN_METHODS = ["get", "put", "post", "delete", "options", "patch"]
PROBED_METHODS = ["trace", "query"]


def _answers_405(url: str, method: str) -> bool:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method.upper(), "/v1/runs")
        return conn.getresponse().status == 405
    finally:
        conn.close()


def test_schemathesis_finds_no_server_error_and_no_contract_break(
    contract_stack: tuple[str, str], tmp_path: Path
) -> None:
    url, key = contract_stack
    reports = tmp_path / "reports"
    config = tmp_path / "schemathesis.toml"
    config.write_text("")
    excluded = ["positive_data_acceptance"]  # replaced by its tuned twin in contract_hooks.py
    unanswered = [m for m in PROBED_METHODS if not _answers_405(url, m)]
    if unanswered:
        # Issue 15 item 3 (the local gateway's 501 HTML page for TRACE, QUERY ...) is fixed in
        # devstack/gateway.py on its own branch; until it lands, those methods are left out, loudly.
        warnings.warn(f"the local gateway does not answer {unanswered} with 405: left out of the probes", stacklevel=1)
        methods = KNOWN_METHODS + [m for m in PROBED_METHODS if m not in unanswered]
        config.write_text(f"[phases.coverage]\nunexpected-methods = {json.dumps(methods)}\n")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.devstack.contract_hooks", "PYTHONPATH": str(ROOT)}
    cmd = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(excluded),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",  # and so no example database: nothing carried between runs
        "--workers",
        "1",  # hypothesis' lambda descriptions are not thread-safe on 3.11 (seen: AST recursion mismatch)
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {key}",
        "--report",
        "har,junit",
        "--report-dir",
        str(reports),
        "--no-color",
        "--warnings",
        "off",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)

    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    table = _operations(doc)
    hars = list(reports.glob("har-*.json"))
    assert hars, f"schemathesis did not run (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    har = json.loads(hars[0].read_text())
    entries = har["log"]["entries"]
    statuses: Counter[int] = Counter()
    server_errors, undocumented = [], []
    tested: set[tuple[str, str]] = set()
    for entry in entries:
        method = entry["request"]["method"]
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        statuses[status] += 1
        if status >= 500:
            server_errors.append(f"{status} {method} {path}: {entry['response']['content'].get('text', '')[:200]}")
        operation = _operation(table, method, path)
        if operation is not None:
            tested.add(operation[:2])
            if status not in operation[3]:
                undocumented.append(f"{status} {method} {path}")
    summary = (
        f"requests tried: {len(entries)}; statuses: {dict(sorted(statuses.items()))}; "
        f"operations: {len(tested)}/{len(table)}; 5xx: {len(server_errors)}; undocumented statuses: {len(undocumented)}"
    )
    sys.stdout.write(summary + "\n")

    assert len(entries) > 200, f"schemathesis sent too few requests to mean anything\n{summary}\n{done.stdout[-3000:]}"
    assert tested == {op[:2] for op in table}, f"operations never tried: {sorted({op[:2] for op in table} - tested)}"
    assert not server_errors, "\n".join([summary, *server_errors[:20]])
    assert not undocumented, "\n".join([summary, *sorted(set(undocumented))[:20]])
    assert done.returncode == 0, f"{summary}\n{done.stdout[-12000:]}\n{done.stderr[-3000:]}"
