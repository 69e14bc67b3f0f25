"""The local HTTP gateway: requests become API Gateway HTTP API payload-2.0 events for the
function whose HttpApi route matches, and responses are mapped back by API Gateway's rules."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
from types import ModuleType
from urllib.parse import urlsplit

from devstack.gateway import LocalGateway
from devstack.http_api_payload import Router, build_event, map_response
from devstack.runtime import FunctionRegistry
from devstack.stack import EmbeddedStack
from devstack.template import HttpRoute
from tests.devstack.conftest import wait_records


def _request(
    url: str, method: str, target: str, body: bytes | None = None, headers: list[tuple[str, str]] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for key, value in headers or []:
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def test_request_becomes_a_payload_2_event(stack: EmbeddedStack, recorder: ModuleType) -> None:
    status, headers, body = _request(
        stack.url,
        "GET",
        "/echo?a=1&a=2&b=x%20y&empty=",
        headers=[
            ("X-Dup", "one"),
            ("X-Dup", "two"),
            ("Cookie", "c1=v1; c2=v2"),
            ("User-Agent", "fixture-agent/1.0"),
        ],
    )
    assert status == 201
    event = json.loads(body)["event"]
    (record,) = wait_records(recorder, lambda r: r["kind"] == "http")
    assert record["event"] == event and record["function"] == "fixture-Recorder"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["pathParameters"] == {"proxy": "echo"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "one,two"
    assert event["headers"]["user-agent"] == "fixture-agent/1.0"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(urlsplit(stack.url).port)
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert all(k == k.lower() for k in event["headers"])
    assert event["isBase64Encoded"] is False and "body" not in event
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "fixture-agent/1.0",
    }
    assert ctx["accountId"] == "123456789012" and ctx["apiId"] and ctx["stage"] == "$default"
    assert ctx["routeKey"] == "ANY /{proxy+}"
    assert ctx["domainName"] == urlsplit(stack.url).netloc
    assert ctx["requestId"] == headers["apigw-requestid"]
    assert isinstance(ctx["timeEpoch"], int)
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", ctx["time"])


def test_response_status_headers_cookies_are_mapped_back(stack: EmbeddedStack) -> None:
    status, headers, _body = _request(stack.url, "POST", "/echo", b'{"a": 1}', [("Content-Type", "application/json")])
    assert status == 201
    assert headers["x-fixture"] == "yes"
    assert headers.get_all("x-multi") == ["a", "b"]
    assert headers.get_all("set-cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark"]
    assert headers["content-type"] == "application/json"


def test_text_body_is_passed_as_text(stack: EmbeddedStack) -> None:
    _s, _h, body = _request(
        stack.url, "POST", "/echo", '{"name": "Zoë"}'.encode(), [("Content-Type", "application/json")]
    )
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"name": "Zoë"}'


def test_binary_body_is_base64_encoded(stack: EmbeddedStack) -> None:
    blob = bytes(range(256))
    _s, _h, body = _request(stack.url, "PUT", "/echo", blob, [("Content-Type", "application/octet-stream")])
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob
    # A text content type does not help a body that is not UTF-8.
    _s, _h, body = _request(stack.url, "POST", "/echo", b"\xff\xfe", [("Content-Type", "text/plain")])
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"


def test_base64_response_body_is_decoded(stack: EmbeddedStack) -> None:
    status, headers, body = _request(stack.url, "GET", "/binary")
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == bytes(range(256))


def test_results_without_status_code_are_inferred(stack: EmbeddedStack) -> None:
    status, headers, body = _request(stack.url, "GET", "/plain")
    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", {"hello": "world"})
    status, headers, body = _request(stack.url, "GET", "/text")
    assert (status, headers["content-type"], body) == (200, "application/json", b"just text")


def test_handler_exception_is_a_500(stack: EmbeddedStack) -> None:
    status, _h, body = _request(stack.url, "GET", "/boom")
    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}


def test_specific_route_wins_over_greedy_proxy(stack: EmbeddedStack) -> None:
    status, _h, body = _request(stack.url, "GET", "/other/42")
    assert status == 200
    assert body == b"other 42 GET /other/{id}"
    # Another method on the same path falls through to the greedy ANY route.
    status, _h, body = _request(stack.url, "DELETE", "/other/42")
    assert status == 404 and body == b"no such fixture path"


def test_unrouted_path_is_404(stack: EmbeddedStack) -> None:
    status, _h, body = _request(stack.url, "GET", "/")  # /{proxy+} needs at least one segment
    assert status == 404
    assert json.loads(body) == {"message": "Not Found"}


def test_body_over_10_mb_is_413_without_reaching_the_handler(stack: EmbeddedStack, recorder: ModuleType) -> None:
    parts = urlsplit(stack.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n".encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")
    assert b'{"message": "Request Entity Too Large"}' in reply
    assert not [r for r in recorder.RECORDS if r["kind"] == "http"]


def test_body_limit_boundary_and_chunked_bodies(stack: EmbeddedStack) -> None:
    gateway = LocalGateway(
        [HttpRoute("ANY", "/{proxy+}", "Recorder")], stack.registry or FunctionRegistry([]), max_body_bytes=1024
    )
    gateway.start()
    try:
        status, _h, body = _request(gateway.url, "POST", "/echo", b"a" * 1024, [("Content-Type", "text/plain")])
        assert status == 201 and json.loads(body)["event"]["body"] == "a" * 1024
        status, _h, _b = _request(gateway.url, "POST", "/echo", b"a" * 1025, [("Content-Type", "text/plain")])
        assert status == 413
        parts = urlsplit(gateway.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("POST", "/echo", body=iter([b"hello ", b"world"]), headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        assert resp.status == 201 and json.loads(resp.read())["event"]["body"] == "hello world"
        conn.request("POST", "/echo", body=iter([b"x" * 1000, b"y" * 100]), headers={"Content-Type": "text/plain"})
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        gateway.stop()


def test_router_precedence() -> None:
    router = Router(
        [
            HttpRoute("ANY", "/{proxy+}", "Greedy"),
            HttpRoute("GET", "/runs/{id}", "GetRun"),
            HttpRoute("ANY", "/runs/{id}", "AnyRun"),
            HttpRoute("GET", "/runs/latest", "Latest"),
        ]
    )
    assert router.match("GET", "/runs/latest") == (HttpRoute("GET", "/runs/latest", "Latest"), {})
    assert router.match("GET", "/runs/r%201")[1] == {"id": "r 1"}
    assert router.match("GET", "/runs/r1")[0].function == "GetRun"
    assert router.match("POST", "/runs/r1")[0].function == "AnyRun"
    assert router.match("POST", "/a/b/c") == (HttpRoute("ANY", "/{proxy+}", "Greedy"), {"proxy": "a/b/c"})
    assert Router([HttpRoute("ANY", "$default", "Default")]).match("GET", "/")[0].function == "Default"


def test_build_event_and_map_response_units() -> None:
    event = build_event(
        method="post",
        raw_path="/x",
        raw_query="",
        headers=[("Host", "api.local"), ("Content-Type", "application/vnd.api+json")],
        body=b'{"a":1}',
        route=HttpRoute("ANY", "$default", "F"),
        path_parameters={},
        source_ip="10.0.0.1",
    )
    assert event["routeKey"] == "$default" and "pathParameters" not in event
    assert "queryStringParameters" not in event and "cookies" not in event
    assert event["body"] == '{"a":1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["domainPrefix"] == "api"
    status, headers, body = map_response({"statusCode": 204, "headers": {"x-bool": True}})
    assert (status, headers, body) == (204, [("x-bool", "true")], b"")
    assert map_response(None) == (200, [("content-type", "application/json")], b"null")
