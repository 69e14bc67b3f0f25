"""The project's real template.yaml comes up locally: the table with its indexes, the bucket
(presigned URLs usable by any HTTP client), the bus, the state machine, the functions' env."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator

import pytest

from devstack.stack import EmbeddedStack
from tests.devstack.conftest import ROOT

PARAMS = {"Stage": "dev", "SandboxProvider": "local", "RunTokenSecret": "r" * 40}


@pytest.fixture(scope="module")
def real() -> Iterator[EmbeddedStack]:
    def env() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    before = env()
    with EmbeddedStack(ROOT / "template.yaml", PARAMS, schedules=False) as stack:
        yield stack
    assert env() == before, "stopping the stack restores the environment"


def test_table_with_indexes(real: EmbeddedStack) -> None:
    table = real.client("dynamodb").describe_table(TableName=real.physical_id("MainTable"))["Table"]
    indexes = {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    assert {"gsi1", "gsi2", "gsi3", "gsi4"} <= indexes
    assert {k["AttributeName"] for k in table["KeySchema"]} == {"pk", "sk"}
    ttl = real.client("dynamodb").describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_bucket_with_presigned_urls(real: EmbeddedStack) -> None:
    s3 = real.client("s3")
    bucket = real.physical_id("EvidenceBucket")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_object(Bucket=bucket, Key="runs/r1/step-1.png", Body=b"\x89PNG fake")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "runs/r1/step-1.png"}, ExpiresIn=60)
    assert url.startswith(real.aws_endpoint)
    with urllib.request.urlopen(url, timeout=10) as resp:  # a plain HTTP client, as curl would
        assert resp.read() == b"\x89PNG fake"


def test_bus_and_state_machine(real: EmbeddedStack) -> None:
    assert real.client("events").describe_event_bus(Name="openhelm-dev")["Name"] == "openhelm-dev"
    sm = real.client("stepfunctions").describe_state_machine(stateMachineArn=real.physical_id("RunStateMachine"))
    assert sm["type"] == "STANDARD"
    definition = sm["definition"]
    assert "${" not in definition
    assert real.resolver.arn("RunStepsFunction") in definition
    json.loads(definition)


def test_functions_and_environment(real: EmbeddedStack) -> None:
    names = {f["FunctionName"] for f in real.client("lambda").list_functions()["Functions"]}
    assert {"openhelm-local-ApiFunction", "openhelm-local-SessionsFunction", "openhelm-local-RunStepsFunction"} <= names
    assert os.environ["OPENHELM_TABLE"] == real.physical_id("MainTable")
    assert os.environ["OPENHELM_EVIDENCE_BUCKET"] == real.physical_id("EvidenceBucket")
    assert os.environ["OPENHELM_EVENT_BUS"] == "openhelm-dev"
    assert os.environ["OPENHELM_RUN_STATE_MACHINE"] == real.physical_id("RunStateMachine")
    assert os.environ["OPENHELM_SANDBOX_PROVIDER"] == "local"
    assert os.environ["OPENHELM_STAGE"] == "dev"
    assert os.environ["OPENHELM_PUBLIC_URL"] == real.url
    assert real.template is not None
    # The session routes that touch a sandbox, and /mcp (its session tools do), go to the function
    # with SandboxLayer; the rest to the API.
    assert sorted((r.route_key, r.function) for r in real.template.http_routes) == [
        ("ANY /mcp", "SessionsFunction"),
        ("ANY /{proxy+}", "ApiFunction"),
        ("DELETE /v1/sessions/{session_id}", "SessionsFunction"),
        ("POST /internal/runs/{run_id}/exit", "SessionsFunction"),
        ("POST /internal/sessions/{session_id}/ready", "SessionsFunction"),
        ("POST /v1/sessions", "SessionsFunction"),
        ("POST /v1/sessions/{session_id}/{verb}", "SessionsFunction"),
    ]
    assert real.function("ApiFunction").code_uri == ROOT / "functions" / "api"


def test_unknown_method_is_the_405_envelope_with_allow(real: EmbeddedStack) -> None:
    """Issue 15.3: TRACE and other methods http.server has no handler for reach the API function (the
    local gateway used to answer its own HTML 501), which answers 405 in the error envelope."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(real.url)
    for method in ("TRACE", "PROPFIND"):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        conn.request(method, "/v1/runs")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        assert resp.status == 405, (method, body)
        assert resp.headers["content-type"] == "application/json"
        assert set(resp.headers["allow"].split(", ")) == {"GET", "POST"}
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] == "method_not_allowed"
        assert set(body["error"]) == {"type", "code", "message", "details"}
