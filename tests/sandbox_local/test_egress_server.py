"""The egress proxy and control forwarder as servers, on the host's 127.0.0.1 (no sandbox needed)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from shared.sandbox.local.egress_policy import EgressPolicy
from shared.sandbox.local.egress_server import ControlForwarder, EgressProxy
from tests.sandbox_local.conftest import PAGE_MARKER, RecordingServer


@pytest.fixture
def proxy(control: RecordingServer) -> Iterator[tuple[EgressProxy, int]]:
    policy = EgressPolicy.build(["127.0.0.1"], ["blocked.test"], allow_loopback=True, control_url=control.url)
    server = EgressProxy(policy, run_id="run_server_test")
    _, port = server.listen_tcp()
    yield server, port
    server.stop()


def test_absolute_form_request_is_forwarded_as_one_request(
    proxy: tuple[EgressProxy, int], page: RecordingServer
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy[1], timeout=10)
    conn.putrequest("GET", f"{page.url}/hello?q=1", skip_host=True)
    for name, value in (("Host", "internal.corp"), ("Proxy-Authorization", "Basic eA=="), ("X-Keep", "1")):
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 200 and PAGE_MARKER in resp.read().decode()
    hit = page.wait_for(lambda h: True)
    assert hit.path == "/hello?q=1"
    assert hit.headers["Connection"] == "close" and hit.headers["X-Keep"] == "1"
    assert "Proxy-Authorization" not in hit.headers
    assert hit.headers["Host"] == f"127.0.0.1:{page.port}"  # from the URL, not the client's Host header


def test_connect_tunnel(proxy: tuple[EgressProxy, int], page: RecordingServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy[1], timeout=10)
    conn.set_tunnel("127.0.0.1", page.port)
    conn.request("GET", "/through-the-tunnel")
    resp = conn.getresponse()
    assert resp.status == 200 and PAGE_MARKER in resp.read().decode()
    assert page.wait_for(lambda h: True).path == "/through-the-tunnel"


def test_denied_request_gets_a_clear_403(proxy: tuple[EgressProxy, int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy[1], timeout=10)
    conn.request("GET", "http://blocked.test/x")
    resp = conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 403 and resp.getheader("X-OpenHelm-Blocked") == "policy"
    assert "blocked by policy: blocked.test:80" in body and "blocked pattern" in body


def test_control_plane_is_reachable_through_the_proxy(proxy: tuple[EgressProxy, int], control: RecordingServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy[1], timeout=10)
    conn.request("GET", f"{control.url}/anything")
    assert conn.getresponse().status == 200


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /origin-form HTTP/1.1", 400),
        (b"GET https://example.com/ HTTP/1.1", 400),
        (b"CONNECT [::1 HTTP/1.1", 400),
        (b"GARBAGE", 400),
    ],
)
def test_bad_requests_get_400(proxy: tuple[EgressProxy, int], request_line: bytes, status: int) -> None:
    with socket.create_connection(("127.0.0.1", proxy[1]), timeout=10) as sock:
        sock.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(f"HTTP/1.1 {status} ".encode())


def test_unreachable_upstream_is_502(proxy: tuple[EgressProxy, int]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # bound but not listening: connection refused
        conn = http.client.HTTPConnection("127.0.0.1", proxy[1], timeout=10)
        conn.request("GET", f"http://127.0.0.1:{closed_port}/")
        resp = conn.getresponse()
        assert resp.status == 502 and "cannot connect" in resp.read().decode()


def test_stop_closes_open_tunnels(proxy: tuple[EgressProxy, int], page: RecordingServer) -> None:
    server, port = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{page.port} HTTP/1.1\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        server.stop()
        sock.settimeout(5)
        assert sock.recv(4096) == b""  # closed by the proxy, not by a timeout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_control_forwarder_rewrites_host_and_limits_paths(control: RecordingServer) -> None:
    forwarder = ControlForwarder(control.url + "/stage", run_id="run_forwarder_test")
    _, port = forwarder.listen_tcp()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"step": 1})
        conn.request("POST", "/stage/internal/runs/r1/progress", body=body, headers={"Authorization": "Bearer t"})
        assert conn.getresponse().status == 200
        hit = control.wait_for(lambda h: True)
        assert hit.path == "/stage/internal/runs/r1/progress" and hit.body == body.encode()
        assert hit.headers["Host"] == f"127.0.0.1:{control.port}"
        assert hit.headers["Authorization"] == "Bearer t" and hit.headers["Connection"] == "close"

        for path in (
            "/v1/runs",
            "/stage/v1/runs",
            "/stage/internal/../v1/runs",
            "/stage/internal/%2e%2e/v1/runs",
            "/stage/internal/%2E%2E%2Fv1/runs",
            "/stage/internal/./runs",
            "http://x/stage/internal/a",
        ):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status in (400, 403), path
        assert control.hits.empty()
    finally:
        forwarder.stop()


def test_llm_forwarder_passes_only_the_gateways_path(control: RecordingServer) -> None:
    # The local provider's second forwarder: to the LLM gateway's function URL (base URL ".../v1").
    forwarder = ControlForwarder(control.url + "/v1", run_id="run_llm_forwarder_test", prefix="/")
    _, port = forwarder.listen_tcp()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body="{}", headers={"Authorization": "Bearer t"})
        assert conn.getresponse().status == 200
        hit = control.wait_for(lambda h: True)
        assert hit.path == "/v1/chat/completions" and hit.headers["Host"] == f"127.0.0.1:{control.port}"
        for path in ("/internal/runs/r1/complete", "/v1/../internal/runs", "/v1x/chat", "/"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", path, body="{}")
            assert conn.getresponse().status in (400, 403), path
        assert control.hits.empty()
    finally:
        forwarder.stop()
