"""The completion pipeline end to end through the local stack: a real run finishes, the evidence
function stores its screenshots in S3 (downloaded here through the presigned URLs and checked
against the manifest), the webhooks function delivers signed events to a real receiver on loopback
(verified with the `standardwebhooks` library, retried after a failure), and billing records
exactly one usage line."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from devstack.testing.fake_openai import ToolCall
from tests.e2e.conftest import finished, poll

pytestmark = pytest.mark.e2e

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
DONE = ToolCall("done", {"result": {"title": "Harbor"}, "confidence": 0.9, "summary": "read the title"})


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request; ``fail_first`` paths answer 500 once."""

    def __init__(self, fail_first: set[str]) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_first = set(fail_first)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    fail = self.path in receiver.fail_first
                    receiver.fail_first.discard(self.path)
                self.send_response(500 if fail else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for p, h, b in self.got if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first={"/flaky"})
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_finished_run_has_stored_evidence_signed_webhooks_and_one_usage_line(
    stack, api, llm, site, receiver: Receiver
) -> None:
    secret = api("GET", "/v1/webhooks/secret").json()["secret"]
    assert secret.startswith("whsec_")
    endpoint = api("POST", "/v1/webhooks", json={"url": receiver.url + "/flaky", "event_types": ["run.succeeded"]})
    assert endpoint.status_code == 201, endpoint.text
    balance_before = api("GET", "/v1/balance").json()["balance_micros"]

    llm.reset(DONE)
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Read the page title",
            "start_url": site + "/index.html",
            "output_schema": SCHEMA,
            "webhook_url": receiver.url + "/run-hook",
        },
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    assert finished(api, run_id)["status"] == "succeeded"

    # -- evidence: stored in S3, downloadable through presigned URLs, matching the manifest
    run = poll(lambda: (x := api("GET", f"/v1/runs/{run_id}").json())["evidence_status"] and x, "evidence handled")
    assert run["evidence_status"] == "ready", run["evidence_error"]
    manifest = requests.get(run["evidence_manifest_url"], timeout=10).json()
    digests = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert {"steps.jsonl", "result.json"} <= set(digests)
    assert run["evidence"], "a one-step run still has screenshots"
    for item in run["evidence"]:
        png = requests.get(item["screenshot_url"], timeout=10)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        assert hashlib.sha256(png.content).hexdigest() == item["sha256"] == digests[item["path"]]
    # the bucket is private: the same object without the signature is refused
    assert requests.get(run["evidence"][0]["screenshot_url"].split("?")[0], timeout=10).status_code == 403

    # -- webhooks: the run's own URL and the org's endpoint, signed per Standard Webhooks
    verifier = Webhook(secret)
    (headers, body), *_ = poll(lambda: receiver.to("/run-hook"), "webhook to the run's webhook_url", timeout=30)
    payload = verifier.verify(body, headers)
    assert payload["type"] == "run.succeeded" and payload["data"]["id"] == run_id
    assert payload["data"]["result"] == {"title": "Harbor"}
    page = requests.get(payload["data"]["viewer_url"], timeout=30)  # the run's page, no API key
    assert page.status_code == 200 and run_id in page.text
    # the endpoint answered 500 first; the retry (within seconds locally) carries the same webhook-id
    flaky = poll(lambda: len(receiver.to("/flaky")) >= 2 and receiver.to("/flaky"), "retried delivery", timeout=30)
    assert flaky[0][0]["webhook-id"] == flaky[1][0]["webhook-id"]
    assert verifier.verify(flaky[1][1], flaky[1][0])["data"]["id"] == run_id
    deliveries = api("GET", f"/v1/runs/{run_id}/deliveries").json()["data"]
    codes = sorted(d["status_code"] for d in deliveries if d.get("status_code") is not None)
    assert 500 in codes and codes.count(204) == 2, deliveries

    # -- billing: exactly one usage line for the run, and the balance debited by its cost
    def usage_line() -> dict | None:
        lines = [x for x in api("GET", "/v1/usage").json()["data"] if x["run_id"] == run_id]
        return lines[0] if lines else None

    line = poll(usage_line, "usage recorded")
    assert line["cost_micros"] > 0
    assert api("GET", "/v1/balance").json()["balance_micros"] == balance_before - line["cost_micros"]
    assert line["input_tokens"] == run["usage"]["input_tokens"]
