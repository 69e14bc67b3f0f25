"""The template's resources, created in moto with boto3 as CloudFormation would create them.

Not through moto's CloudFormation, which covers fewer properties and hides what it skipped: every
resource type the local stack knows has a creator here, in dependency order (roles and tables
before the functions that name them, queues before their redrive policies and mappings); types
without a local equivalent are listed in :attr:`ResourceCreator.skipped`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from devstack.runtime import FunctionRegistry, LocalFunction
from devstack.scheduler import LocalScheduler, Schedule
from devstack.template import LocalTemplate, Resolver, TemplateError, load_definition
from shared.logging import get_logger

log = get_logger("devstack.resources")


class ResourceCreator:
    """Creates one stack's resources through ``client(service)`` (boto3 clients for moto)."""

    def __init__(
        self,
        template: LocalTemplate,
        resolver: Resolver,
        registry: FunctionRegistry,
        client: Callable[[str], Any],
        scheduler: LocalScheduler,
        account_id: str,
    ) -> None:
        self.template = template
        self.resolver = resolver
        self.registry = registry
        self.client = client
        self.scheduler = scheduler
        self.account_id = account_id
        self.skipped: dict[str, str] = {}  # logical id -> resource type not created locally
        self.state_machines: list[str] = []  # their ARNs, for stopping executions at stack stop
        self._pending_redrive: dict[str, dict[str, str]] = {}

    def physical_id(self, logical_id: str) -> Any:
        return self.resolver.ref(logical_id)

    def create_all(self) -> None:
        """Create every resource moto should hold, in dependency order; note the ones skipped."""
        r = self.resolver
        by_type: dict[str, list[str]] = {}
        for logical_id, res in self.template.resources.items():
            if r.active(logical_id):
                by_type.setdefault(res.get("Type", ""), []).append(logical_id)

        creators = [
            ("AWS::IAM::Role", self._create_role),
            ("AWS::DynamoDB::Table", self._create_table),
            ("AWS::S3::Bucket", self._create_bucket),
            ("AWS::SQS::Queue", self._create_queue),
            ("AWS::Events::EventBus", self._create_bus),
            ("AWS::KMS::Key", lambda _id, _props: None),  # made by create_kms_keys, before this
            ("AWS::Lambda::Function", self._create_function),
            ("AWS::Lambda::EventSourceMapping", self._create_mapping),
            ("AWS::StepFunctions::StateMachine", self._create_state_machine),
            ("AWS::Events::Rule", self._create_rule),
            ("AWS::Scheduler::Schedule", self._create_schedule),
            ("AWS::Lambda::EventInvokeConfig", self._apply_event_invoke_config),
            ("AWS::Lambda::Url", self._check_function_url),
        ]
        for rtype, create in creators:
            for logical_id in by_type.pop(rtype, []):
                props = r.resolve(self.template.resources[logical_id].get("Properties") or {})
                create(logical_id, props)
            if rtype == "AWS::SQS::Queue":
                self._apply_redrive_policies()
        for rtype, ids in by_type.items():
            for logical_id in ids:
                self.skipped[logical_id] = rtype
        if self.skipped:
            log.info(
                "resources_skipped",
                reason="no local equivalent or not needed locally (HTTP APIs are served by the local gateway)",
                resources=self.skipped,
            )

    def _create_role(self, logical_id: str, props: dict[str, Any]) -> None:
        # Roles exist because Lambda requires one; their policies are not enforced locally.
        self.client("iam").create_role(
            RoleName=self.resolver.physical_name(logical_id),
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument") or {}),
        )

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.physical_name(logical_id)
        kw: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in props:
                kw[key] = _ints(props[key], ("ReadCapacityUnits", "WriteCapacityUnits"))
        if kw["BillingMode"] == "PROVISIONED":
            kw.setdefault("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        stream = props.get("StreamSpecification")
        if stream:
            kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        ddb = self.client("dynamodb")
        desc = ddb.create_table(**kw)["TableDescription"]
        if desc.get("LatestStreamArn"):
            self.resolver.set_attribute(logical_id, "StreamArn", desc["LatestStreamArn"])
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":  # stored by moto, not enforced
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.physical_name(logical_id)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            rules = [
                {
                    k: v
                    for k, v in {
                        "AllowedHeaders": c.get("AllowedHeaders"),
                        "AllowedMethods": c.get("AllowedMethods"),
                        "AllowedOrigins": c.get("AllowedOrigins"),
                        "ExposeHeaders": c.get("ExposedHeaders"),
                        "MaxAgeSeconds": int(c["MaxAge"]) if "MaxAge" in c else None,
                    }.items()
                    if v is not None
                }
                for c in cors
            ]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        notifications = props.get("NotificationConfiguration") or {}
        if str((notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")).lower() == "true":
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        if set(notifications) - {"EventBridgeConfiguration"}:
            log.warning("bucket_notifications_skipped", bucket=logical_id, kinds=sorted(set(notifications)))

    _QUEUE_ATTRIBUTES = (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "SqsManagedSseEnabled",
    )

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        attrs = {k: _attr(props[k]) for k in self._QUEUE_ATTRIBUTES if k in props}
        # Redrive policies name other queues: set once every queue exists.
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                self._pending_redrive.setdefault(logical_id, {})[key] = json.dumps(props[key])
        self.client("sqs").create_queue(QueueName=self.resolver.physical_name(logical_id), Attributes=attrs)

    def _apply_redrive_policies(self) -> None:
        for logical_id, attrs in self._pending_redrive.items():
            self.client("sqs").set_queue_attributes(QueueUrl=self.physical_id(logical_id), Attributes=attrs)
        self._pending_redrive = {}

    def _create_bus(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.physical_name(logical_id)
        if name != "default":
            self.client("events").create_event_bus(Name=name)

    def _create_function(self, logical_id: str, props: dict[str, Any]) -> None:
        fn = self.registry.functions[logical_id]
        kw: dict[str, Any] = {
            "FunctionName": fn.name,
            "Runtime": props.get("Runtime", "python3.12"),
            "Role": props["Role"],
            "Handler": fn.handler,
            "Code": {"ZipFile": _DUMMY_ZIP},
            "Description": props.get("Description", ""),
            "Timeout": int(fn.timeout_s),
            "MemorySize": fn.memory_mb,
            "Environment": {"Variables": fn.environment},
        }
        if props.get("Architectures"):
            kw["Architectures"] = props["Architectures"]
        self.client("lambda").create_function(**kw)

    def _create_mapping(self, logical_id: str, props: dict[str, Any]) -> None:
        keys = (
            "EventSourceArn",
            "FunctionName",
            "BatchSize",
            "Enabled",
            "FunctionResponseTypes",
            "MaximumBatchingWindowInSeconds",
            "StartingPosition",
            "ScalingConfig",
        )
        kw = {k: props[k] for k in keys if k in props}
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if key in kw:
                kw[key] = int(kw[key])
        if "Enabled" in kw:
            kw["Enabled"] = str(kw["Enabled"]).lower() == "true"
        if props.get("FilterCriteria"):
            log.warning("event_filter_not_applied", mapping=logical_id)
        self.client("lambda").create_event_source_mapping(**kw)  # the patch hands SQS ones to the poller

    def _create_state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        if logical_id in self.template.definitions:
            definition = json.dumps(load_definition(self.template.definitions[logical_id]))
        elif "DefinitionString" in props:
            definition = str(props["DefinitionString"])
        elif "Definition" in props:
            definition = json.dumps(props["Definition"])
        else:
            raise TemplateError(f"{logical_id}: no definition (S3 DefinitionUri cannot be read locally)")
        # CloudFormation applies DefinitionSubstitutions; the Step Functions API knows nothing of them.
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", _attr(value))
        created = self.client("stepfunctions").create_state_machine(
            name=self.resolver.physical_name(logical_id),
            definition=definition,
            roleArn=props.get("RoleArn", f"arn:aws:iam::{self.account_id}:role/local"),
            type=props.get("StateMachineType", "STANDARD"),
        )
        self.state_machines.append(created["stateMachineArn"])

    def _create_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.resolver.physical_name(logical_id)
        bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
        kw: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            kw["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            kw["ScheduleExpression"] = props["ScheduleExpression"]
        if "Description" in props:
            kw["Description"] = props["Description"]
        events = self.client("events")
        events.put_rule(**kw)
        target_keys = (
            "Id",
            "Arn",
            "Input",
            "InputPath",
            "InputTransformer",
            "RoleArn",
            "SqsParameters",
            "RetryPolicy",
            "DeadLetterConfig",
        )
        targets = [{k: t[k] for k in target_keys if k in t} for t in props.get("Targets") or []]
        for target in targets:
            if isinstance(target.get("Input"), dict | list):
                target["Input"] = json.dumps(target["Input"])
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if "ScheduleExpression" in props and kw["State"] == "ENABLED":
            assert self.resolver is not None
            self.scheduler.add(
                Schedule(logical_id, name, props["ScheduleExpression"], targets, "rule", self.resolver.arn(logical_id))
            )

    def _check_function_url(self, logical_id: str, props: dict[str, Any]) -> None:
        """Served by :meth:`_serve_function_urls`; nothing to create in moto. IAM (AuthType
        AWS_IAM, the resource policy) is not enforced locally, like every other policy."""
        if props.get("AuthType") != "NONE":
            log.warning("function_url_auth_not_enforced", url=logical_id, auth_type=props.get("AuthType"))

    def _apply_event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> None:
        """Async retry count per function (destinations are not delivered locally)."""
        fn = self.registry.get(str(props.get("FunctionName", "")))
        if fn is not None and "MaximumRetryAttempts" in props:
            fn.async_retries = int(props["MaximumRetryAttempts"])
        if props.get("DestinationConfig"):
            log.warning("async_destinations_not_delivered", config=logical_id)

    def _create_schedule(self, logical_id: str, props: dict[str, Any]) -> None:
        """EventBridge Scheduler: fired by the local scheduler (moto would store it, never fire it)."""
        if props.get("State", "ENABLED") != "ENABLED":
            return
        target = props.get("Target") or {}
        inp = target.get("Input")
        self.scheduler.add(
            Schedule(
                logical_id,
                str(props.get("Name", logical_id)),
                str(props["ScheduleExpression"]),
                [
                    {
                        "Arn": target.get("Arn", ""),
                        "Input": inp if isinstance(inp, str) or inp is None else json.dumps(inp),
                    }
                ],
                "scheduler",
            )
        )


def local_functions(template: LocalTemplate, r: Resolver) -> list[LocalFunction]:
    """The template's active functions, as the local runtime runs them (no AWS call)."""
    out: list[LocalFunction] = []
    for logical_id, res in template.resources.items():
        if res.get("Type") != "AWS::Lambda::Function" or not r.active(logical_id):
            continue
        props = r.resolve(res.get("Properties") or {})
        env = {k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
        code_uri = template.code_uris.get(logical_id)
        if code_uri is None:
            log.warning("function_without_local_code", function=logical_id)
        out.append(
            LocalFunction(
                logical_id=logical_id,
                name=r.physical_name(logical_id),
                arn=r.arn(logical_id),
                handler=str(props.get("Handler", "")),
                code_uri=code_uri,
                timeout_s=float(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                environment=env,
            )
        )
    return out


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "The local stack runs this function's handler from its CodeUri.\n")
    return buf.getvalue()


_DUMMY_ZIP = _dummy_zip()


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def _ints(value: Any, keys: tuple[str, ...]) -> Any:
    """CloudFormation passes numbers from parameters as strings; the API wants integers."""
    if isinstance(value, list):
        return [_ints(v, keys) for v in value]
    if isinstance(value, dict):
        return {k: (int(v) if k in keys else _ints(v, keys)) for k, v in value.items()}
    return value


def create_kms_keys(template: Any, resolver: Any, client: Any) -> None:
    """Create the template's KMS keys first: a key's id (its ``Ref``) is known only once moto made it,
    and the functions' environment, resolved before the other resources, names it. moto's KMS really
    encrypts (AES-GCM under a key of its own), so a ciphertext stored locally is as opaque as in AWS;
    the key policy is stored, not enforced."""
    for logical_id, res in template.resources.items():
        if res.get("Type") != "AWS::KMS::Key" or not resolver.active(logical_id):
            continue
        props = resolver.resolve(res.get("Properties") or {})
        meta = client("kms").create_key(
            Description=str(props.get("Description") or logical_id), KeyUsage="ENCRYPT_DECRYPT"
        )["KeyMetadata"]
        resolver.set_attribute(logical_id, "Ref", meta["KeyId"])
        resolver.set_attribute(logical_id, "KeyId", meta["KeyId"])
        resolver.set_attribute(logical_id, "Arn", meta["Arn"])
