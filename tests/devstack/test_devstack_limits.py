"""The local stack fails where AWS fails: function Timeouts on every invoke path, API Gateway's
integration timeout, and the payload quotas of Lambda, API Gateway, Step Functions, EventBridge, SQS
and DynamoDB (devstack/limits.py). The fixture function has a 1 s Timeout, so no test waits long."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from devstack import limits
from devstack.runtime import FunctionError
from devstack.stack import EmbeddedStack
from tests.devstack.conftest import FIXTURES, poll_until

LIMITS_TEMPLATE = FIXTURES / "limits" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(LIMITS_TEMPLATE, stack_name="limits", async_retry_delays=(0.05,)) as running:
        yield running


@pytest.fixture(scope="module")
def app(stack: EmbeddedStack) -> Iterator[ModuleType]:
    module = stack.handler_module("Limited")
    yield module
    module.RELEASE.set()  # let handlers still blocked end before the stack goes


@pytest.fixture(autouse=True)
def _clear(app: ModuleType) -> None:
    with app.CHANGED:
        app.RECORDS.clear()


def wait_for(
    app: ModuleType, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 10.0
) -> list:
    deadline = time.monotonic() + timeout
    with app.CHANGED:
        while True:
            found = [r for r in app.RECORDS if predicate(r)]
            if len(found) >= count:
                return found
            if not app.CHANGED.wait(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise AssertionError(f"{len(found)}/{count} records after {timeout}s: {app.RECORDS}")


def _get(url: str, target: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, target, body=body, headers={"Content-Type": "application/octet-stream"} if body else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.headers), resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- Timeout


def test_sync_invoke_past_the_timeout_answers_lambdas_timeout_error(stack: EmbeddedStack) -> None:
    started = time.monotonic()
    with pytest.raises(FunctionError) as caught:
        stack.invoke("Limited", {"op": "block", "block_s": 5})
    elapsed = time.monotonic() - started
    assert caught.value.payload["errorType"] == "Sandbox.Timedout"
    assert caught.value.payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert caught.value.payload["errorMessage"].startswith("RequestId: ")
    assert 1.0 <= elapsed < 4, "Lambda answers at the Timeout, not when the handler ends"


def test_a_timed_out_handler_makes_no_more_aws_calls(stack: EmbeddedStack, app: ModuleType) -> None:
    with pytest.raises(FunctionError):
        stack.invoke("Limited", {"op": "late-write", "tag": "late", "block_s": 1.3, "write": "late-item"})
    (stopped,) = wait_for(app, lambda r: r["kind"] in ("write_stopped", "written") and r["tag"] == "late")
    assert stopped == {"kind": "write_stopped", "tag": "late", "error": "InvocationTimedOut"}
    item = stack.client("dynamodb").get_item(TableName=stack.physical_id("Table"), Key={"pk": {"S": "late-item"}})
    assert "Item" not in item


def test_async_invoke_past_the_timeout_is_retried_like_any_error(stack: EmbeddedStack, app: ModuleType) -> None:
    stack.client("lambda").invoke(
        FunctionName=stack.function("Limited").name,
        InvocationType="Event",
        Payload=json.dumps({"op": "block", "tag": "async", "block_s": 1.5}),
    )
    # MaximumRetryAttempts: 1 -> the first attempt and one retry, both timed out.
    wait_for(app, lambda r: r["kind"] == "called" and r["tag"] == "async", count=2)
    stack.drain_queues(timeout=10)
    assert len([r for r in app.RECORDS if r["kind"] == "called" and r["tag"] == "async"]) == 2


def test_sqs_batch_past_the_timeout_is_redelivered_then_dead_lettered(stack: EmbeddedStack, app: ModuleType) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.physical_id("WorkQueue"), MessageBody=json.dumps({"tag": "sqs", "block_s": 1.5}))
    dlq = stack.physical_id("DeadLetterQueue")

    def dead_lettered() -> list | None:
        return sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages") or None

    (message,) = poll_until(dead_lettered, timeout=15)
    assert json.loads(message["Body"])["tag"] == "sqs"
    assert len([r for r in app.RECORDS if r["kind"] == "called" and r["tag"] == "sqs"]) == 2, "maxReceiveCount 2"


def _execute(stack: EmbeddedStack, payload: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.physical_id("Machine"), input=json.dumps(payload))["executionArn"]

    def finished() -> dict[str, Any] | None:
        desc = sfn.describe_execution(executionArn=arn)
        return desc if desc["status"] != "RUNNING" else None

    desc = poll_until(finished, timeout=20)
    return desc, sfn.get_execution_history(executionArn=arn)["events"]


def test_step_functions_sees_the_timeout_as_sandbox_timedout_for_retry_and_catch(
    stack: EmbeddedStack, app: ModuleType
) -> None:
    desc, events = _execute(stack, {"op": "block", "tag": "sfn", "block_s": 1.5})
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"])["caught"]["Error"] == "Sandbox.Timedout"
    failures = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failures == ["Sandbox.Timedout", "Sandbox.Timedout"], "retried once, then caught"
    assert [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "PassStateEntered"] == ["TimedOut"]


# ---------------------------------------------------------------------------------------------- HTTP API


def test_route_integration_timeout_answers_503_service_unavailable(stack: EmbeddedStack) -> None:
    started = time.monotonic()
    status, headers, body = _get(stack.url, "/impatient/block?block_s=0.8")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    assert headers["apigw-requestid"]
    assert time.monotonic() - started < 0.8, "API Gateway gives up at the route's TimeoutInMillis (300 ms)"


def test_function_timeout_before_the_integration_timeout_is_a_500(stack: EmbeddedStack) -> None:
    status, _h, body = _get(stack.url, "/slow/block?block_s=3")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_lambda_response_past_6_mb_is_an_error(stack: EmbeddedStack) -> None:
    status, _h, body = _get(stack.url, f"/big/answer?answer_bytes={limits.LAMBDA_SYNC_RESPONSE_BYTES}")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    with pytest.raises(FunctionError) as caught:
        stack.invoke("Limited", {"answer_bytes": limits.LAMBDA_SYNC_RESPONSE_BYTES})
    assert caught.value.payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert "(6291556 bytes)" in caught.value.payload["errorMessage"]
    assert stack.invoke("Limited", {"answer_bytes": 5 * limits.MIB})["blob"]  # under the quota: fine


def test_body_under_10_mb_whose_event_is_past_6_mb_is_413(stack: EmbeddedStack, app: ModuleType) -> None:
    status, _h, body = _get(stack.url, "/upload/echo", "POST", b"\x00" * (5 * limits.MIB))  # base64: 6.7 MB
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})
    assert not app.RECORDS, "the function is never invoked"


# ---------------------------------------------------------------------------------------------- payloads


def test_lambda_invoke_payload_quotas(stack: EmbeddedStack, app: ModuleType) -> None:
    lam, name = stack.client("lambda"), stack.function("Limited").name
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"pad": "x" * limits.MIB}))
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Payload=json.dumps({"pad": "x" * (6 * limits.MIB)}))
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert not app.RECORDS
    # Just under the asynchronous quota is accepted.
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"pad": "x" * (limits.MIB - 100)}))
    wait_for(app, lambda r: r["kind"] == "called")


def test_step_functions_task_result_past_256_kib_fails_the_execution_uncaught(stack: EmbeddedStack) -> None:
    desc, _ = _execute(stack, {"answer_bytes": limits.SFN_PAYLOAD_BYTES})
    assert desc["status"] == "FAILED", "States.ALL does not catch States.DataLimitExceeded"
    assert desc.get("error") == "States.DataLimitExceeded"
    desc, _ = _execute(stack, {"answer_bytes": limits.SFN_PAYLOAD_BYTES - 1024})
    assert desc["status"] == "SUCCEEDED"


def test_eventbridge_entry_past_the_quota_is_refused(stack: EmbeddedStack, app: ModuleType) -> None:
    events = stack.client("events")
    bus = stack.physical_id("Bus")

    def entry(pad: int) -> dict[str, Any]:
        return {
            "Source": "limits",
            "DetailType": "Pad",
            "Detail": json.dumps({"tag": "eb", "pad": "x" * pad}),
            "EventBusName": bus,
        }

    overhead = limits.eventbridge_entry_bytes(entry(0))
    with pytest.raises(ClientError) as caught:
        events.put_events(Entries=[entry(limits.EVENTBRIDGE_ENTRY_BYTES - overhead + 1)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    out = events.put_events(Entries=[entry(500 * limits.KIB)])
    assert out["FailedEntryCount"] == 0
    wait_for(app, lambda r: r["source"] == "eventbridge" and r["tag"] == "eb")


def test_sqs_message_past_1_mib_is_refused(stack: EmbeddedStack) -> None:
    sqs, url = stack.client("sqs"), stack.physical_id("DeadLetterQueue")
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (limits.SQS_MESSAGE_BYTES + 1))
    assert caught.value.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidParameterValueException")
    sqs.send_message(QueueUrl=url, MessageBody="x" * (limits.SQS_MESSAGE_BYTES - 1024))
    sqs.purge_queue(QueueUrl=url)


def test_dynamodb_item_past_400_kb_is_refused(stack: EmbeddedStack) -> None:
    ddb, table = stack.client("dynamodb"), stack.physical_id("Table")
    with pytest.raises(ClientError) as caught:
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "v": {"S": "x" * limits.DYNAMODB_ITEM_BYTES}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in caught.value.response["Error"]["Message"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "fits"}, "v": {"S": "x" * (390 * limits.KIB)}})


# ---------------------------------------------------------------------------------------------- gateway


def test_unknown_methods_reach_the_route_instead_of_an_html_501(stack: EmbeddedStack, app: ModuleType) -> None:
    for method in ("TRACE", "PROPFIND", "PURGE"):
        status, headers, body = _get(stack.url, "/any/echo", method)
        assert status == 200, (method, status, body[:80])
        assert json.loads(body)["method"] == method and headers["apigw-requestid"]
    # GET /impatient/{op} does not take TRACE: it falls through to ANY /{proxy+}, as in API Gateway.
    status, _h, body = _get(stack.url, "/impatient/echo", "TRACE")
    assert status == 200 and json.loads(body)["method"] == "TRACE"


def test_fifty_concurrent_posts_see_no_connection_reset(stack: EmbeddedStack) -> None:
    """50 clients connect at the same instant (issue 15.4: 15-30 % of 20 were reset with the default
    listen backlog of 5)."""
    import threading

    parts = urlsplit(stack.url)
    barrier = threading.Barrier(50)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        barrier.wait()
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request(
                "POST", f"/burst/echo?tag=burst-{n}", body=b'{"n": 1}', headers={"Content-Type": "application/json"}
            )
            resp = conn.getresponse()
            outcome: Any = (resp.status, json.loads(resp.read())["tag"])
            conn.close()
        except OSError as exc:  # ConnectionResetError, BrokenPipeError, refused
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes, key=str) == sorted(((200, f"burst-{n}") for n in range(50)), key=str)


def test_invocations_still_running_when_the_stack_stops_make_no_more_aws_calls(app: ModuleType) -> None:
    """An async invoke in flight at stop() would otherwise go on with the environment restored and
    send its AWS calls to the real endpoints."""
    from devstack.runtime import FunctionRegistry, LocalFunction

    fn = LocalFunction(
        logical_id="LimitedAfterStop",
        name="after-stop",
        arn="arn:aws:lambda:us-east-1:123456789012:function:after-stop",
        handler="app.handler",
        code_uri=LIMITS_TEMPLATE.parent,
        timeout_s=30,
        module_prefix="_limits_after_stop",
    )
    module = fn.module
    registry = FunctionRegistry([fn])
    registry.invoke_async(fn, {"tag": "after-stop", "block_s": 0.3, "write": "after-stop"}, source="test")
    wait_for(module, lambda r: r["kind"] == "called" and r["tag"] == "after-stop")
    registry.close()
    (stopped,) = wait_for(module, lambda r: r["kind"] in ("write_stopped", "written") and r["tag"] == "after-stop")
    assert stopped["error"] == "InvocationTimedOut"


def test_step_functions_api_refuses_inputs_and_task_outputs_past_256_kib(stack: EmbeddedStack) -> None:
    sfn = stack.client("stepfunctions")
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=stack.physical_id("Machine"), input=json.dumps({"pad": "x" * 262_144}))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        sfn.send_task_success(taskToken="any-token", output=json.dumps({"pad": "x" * 262_144}))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
