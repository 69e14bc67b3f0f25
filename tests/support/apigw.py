"""Builds API Gateway HTTP API (payload 2.0) events from the samples in events/, and calls the API."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parents[2]
BASE_EVENT = json.loads((ROOT / "events" / "api" / "create_run.json").read_text())


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: bytes | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = copy.deepcopy(BASE_EVENT)
    hdrs = {"host": "api.test", "content-type": "application/json"}
    if key:
        hdrs["authorization"] = f"Bearer {key}"
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    event["headers"] = hdrs
    event["rawPath"] = path
    event["rawQueryString"] = urlencode(query or {})
    event["queryStringParameters"] = dict(query) if query else None
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    if raw_body is not None:
        event["body"] = base64.b64encode(raw_body).decode()
        event["isBase64Encoded"] = True
    elif body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["isBase64Encoded"] = False
    else:
        event["body"] = None
        event["isBase64Encoded"] = False
    return event


def load_event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text())


class Reply:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status = raw["statusCode"]
        self.headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        body = raw.get("body") or ""
        if raw.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        self.text = body
        self.json = (
            json.loads(body) if body and self.headers.get("content-type", "").startswith("application/json") else None
        )


def call(event: dict[str, Any]) -> Reply:
    from shared.api.app import handle

    return Reply(handle(event, None))


def qs(url: str) -> dict[str, str]:
    return dict(parse_qsl(url.partition("?")[2]))
