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

This module does step 1 and ties the steps together; the YAML loader is ``cfn_yaml``, the
translation ``sam_translate``, the resolver ``intrinsics`` and the model ``template_model``. The
names other modules use are re-exported here, so ``devstack.template`` stays the one import.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack.cfn_yaml import load_yaml
from devstack.intrinsics import NO_VALUE, Resolver
from devstack.sam_translate import translate_cached
from devstack.template_model import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    HttpRoute,
    LocalTemplate,
    TemplateError,
)
from shared.logging import get_logger

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "NO_VALUE",
    "PLACEHOLDER_BUCKET",
    "HttpRoute",
    "LocalTemplate",
    "Resolver",
    "TemplateError",
    "load_definition",
    "load_template",
    "load_yaml",
    "parse_params",
    "resolve_parameters",
]

log = get_logger("devstack.template")

PLACEHOLDER_BUCKET = "openhelm-local-code"


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
    cfn = translate_cached(for_translator, parameters, region, cdir)

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
