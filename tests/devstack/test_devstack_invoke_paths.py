"""Every way a Lambda function is reached in the local stack ends in the template's handler,
imported in this process: direct Invoke, Step Functions tasks (plain, .waitForTaskToken,
Retry/Catch on the raised exception's type), EventBridge rules, SQS mappings, schedules."""

from __future__ import annotations

import json
import os
import threading
from types import ModuleType

import pytest

from devstack.runtime import FunctionError
from devstack.stack import EmbeddedStack
from tests.devstack.conftest import poll_until, wait_records


def test_resources_from_the_fixture_template(stack: EmbeddedStack) -> None:
    sqs = stack.client("sqs")
    queues = sqs.list_queues()["QueueUrls"]
    assert any(q.endswith("/fixture-WorkQueue") for q in queues)
    assert not any("ProdOnlyQueue" in q for q in queues), "Condition IsProd is false for Stage=dev"
    assert len(queues) == 4
    attrs = sqs.get_queue_attributes(QueueUrl=stack.physical_id("WorkQueue"), AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": stack.resolver.arn("WorkDeadLetterQueue"), "maxReceiveCount": 2}
    assert attrs["VisibilityTimeout"] == "1"
    assert stack.client("events").describe_event_bus(Name="fixture-dev")["Name"] == "fixture-dev"
    names = {f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]}
    assert names == {"fixture-Recorder", "fixture-Other"}
    machine = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.physical_id("Machine"))
    assert stack.resolver.arn("Recorder") in machine["definition"] and "${" not in machine["definition"]
    assert stack.outputs["QueueUrl"] == stack.physical_id("WorkQueue")
    assert stack.outputs["Api"] == stack.url
    assert stack.skipped["ServerlessHttpApi"] == "AWS::ApiGatewayV2::Api"


def test_function_environment_reaches_os_environ(stack: EmbeddedStack) -> None:
    assert os.environ["FIXTURE_STAGE"] == "dev"
    assert os.environ["FIXTURE_MODE"] == "relaxed"
    assert os.environ["FIXTURE_BUS"] == "fixture-dev"
    assert os.environ["FIXTURE_QUEUE_URL"] == stack.physical_id("WorkQueue")
    assert os.environ["FIXTURE_GREETING"] == "hello-us-east-1"
    assert os.environ["FIXTURE_JOINED"] == "hello:b"
    assert os.environ["FIXTURE_TABLE"] == "fixture-Table"
    assert os.environ["OPENHELM_PUBLIC_URL"] == stack.url
    # handlers reach moto in-process; only S3 goes to the server (presigned URLs work with curl)
    assert os.environ["AWS_ENDPOINT_URL_S3"] == stack.aws_endpoint
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["MOTO_PORT"] == stack.aws_endpoint.rsplit(":", 1)[1]
    assert stack.invoke("Recorder", {"kind": "env", "names": ["FIXTURE_STAGE"]}) == {"FIXTURE_STAGE": "dev"}


def test_same_module_file_name_gets_a_module_per_function(stack: EmbeddedStack, recorder: ModuleType) -> None:
    other = stack.handler_module("Other")
    assert other is not recorder
    assert other.__file__ != recorder.__file__
    assert stack.invoke("Other", {})["which"] == "other"
    assert stack.invoke("Recorder", {})["module"] == recorder.__name__


def test_direct_invoke_runs_the_handler_in_process(stack: EmbeddedStack, recorder: ModuleType) -> None:
    result = stack.invoke("Recorder", {"kind": "direct", "n": 1})
    assert result == {"ok": True, "kind": "direct", "module": recorder.__name__}
    (record,) = wait_records(recorder, lambda r: r["kind"] == "direct")
    assert record["event"] == {"kind": "direct", "n": 1}
    assert record["pid"] == os.getpid()
    assert record["function"] == "fixture-Recorder"
    assert record["arn"] == stack.resolver.arn("Recorder")
    assert record["memory"] == 256
    assert 0 < record["remaining_ms"] <= 5000


