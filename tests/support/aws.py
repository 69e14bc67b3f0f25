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
            "OPENHELM_RUN_STATE_MACHINE": sm["stateMachineArn"],
            **overrides,
        }
    )
    return Services(settings=settings, clock=clock or Clock(), ids=ids or IdFactory(), aws=aws)
