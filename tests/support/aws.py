"""moto-backed Services for integration tests: the table, bus and state machine from template.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from shared.aws import AwsClients
from shared.clock import Clock
from shared.config import Settings
from shared.ids import IdFactory
from shared.services import Services

ROOT = Path(__file__).resolve().parents[2]
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def template_resource(logical_id: str) -> dict[str, Any]:
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    return template["Resources"][logical_id]["Properties"]


def create_table(client: Any, name: str) -> None:
    props = template_resource("MainTable")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


def make_services(clock: Clock | None = None, ids: IdFactory | None = None, **overrides: Any) -> Services:
    """Create the AWS resources in the active moto mock and a Services bound to them."""
    aws = AwsClients(region="us-east-1")
    create_table(aws.dynamodb, "openhelm-test")
    aws.events.create_event_bus(Name="openhelm-test")
    aws.s3.create_bucket(Bucket="openhelm-evidence-test")
    aws.s3.create_bucket(Bucket="openhelm-files-test")
    aws.s3.create_bucket(Bucket="openhelm-profiles-test")
    profiles_key = aws.kms.create_key(Description="profiles")["KeyMetadata"]["KeyId"]
    secrets_key = aws.kms.create_key(Description="run secrets")["KeyMetadata"]["KeyId"]
    sm = aws.stepfunctions.create_state_machine(
        name="run-test",
        definition=json.dumps(PASS_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    settings = Settings.model_validate(
        {
            "OPENHELM_STAGE": "local",
            "OPENHELM_TABLE": "openhelm-test",
            "OPENHELM_EVENT_BUS": "openhelm-test",
            "OPENHELM_EVIDENCE_BUCKET": "openhelm-evidence-test",
            "OPENHELM_FILES_BUCKET": "openhelm-files-test",
            "OPENHELM_PROFILES_BUCKET": "openhelm-profiles-test",
            "OPENHELM_PROFILES_KEY_ID": profiles_key,
            "OPENHELM_SECRETS_KEY_ID": secrets_key,
            "OPENHELM_RUN_STATE_MACHINE": sm["stateMachineArn"],
            **overrides,
        }
    )
    return Services(settings=settings, clock=clock or Clock(), ids=ids or IdFactory(), aws=aws)


class EventTap:
    """Every event on the test bus, through a rule with an SQS target in moto (what a customer's own
    rule on the bus would see)."""

    def __init__(self, svc: Services, name: str = "tap") -> None:
        self._sqs = svc.aws.client("sqs")
        self._url = self._sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = svc.settings.event_bus
        svc.aws.events.put_rule(Name=f"{name}-all", EventBusName=bus, EventPattern=json.dumps({"source": ["openhelm"]}))
        svc.aws.events.put_targets(Rule=f"{name}-all", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def drain(self) -> list[dict[str, Any]]:
        """The events published since the last drain, oldest first."""
        out: list[dict[str, Any]] = []
        while True:
            got = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