def test_direct_invoke_error_payload_names_the_exception(stack: EmbeddedStack) -> None:
    resp = stack.client("lambda").invoke(FunctionName="fixture-Recorder", Payload=json.dumps({"fail": True}))
    assert resp["FunctionError"]
    payload = json.loads(resp["Payload"].read())
    assert payload["errorType"] == "FixtureTransientError"
    assert payload["errorMessage"] == "asked to fail"
    with pytest.raises(FunctionError) as err:
        stack.invoke("Recorder", {"fail": True})
    assert err.value.error_type == "FixtureTransientError"


def test_async_invoke_returns_before_the_handler_runs(stack: EmbeddedStack, recorder: ModuleType) -> None:
    resp = stack.client("lambda").invoke(
        FunctionName="fixture-Recorder", InvocationType="Event", Payload=json.dumps({"kind": "async"})
    )
    assert resp["StatusCode"] == 202
    (record,) = wait_records(recorder, lambda r: r["kind"] == "async")
    assert record["thread"].startswith("lambda-")


def test_async_invoke_errors_are_retried_per_event_invoke_config(stack: EmbeddedStack, recorder: ModuleType) -> None:
    payload = json.dumps({"kind": "async-fail", "fail": True})
    stack.client("lambda").invoke(FunctionName="fixture-Recorder", InvocationType="Event", Payload=payload)
    stack.drain_queues(5)
    attempts = [r for r in recorder.RECORDS if r["kind"] == "async-fail"]
    assert len(attempts) == 2, "EventInvokeConfig.MaximumRetryAttempts=1: one try and one retry"


def test_step_functions_task_token_and_retry_catch(stack: EmbeddedStack, recorder: ModuleType) -> None:
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=stack.physical_id("Machine"), input=json.dumps({"x": 1}))
    (task,) = wait_records(recorder, lambda r: r["kind"] == "sfn-task")
    assert task["event"]["input"] == {"x": 1}
    (waiting,) = wait_records(recorder, lambda r: r["kind"] == "sfn-token")
    sfn.send_task_success(taskToken=waiting["event"]["token"], output=json.dumps({"callback": "done"}))

    def finished() -> dict | None:
        desc = sfn.describe_execution(executionArn=execution["executionArn"])
        return desc if desc["status"] != "RUNNING" else None

    desc = poll_until(finished, timeout=15)
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["record"]["out"]["kind"] == "sfn-task"
    assert output["callback"] == {"callback": "done"}
    assert output["caught"]["Error"] == "FixtureTransientError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "asked to fail"
    flaky = [r for r in recorder.RECORDS if r["kind"] == "sfn-flaky"]
    assert len(flaky) == 2, "one attempt plus one retry on FixtureTransientError"


def test_eventbridge_rule_invokes_lambda_target_asynchronously(stack: EmbeddedStack, recorder: ModuleType) -> None:
    resp = stack.client("events").put_events(
        Entries=[
            {"EventBusName": "fixture-dev", "Source": "fixture.lambda", "DetailType": "Thing Happened", "Detail": "{}"},
            {"EventBusName": "fixture-dev", "Source": "unmatched", "DetailType": "Ignored", "Detail": "{}"},
        ]
    )
    assert resp["FailedEntryCount"] == 0
    (record,) = wait_records(recorder, lambda r: r["kind"] == "eventbridge")
    event = record["event"]
    assert event["source"] == "fixture.lambda"
    assert event["detail-type"] == "Thing Happened"
    assert event["detail"] == {}
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert isinstance(event["time"], str) and event["time"].endswith("Z")
    assert "ingestion-time" not in event
    assert record["thread"].startswith("lambda-")
    stack.drain_queues(5)
    assert [r["event"]["source"] for r in recorder.RECORDS if r["kind"] == "eventbridge"] == ["fixture.lambda"]


