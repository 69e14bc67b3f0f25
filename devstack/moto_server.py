"""moto for the local stack: its configuration, the process-wide server, the stack's boto3 session.

The moto server is process-wide and outlives a stack: handler code commonly caches boto3 clients in
module globals, and a second stack in the same process (a test session) must not leave those
pointing at a dead port. State is reset per stack by ``mock_aws``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"mock_credentials": True, "reset_boto3_session": True},
    "iam": {"load_aws_managed_policies": False},
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# Environment that would send boto3 elsewhere or fail it (a developer's profile), unset while running.
UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "TEST_SERVER_MODE", "TEST_PROXY_MODE")

_server: ThreadedMotoServer | None = None
_server_lock = threading.Lock()


def moto_server_url() -> str:
    """The process-wide moto server (started on first use, on a free 127.0.0.1 port)."""
    global _server
    with _server_lock:
        if _server is None:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines on stderr
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _server = server
        host, port = _server.get_host_and_port()
    return f"http://{host}:{port}"


_sessions: dict[str, boto3.session.Session] = {}


def session(region: str) -> boto3.session.Session:
    """One boto3 session per process for the stack's own clients: service models are parsed once,
    not on every stack start (mock_aws resets boto3's default session)."""
    with _server_lock:
        if region not in _sessions:
            _sessions[region] = boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=region,
            )
        return _sessions[region]
