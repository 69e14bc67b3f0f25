"""Load a SAM template for the local stack: offline translation and intrinsic resolution.

The same ``template.yaml`` that ``sam deploy`` ships must drive the local stack, so nothing here
knows about OpenHelm's resources. Three steps:

1. parse the YAML (CloudFormation short-form tags included) and rewrite local ``CodeUri`` /
   ``ContentUri`` / ``DefinitionUri`` to absolute paths, remembered per logical id;
2. translate the SAM template to plain CloudFormation with aws-sam-translator, offline: the
   translator insists on S3 locations, so local paths become ``s3://openhelm-local-code/<LogicalId>``
   placeholders that are mapped back afterwards, and the managed-policy loader is a stub (IAM is
   not enforced locally). The translation is cached on disk because importing the translator
   alone costs about half a second, and the stack should start in about one;
3. resolve intrinsic functions (Ref, GetAtt, Sub, Join, If/Equals/And/Or/Not, Select, Split,
   FindInMap, ...) against deterministic local names and ARNs, via :class:`Resolver`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.logging import get_logger

log = get_logger("devstack.template")

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_STACK_NAME = "openhelm-local"
PLACEHOLDER_BUCKET = "openhelm-local-code"
# Bump when the placeholder scheme or anything else that shapes the cached translation changes.
_CACHE_FORMAT = 1


class TemplateError(Exception):
    """The template cannot be loaded, translated or resolved for the local stack."""


# ---------------------------------------------------------------------------------------------- YAML


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form tags (``!Ref``, ``!Sub``, ...)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)
# CloudFormation reads "yes"/"no"/"on"/"off" as strings; YAML 1.1 booleans would silently change them.
_CfnLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in _CfnLoader.yaml_implicit_resolvers.items()
}
_CfnLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) file, short-form tags expanded to long form."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: not a template (top level is {type(data).__name__})")
    return data


# ---------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: what the local gateway routes to it."""

    method: str  # upper case, "ANY" for any
    path: str  # "/{proxy+}", "/v1/runs/{id}" or "$default"
    function: str  # logical id of the function
    payload_format_version: str = "2.0"
    api: str | None = None  # logical id of the HttpApi, None for SAM's implicit API
    timeout_s: float | None = None  # the event's TimeoutInMillis; None: API Gateway's 30 s

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class LocalTemplate:
    """A SAM template made ready for local use: translated, with its local paths mapped back."""

    path: Path
    sam: dict[str, Any]  # the source template, local paths made absolute
    cfn: dict[str, Any]  # the translated CloudFormation template (intrinsics unresolved)
    parameters: dict[str, Any]  # resolved parameter values (defaults + overrides)
    code_uris: dict[str, Path] = field(default_factory=dict)  # function logical id -> code dir
    layer_dirs: dict[str, Path] = field(default_factory=dict)  # translated layer id -> content dir
    definitions: dict[str, Path] = field(default_factory=dict)  # state machine id -> ASL file
    http_routes: list[HttpRoute] = field(default_factory=list)

    @property
    def resources(self) -> dict[str, Any]:
        return self.cfn.get("Resources", {})  # type: ignore[no-any-return]

    @property
    def root(self) -> Path:
        return self.path.parent


# ---------------------------------------------------------------------------------------------- loading


