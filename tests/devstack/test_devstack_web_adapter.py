"""Streaming function URLs: a Lambda Web Adapter function's WSGI app, streamed as RESPONSE_STREAM
does it (chunked, each piece as it is made), with the adapter's Lambda context header, and a
client that leaves closing the app's iterable."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest
import requests

from devstack.stack import EmbeddedStack
from devstack.template import TemplateError
from tests.devstack.conftest import FIXTURES
from tests.support.polling import poll


@pytest.fixture(scope="module")
def stream_stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(FIXTURES / "web_adapter.yaml", {}, stack_name="wadapt", gateway=False) as running:
        yield running


@pytest.fixture
def streamer(stream_stack: EmbeddedStack) -> ModuleType:
    module = stream_stack.handler_module("Streamer")
    module.GO.clear()
    module.ENDED.clear()
    module.SEEN.clear()
    module.DISCONNECTED.clear()
    return module


def test_response_stream_needs_the_web_adapter(tmp_path) -> None:
    # First in the module: it starts (and fails) a stack of its own before the module's stack runs.
    text = (FIXTURES / "web_adapter.yaml").read_text().replace("AWS_LAMBDA_EXEC_WRAPPER: /opt/bootstrap", "X: y")
    (tmp_path / "streamer").symlink_to(FIXTURES / "streamer")
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(TemplateError, match="RESPONSE_STREAM needs a streaming runtime"):
        EmbeddedStack(tmp_path / "t.yaml", {}, stack_name="wadapt2", gateway=False).start()


def test_each_piece_arrives_as_it_is_made_in_chunks(stream_stack: EmbeddedStack, streamer: ModuleType) -> None:
    url = stream_stack.function_url("StreamerUrl")
    with requests.get(url + "/events?x=1", stream=True, timeout=20) as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        pieces = r.iter_content(chunk_size=None)
        assert next(pieces) == b"data: first\n\n"  # while the app still waits to make the second
        assert streamer.ENDED == []
        streamer.GO.set()
        assert b"".join(pieces) == b"".join(f"data: {i}\n\n".encode() for i in range(streamer.MORE))
    poll(lambda: streamer.ENDED or None, "the app's end", 5)
    assert streamer.ENDED == ["complete"] and streamer.DISCONNECTED == [False]
    seen = streamer.SEEN[0]
    assert seen["PATH_INFO"] == "/events" and seen["REQUEST_METHOD"] == "GET"
    assert json.loads(seen["HTTP_X_AMZN_LAMBDA_CONTEXT"])["deadline"] > 0


def test_a_client_that_leaves_closes_the_apps_iterable(stream_stack: EmbeddedStack, streamer: ModuleType) -> None:
    host, port = stream_stack.function_url("StreamerUrl").removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"data: first" not in got:
            piece = sock.recv(4096)
            assert piece, got
            got += piece
    # the app is told while it waits (no GO), and its next writes find the connection gone
    poll(lambda: streamer.ENDED or None, "the app's end", 10)
    assert streamer.DISCONNECTED == [True] and streamer.ENDED == ["closed early"]