def test_eventbridge_rule_starts_state_machine_target(stack: EmbeddedStack, recorder: ModuleType) -> None:
    stack.client("events").put_events(
        Entries=[{"EventBusName": "fixture-dev", "Source": "fixture.sfn", "DetailType": "Go", "Detail": '{"n": 7}'}]
    )
    (task,) = wait_records(recorder, lambda r: r["kind"] == "sfn-task")
    assert task["event"]["input"]["detail"] == {"n": 7}
    assert task["event"]["input"]["detail-type"] == "Go"


def test_eventbridge_rule_with_mixed_targets(stack: EmbeddedStack, recorder: ModuleType) -> None:
    stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": "fixture-dev",
                "Source": "fixture.forward",
                "DetailType": "Forward",
                "Detail": '{"kind": "forwarded", "n": 3}',
            }
        ]
    )
    (record,) = wait_records(recorder, lambda r: r["kind"] == "forwarded")
    assert record["event"] == {"kind": "forwarded", "n": 3}, "InputPath $.detail applied"
    got = stack.client("sqs").receive_message(QueueUrl=stack.physical_id("EventsQueue"), WaitTimeSeconds=5)
    (message,) = got["Messages"]
    assert json.loads(message["Body"])["detail"] == {"kind": "forwarded", "n": 3}
    got = stack.client("sqs").receive_message(QueueUrl=stack.physical_id("DetailQueue"), WaitTimeSeconds=5)
    (message,) = got["Messages"]
    assert json.loads(message["Body"]) == {"kind": "forwarded", "n": 3}, "InputPath applied to a queue target"


def test_sqs_mapping_partial_batch_retry_and_dead_letter(stack: EmbeddedStack, recorder: ModuleType) -> None:
    sqs = stack.client("sqs")
    url = stack.physical_id("WorkQueue")
    sqs.send_message(QueueUrl=url, MessageBody="good-1")
    sqs.send_message(QueueUrl=url, MessageBody="poison-1")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="good-delayed",
        DelaySeconds=1,
        MessageAttributes={"trace": {"DataType": "String", "StringValue": "t-1"}},
    )
    stack.drain_queues(timeout=15)

    bodies = [rec["body"] for r in recorder.RECORDS if r["kind"] == "sqs" for rec in r["event"]["Records"]]
    assert bodies.count("good-1") == 1, "a successful message is processed once (moto's own path is off)"
    assert bodies.count("good-delayed") == 1, "a delayed message is delivered by the poller"
    assert bodies.count("poison-1") == 2, "redelivered after the visibility timeout, up to maxReceiveCount"
    poison = [
        rec for r in recorder.RECORDS if r["kind"] == "sqs" for rec in r["event"]["Records"] if "poison" in rec["body"]
    ]
    assert [p["attributes"]["ApproximateReceiveCount"] for p in poison] == ["1", "2"]
    delayed = next(
        rec
        for r in recorder.RECORDS
        if r["kind"] == "sqs"
        for rec in r["event"]["Records"]
        if rec["body"] == "good-delayed"
    )
    assert delayed["messageAttributes"]["trace"]["stringValue"] == "t-1"
    assert delayed["eventSource"] == "aws:sqs"
    assert delayed["eventSourceARN"] == stack.resolver.arn("WorkQueue")

    dead = sqs.receive_message(QueueUrl=stack.physical_id("WorkDeadLetterQueue"), MaxNumberOfMessages=10)
    assert [m["Body"] for m in dead.get("Messages", [])] == ["poison-1"]
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_schedule_triggers_target_with_its_input(stack: EmbeddedStack, recorder: ModuleType) -> None:
    stack.trigger_schedule("RecorderHourly")
    (record,) = wait_records(recorder, lambda r: r["kind"] == "scheduled")
    assert record["event"] == {"kind": "scheduled"}


def test_concurrent_invokes_share_one_import(stack: EmbeddedStack, recorder: ModuleType) -> None:
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            assert stack.invoke("Recorder", {"kind": "parallel", "i": i})["module"] == recorder.__name__
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(wait_records(recorder, lambda r: r["kind"] == "parallel", count=8)) == 8