def parse_params(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["Stage=dev", "LogLevel=DEBUG"]`` -> ``{"Stage": "dev", "LogLevel": "DEBUG"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TemplateError(f"parameter override {pair!r} is not Key=Value")
        out[key.strip()] = value
    return out


def resolve_parameters(sam: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults + overrides, checked like CloudFormation does (unknown names and AllowedValues)."""
    declared: dict[str, Any] = sam.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown parameter(s) {unknown}; the template declares {sorted(declared)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default; pass it as {name}=<value>")
        ptype = str(spec.get("Type", "String"))
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            value: Any = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")]
        else:
            value = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, bool) else str(raw)
            allowed = spec.get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            shown = "****" if str(spec.get("NoEcho")).lower() == "true" else repr(value)
            if "MinLength" in spec and len(value) < int(spec["MinLength"]):
                raise TemplateError(f"parameter {name}={shown} is shorter than {spec['MinLength']}")
            if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
                raise TemplateError(f"parameter {name}={shown} is longer than {spec['MaxLength']}")
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, value):
                raise TemplateError(f"parameter {name}={shown} does not match {pattern!r}")
        values[name] = value
    return values


def _is_local_uri(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://") and "://" not in value


def _placeholder(logical_id: str) -> str:
    return f"s3://{PLACEHOLDER_BUCKET}/{logical_id}"


def _prepare(sam: dict[str, Any], root: Path) -> tuple[dict[str, Any], dict[str, dict[str, Path]]]:
    """Make local paths absolute in ``sam``; return a copy for the translator with S3 placeholders."""
    for_translator = copy.deepcopy(sam)
    local: dict[str, dict[str, Path]] = {"code": {}, "layer": {}, "definition": {}}
    global_code = ((sam.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    if _is_local_uri(global_code):
        sam["Globals"]["Function"]["CodeUri"] = str((root / global_code).resolve())
        for_translator["Globals"]["Function"]["CodeUri"] = _placeholder("Globals")
    for logical_id, res in (sam.get("Resources") or {}).items():
        rtype = res.get("Type")
        props = res.get("Properties") or {}
        tprops = for_translator["Resources"][logical_id].get("Properties") or {}
        key, kind = {
            "AWS::Serverless::Function": ("CodeUri", "code"),
            "AWS::Serverless::LayerVersion": ("ContentUri", "layer"),
            "AWS::Serverless::StateMachine": ("DefinitionUri", "definition"),
        }.get(rtype, (None, None))
        if key is None or kind is None:
            continue
        value = props.get(key)
        if value is None and kind == "code" and _is_local_uri(global_code) and "InlineCode" not in props:
            value = global_code
        if not _is_local_uri(value):
            continue
        absolute = (root / value).resolve()
        props[key] = str(absolute)
        tprops[key] = _placeholder(logical_id)
        local[kind][logical_id] = absolute
    return for_translator, local


class _StubPolicyLoader:
    """Managed policy names are not resolved locally (IAM is not enforced); nothing is fetched."""

    def load(self) -> dict[str, str]:
        return {}


def _translate(for_translator: dict[str, Any], params: Mapping[str, Any], region: str) -> dict[str, Any]:
    # Imported here: the translator is slow to import and only needed on a cache miss.
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    values = {k: (",".join(v) if isinstance(v, list) else v) for k, v in params.items()}
    template = copy.deepcopy(for_translator)
    to_py27_compatible_template(template, values)
    # A session only to tell the translator the region; it never calls AWS.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        out = translator.translate(template, parameter_values=values, get_managed_policy_map=_StubPolicyLoader().load)
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in getattr(exc, "causes", []))
        raise TemplateError(f"SAM translation failed: {exc} {causes}".strip()) from exc
    finally:
        translator.metrics.publish()  # to its dummy publisher; unpublished metrics warn on stderr
    return undo_mark_unicode_str_in_template(out)  # type: ignore[no-any-return]


def _cache_key(for_translator: Mapping[str, Any], params: Mapping[str, Any], region: str) -> str:
    import samtranslator  # cheap: the package __init__ only holds the version

    blob = json.dumps(
        [_CACHE_FORMAT, samtranslator.__version__, region, params, for_translator], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _translate_cached(
    for_translator: dict[str, Any], params: Mapping[str, Any], region: str, cache_dir: Path | None
) -> dict[str, Any]:
    if not for_translator.get("Transform"):
        return copy.deepcopy(for_translator)  # plain CloudFormation
    if cache_dir is None:
        return _translate(for_translator, params, region)
    cache_file = cache_dir / f"sam-{_cache_key(for_translator, params, region)}.json"
    try:
        return json.loads(cache_file.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        pass
    cfn = _translate(for_translator, params, region)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cfn))
        os.replace(tmp, cache_file)
    except OSError as exc:  # a read-only checkout still works, only slower
        log.warning("translation_cache_unwritable", path=str(cache_dir), error=str(exc))
    return cfn


def _http_routes(sam: Mapping[str, Any]) -> list[HttpRoute]:
    routes: list[HttpRoute] = []
    for logical_id, res in (sam.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        for event_id, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            etype = event.get("Type")
            props = event.get("Properties") or {}
            if etype == "Api":
                log.warning("rest_api_event_skipped", function=logical_id, event=event_id)
                continue
            if etype != "HttpApi":
                continue
            path, method = props.get("Path"), props.get("Method")
            api = props.get("ApiId")
            api_id = api.get("Ref") if isinstance(api, dict) else None
            routes.append(
                HttpRoute(
                    method="ANY"
                    if method is None or str(method).lower() in ("any", "x-amazon-apigateway-any-method")
                    else str(method).upper(),
                    path="$default" if path is None and method is None else str(path or "/"),
                    function=logical_id,
                    payload_format_version=str(props.get("PayloadFormatVersion", "2.0")),
                    api=api_id,
                    timeout_s=int(props["TimeoutInMillis"]) / 1000 if "TimeoutInMillis" in props else None,
                )
            )
    return routes


def load_template(
    path: str | Path,
    params: Mapping[str, Any] | None = None,
    *,
    region: str = DEFAULT_REGION,
    cache_dir: str | Path | bool | None = True,
) -> LocalTemplate:
    """Load and translate a SAM template for local use.

    ``params`` override parameter defaults (``{"Stage": "dev"}``). ``cache_dir``: ``True`` caches
    translations in ``<template dir>/.openhelm/cache``, a path caches there, ``False``/``None`` never.
    """
    tpath = Path(path).resolve()
    sam = load_yaml(tpath)
    parameters = resolve_parameters(sam, dict(params or {}))
    for_translator, local = _prepare(sam, tpath.parent)
    if cache_dir is True:
        cdir: Path | None = tpath.parent / ".openhelm" / "cache"
    elif cache_dir in (False, None):
        cdir = None
    else:
        cdir = Path(cache_dir)  # type: ignore[arg-type]
    cfn = _translate_cached(for_translator, parameters, region, cdir)

    tpl = LocalTemplate(path=tpath, sam=sam, cfn=cfn, parameters=parameters, http_routes=_http_routes(sam))
    globals_code = local["code"].get("Globals")
    for logical_id, res in tpl.resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Lambda::Function":
            code = props.get("Code")
            if isinstance(code, dict) and code.get("S3Bucket") == PLACEHOLDER_BUCKET:
                key = code.get("S3Key")
                found = local["code"].get(key) if key != "Globals" else globals_code
                if found is not None:
                    tpl.code_uris[logical_id] = found
            elif _is_local_uri(code):  # plain CloudFormation with a local Code path (cfn package style)
                tpl.code_uris[logical_id] = (tpath.parent / code).resolve()
        elif res.get("Type") == "AWS::Lambda::LayerVersion":
            content = props.get("Content")
            if isinstance(content, dict) and content.get("S3Bucket") == PLACEHOLDER_BUCKET:
                found = local["layer"].get(content.get("S3Key"))
                if found is not None:
                    tpl.layer_dirs[logical_id] = found
        elif res.get("Type") == "AWS::StepFunctions::StateMachine":
            loc = props.get("DefinitionS3Location")
            if isinstance(loc, dict) and loc.get("Bucket") == PLACEHOLDER_BUCKET:
                found = local["definition"].get(loc.get("Key"))
                if found is not None:
                    tpl.definitions[logical_id] = found
    return tpl


def load_definition(path: Path) -> Any:
    """Read an ASL definition file (JSON, or YAML as SAM also accepts)."""
    if path.suffix in (".yaml", ".yml"):
        return load_yaml(path)
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- names


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
