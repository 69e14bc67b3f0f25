"""Intrinsic functions (Ref, GetAtt, Sub, Join, If/Equals/And/Or/Not, Select, Split, FindInMap,
...) resolved against the deterministic names and ARNs the local stack gives resources."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from devstack.template_model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, DEFAULT_STACK_NAME, LocalTemplate, TemplateError
from shared.logging import get_logger

log = get_logger("devstack.intrinsics")


class _NoValue:
    """``AWS::NoValue``: the property it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# Explicit name property and maximum name length per resource type.
_NAMES: dict[str, tuple[str | None, int]] = {
    "AWS::DynamoDB::Table": ("TableName", 255),
    "AWS::S3::Bucket": ("BucketName", 63),
    "AWS::Events::EventBus": ("Name", 256),
    "AWS::Events::Rule": ("Name", 64),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::Lambda::LayerVersion": ("LayerName", 140),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", 80),
    "AWS::IAM::Role": ("RoleName", 64),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::ApiGatewayV2::Api": (None, 64),
}


class Resolver:
    """Resolves intrinsic functions against the names and ARNs the local stack gives resources.

    Names are deterministic (``<stack>-<LogicalId>`` unless the template names the resource), so
    everything can be resolved before anything exists, and a restarted stack has the same names.
    Attributes only known after creation (a table's StreamArn) are fed back with :meth:`set_attribute`.
    """

    def __init__(
        self,
        template: LocalTemplate,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        endpoint_url: str | None = None,
        api_url: str | None = None,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.endpoint_url = (endpoint_url or f"https://sqs.{region}.amazonaws.com").rstrip("/")
        self.api_url = api_url
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()
        self._attrs: dict[tuple[str, str], Any] = {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self.conditions: dict[str, bool] = {}
        for name in template.cfn.get("Conditions") or {}:
            self.condition(name)

    # -- conditions

    def condition(self, name: str, _stack: tuple[str, ...] = ()) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        spec = (self.template.cfn.get("Conditions") or {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name!r}")
        if name in _stack:
            raise TemplateError(f"condition cycle: {' -> '.join((*_stack, name))}")
        value = bool(self._eval_condition(spec, (*_stack, name)))
        self.conditions[name] = value
        return value

    def _eval_condition(self, spec: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(spec, dict) and len(spec) == 1:
            ((key, arg),) = spec.items()
            if key == "Condition":
                return self.condition(arg, stack)
            if key == "Fn::Equals":
                a, b = (self._eval_condition(x, stack) for x in arg)
                return _scalar(a) == _scalar(b)
            if key == "Fn::Not":
                return not self._eval_condition(arg[0], stack)
            if key == "Fn::And":
                return all(self._eval_condition(x, stack) for x in arg)
            if key == "Fn::Or":
                return any(self._eval_condition(x, stack) for x in arg)
        return self.resolve(spec)

    def active(self, logical_id: str) -> bool:
        """False for resources whose ``Condition`` is false (they are not created)."""
        cond = self.template.resources[logical_id].get("Condition")
        return True if cond is None else self.condition(cond)

    # -- names and attributes

    def physical_name(self, logical_id: str) -> str:
        if logical_id in self._names:
            return self._names[logical_id]
        res = self.template.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"unknown resource {logical_id!r}")
        if logical_id in self._naming:
            raise TemplateError(f"circular name reference through {logical_id}")
        self._naming.add(logical_id)
        try:
            rtype = res.get("Type", "")
            prop, max_len = _NAMES.get(rtype, (None, 64))
            explicit = (res.get("Properties") or {}).get(prop) if prop else None
            if explicit is not None:
                name = str(self.resolve(explicit))
            else:
                name = f"{self.stack_name}-{logical_id}"
                if rtype == "AWS::S3::Bucket":
                    name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
                if (
                    rtype == "AWS::SQS::Queue"
                    and str(self.resolve((res.get("Properties") or {}).get("FifoQueue", False))).lower() == "true"
                ):
                    name = name[: max_len - 5] + ".fifo"
                name = name[:max_len]
        finally:
            self._naming.discard(logical_id)
        self._names[logical_id] = name
        return name

    def set_attribute(self, logical_id: str, attribute: str, value: Any) -> None:
        self._attrs[(logical_id, attribute)] = value

    def arn(self, logical_id: str) -> str:
        return str(self.get_att(logical_id, "Arn"))

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.template.parameters[name]
        res = self.template.resources.get(name)
        if res is None:
            raise TemplateError(f"Ref to unknown parameter or resource {name!r}")
        if (name, "Ref") in self._attrs:
            return self._attrs[(name, "Ref")]
        rtype = res.get("Type", "")
        if rtype in ("AWS::SQS::Queue",):
            return self.get_att(name, "QueueUrl")
        if rtype in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::Lambda::LayerVersion"):
            return self.get_att(name, "Arn")
        if rtype == "AWS::ApiGatewayV2::Api":
            return "local"
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self._attrs:
            return self._attrs[(logical_id, attribute)]
        res = self.template.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"GetAtt on unknown resource {logical_id!r}")
        rtype = res.get("Type", "")
        r, a = self.region, self.account_id
        if rtype == "AWS::ApiGatewayV2::Api":
            if attribute == "ApiEndpoint":
                return self.api_url or f"https://local.execute-api.{r}.amazonaws.com"
            if attribute == "ApiId":
                return "local"
        name = self.physical_name(logical_id)
        table: dict[str, dict[str, Any]] = {
            "AWS::DynamoDB::Table": {
                "Arn": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
                "StreamArn": f"arn:aws:dynamodb:{r}:{a}:table/{name}/stream/local",
            },
            "AWS::S3::Bucket": {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{r}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{r}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{r}.amazonaws.com",
            },
            "AWS::Events::EventBus": {"Arn": f"arn:aws:events:{r}:{a}:event-bus/{name}", "Name": name},
            "AWS::Events::Rule": {"Arn": self._rule_arn(logical_id, name)},
            "AWS::SQS::Queue": {
                "Arn": f"arn:aws:sqs:{r}:{a}:{name}",
                "QueueName": name,
                "QueueUrl": f"{self.endpoint_url}/{a}/{name}",
            },
            "AWS::Lambda::Function": {"Arn": f"arn:aws:lambda:{r}:{a}:function:{name}"},
            "AWS::Lambda::LayerVersion": {"Arn": f"arn:aws:lambda:{r}:{a}:layer:{name}:1"},
            "AWS::StepFunctions::StateMachine": {
                "Arn": f"arn:aws:states:{r}:{a}:stateMachine:{name}",
                "Name": name,
            },
            "AWS::IAM::Role": {"Arn": f"arn:aws:iam::{a}:role/{name}", "RoleId": f"AROA{name.upper()[:17]}"},
            "AWS::SNS::Topic": {"Arn": f"arn:aws:sns:{r}:{a}:{name}", "TopicName": name},
            "AWS::Logs::LogGroup": {"Arn": f"arn:aws:logs:{r}:{a}:log-group:{name}:*"},
        }
        attrs = table.get(rtype)
        if attrs is None or attribute not in attrs:
            log.warning("getatt_placeholder", resource=logical_id, type=rtype, attribute=attribute)
            return f"local:{logical_id}.{attribute}"
        return attrs[attribute]

    def _rule_arn(self, logical_id: str, name: str) -> str:
        bus = (self.template.resources[logical_id].get("Properties") or {}).get("EventBusName")
        prefix = f"arn:aws:events:{self.region}:{self.account_id}:rule/"
        if bus is None:
            return prefix + name
        bus_name = str(self.resolve(bus)).rsplit("/", 1)[-1]
        return prefix + (name if bus_name == "default" else f"{bus_name}/{name}")

    # -- intrinsic functions

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; ``AWS::NoValue`` entries are dropped."""
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            fn = _INTRINSICS.get(key)
            if fn is not None:
                return fn(self, arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        logical_id, attribute = self.resolve(arg[0]), self.resolve(arg[1])
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def repl(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            expr = expr.strip()
            if expr in variables:
                return _scalar(variables[expr])
            if "." in expr and expr not in self.pseudo:
                logical_id, attribute = expr.split(".", 1)
                return _scalar(self.get_att(logical_id, attribute))
            return _scalar(self.ref(expr))

        return re.sub(r"\$\{([^}]*)\}", repl, text)

    def _fn_if(self, arg: Any) -> Any:
        cond, yes, no = arg
        return self.resolve(yes if self.condition(cond) else no)

    def _fn_find_in_map(self, arg: Any) -> Any:
        name, k1, k2 = (self.resolve(x) for x in arg[:3])
        try:
            return self.resolve(self.template.cfn["Mappings"][name][k1][k2])
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap {name}/{k1}/{k2} not found") from None

    def _fn_import_value(self, arg: Any) -> Any:
        raise TemplateError(f"Fn::ImportValue {arg!r}: cross-stack imports do not exist locally")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    return str(value)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda r, a: r.ref(r.resolve(a)),
    "Fn::GetAtt": Resolver._fn_get_att,
    "Fn::Sub": Resolver._fn_sub,
    "Fn::Join": lambda r, a: str(r.resolve(a[0])).join(_scalar(x) for x in r.resolve(a[1])),
    "Fn::If": Resolver._fn_if,
    "Fn::Equals": lambda r, a: _scalar(r.resolve(a[0])) == _scalar(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r._eval_condition(a[0], ()),
    "Fn::And": lambda r, a: all(r._eval_condition(x, ()) for x in a),
    "Fn::Or": lambda r, a: any(r._eval_condition(x, ()) for x in a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(str(r.resolve(a[0]))),
    "Fn::FindInMap": Resolver._fn_find_in_map,
    "Fn::Base64": lambda r, a: base64.b64encode(_scalar(r.resolve(a)).encode()).decode(),
    "Fn::GetAZs": lambda r, a: [f"{r.region}{z}" for z in "abc"],
    "Fn::ImportValue": Resolver._fn_import_value,
    "Fn::ToJsonString": lambda r, a: json.dumps(r.resolve(a), separators=(",", ":")),
    "Fn::Length": lambda r, a: len(r.resolve(a)),
}
