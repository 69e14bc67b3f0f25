"""Function URLs: each AWS::Lambda::Url is served on its own loopback endpoint, its events are
the function URL flavour of payload 2.0, and its URL reaches other functions through the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType

import pytest
import requests

from devstack.stack import EmbeddedStack
from tests.devstack.conftest import FIXTURES, wait_records


@pytest.fixture(scope="module")
def url_stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(FIXTURES / "function_url.yaml", {}, stack_name="furl", gateway=False) as running:
        yield running


@pytest.fixture(scope="module")
def echo(url_stack: EmbeddedStack) -> ModuleType:
    return url_stack.handler_module("Echo")


def test_the_url_is_what_getatt_resolves_to_for_other_functions_and_outputs(url_stack: EmbeddedStack) -> None:
    url = url_stack.function_url("EchoUrl")
    assert url.startswith("http://127.0.0.1:")
    # As in AWS, FunctionUrl carries a trailing slash.
    assert url_stack.invoke("Reader", {"kind": "env", "names": ["ECHO_URL"]}) == {"ECHO_URL": url + "/"}
    assert url_stack.outputs["EchoEndpoint"] == url + "/"
    assert "EchoUrl" not in url_stack.skipped


def test_a_request_becomes_a_function_url_event(url_stack: EmbeddedStack, echo: ModuleType) -> None:
    reply = requests.post(
        url_stack.function_url("EchoUrl") + "/echo?a=1",
        data=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer ohrt_x"},
        timeout=10,
    )
    assert reply.status_code == 201 and reply.headers["x-fixture"] == "yes"
    event = reply.json()["event"]
    (record,) = wait_records(echo, lambda r: r["kind"] == "http" and r["event"]["rawPath"] == "/echo")
    assert record["function"] == "furl-Echo"
    # Function URLs use payload 2.0 with sentinel route and stage, and no path parameters.
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    context = event["requestContext"]
    assert context["routeKey"] == "$default" and context["stage"] == "$default"
    assert context["accountId"] == "anonymous"  # AuthType NONE
    assert context["apiId"] != "local" and context["http"]["method"] == "POST"
    assert event["rawQueryString"] == "a=1" and "pathParameters" not in event
    assert json.loads(event["body"]) == {"hello": "world"}
    assert event["headers"]["authorization"] == "Bearer ohrt_x"
    # The function's own Timeout (45 s here) is the invocation's limit, not API Gateway's 30 s.
    assert record["remaining_ms"] > 30_000


def test_a_function_url_takes_at_most_lambdas_6_mb(url_stack: EmbeddedStack) -> None:
    reply = requests.post(url_stack.function_url("EchoUrl") + "/echo", data=b"x" * (6 * 1024 * 1024 + 1), timeout=30)
    assert reply.status_code == 413
