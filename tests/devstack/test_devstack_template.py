"""Template loading without AWS: short-form YAML, parameter checks, local paths mapped back
through the offline SAM translation, intrinsic resolution, the translation cache, env merging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.runtime import LocalFunction
from devstack.stack import EmbeddedStack
from devstack.template import (
    HttpRoute,
    LocalTemplate,
    Resolver,
    TemplateError,
    load_template,
    load_yaml,
    parse_params,
    resolve_parameters,
)
from tests.devstack.conftest import FIXTURE_PARAMS, FIXTURE_TEMPLATE, FIXTURES


@pytest.fixture(scope="module")
def tpl() -> LocalTemplate:
    return load_template(FIXTURE_TEMPLATE, FIXTURE_PARAMS, cache_dir=False)


def test_short_form_tags_and_yaml_11_booleans(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub [x, {}]\nD: yes\nE: true\nF: !If [C, 1, 2]\n")
    assert load_yaml(path) == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": ["x", {}]},
        "D": "yes",
        "E": True,
        "F": {"Fn::If": ["C", 1, 2]},
    }


def test_parameters_are_checked_like_cloudformation() -> None:
    sam = load_yaml(FIXTURE_TEMPLATE)
    assert resolve_parameters(sam, FIXTURE_PARAMS)["Greeting"] == "hello"
    with pytest.raises(TemplateError, match="unknown parameter"):
        resolve_parameters(sam, {**FIXTURE_PARAMS, "Stgae": "dev"})
    with pytest.raises(TemplateError, match="not one of"):
        resolve_parameters(sam, {**FIXTURE_PARAMS, "Stage": "qa"})
    with pytest.raises(TemplateError, match="shorter than 8") as err:
        resolve_parameters(sam, {"FixtureSecret": "s3cr3t"})
    assert "s3cr3t" not in str(err.value), "NoEcho values stay out of error messages"
    with pytest.raises(TemplateError, match="no default"):
        resolve_parameters(sam, {})
    assert parse_params(["Stage=dev", "Url=http://x/?a=b"]) == {"Stage": "dev", "Url": "http://x/?a=b"}
    with pytest.raises(TemplateError):
        parse_params(["Stage"])


def test_local_paths_survive_translation(tpl: LocalTemplate) -> None:
    assert tpl.code_uris == {"Recorder": FIXTURES / "recorder", "Other": FIXTURES / "other"}
    assert tpl.definitions == {"Machine": FIXTURES / "machine.asl.json"}
    assert tpl.sam["Resources"]["Recorder"]["Properties"]["CodeUri"] == str(FIXTURES / "recorder")
    assert tpl.resources["Recorder"]["Type"] == "AWS::Lambda::Function"
    assert tpl.resources["RecorderFromQueue"]["Type"] == "AWS::Lambda::EventSourceMapping"
    assert tpl.http_routes == [
        HttpRoute("ANY", "/{proxy+}", "Recorder"),
        HttpRoute("GET", "/other/{id}", "Other"),
    ]


def test_intrinsics_resolve_against_local_names(tpl: LocalTemplate) -> None:
    r = Resolver(tpl, stack_name="fx", endpoint_url="http://127.0.0.1:5555")
    assert r.conditions == {"IsProd": False}
    assert not r.active("ProdOnlyQueue")
    assert r.ref("WorkQueue") == "http://127.0.0.1:5555/123456789012/fx-WorkQueue"
    assert r.arn("WorkQueue") == "arn:aws:sqs:us-east-1:123456789012:fx-WorkQueue"
    assert r.ref("Bus") == "fixture-dev"
    assert r.ref("Machine") == "arn:aws:states:us-east-1:123456789012:stateMachine:fx-Machine"
    assert r.resolve({"Fn::GetAtt": "Recorder.Arn"}) == "arn:aws:lambda:us-east-1:123456789012:function:fx-Recorder"
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${!Literal}-${Bus.Arn}"}) == (
        "fx-${Literal}-arn:aws:events:us-east-1:123456789012:event-bus/fixture-dev"
    )
    assert r.resolve({"Fn::Sub": ["${a}/${Greeting}", {"a": {"Ref": "AWS::Region"}}]}) == "us-east-1/hello"
    assert r.resolve({"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}) is not None
    assert r.resolve({"k": {"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}, "j": 1}) == {"j": 1}
    assert r.resolve({"Fn::Join": ["-", ["a", {"Fn::Select": [0, {"Fn::Split": [",", "b,c"]}]}]]}) == "a-b"
    env = r.resolve(tpl.resources["Recorder"]["Properties"]["Environment"])["Variables"]
    assert env["FIXTURE_MODE"] == "relaxed" and env["FIXTURE_SECRET"] == "fixture-secret-value"
    with pytest.raises(TemplateError):
        r.ref("Nope")


def test_translation_is_cached(tmp_path: Path) -> None:
    first = load_template(FIXTURE_TEMPLATE, FIXTURE_PARAMS, cache_dir=tmp_path)
    (cached,) = list(tmp_path.glob("sam-*.json"))
    assert json.loads(cached.read_text()) == first.cfn
    second = load_template(FIXTURE_TEMPLATE, FIXTURE_PARAMS, cache_dir=tmp_path)
    assert second.cfn == first.cfn and second.code_uris == first.code_uris
    load_template(FIXTURE_TEMPLATE, {**FIXTURE_PARAMS, "Greeting": "hi"}, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("sam-*.json"))) == 2, "parameters are part of the cache key"


def _fn(logical_id: str, env: dict[str, str]) -> LocalFunction:
    return LocalFunction(logical_id, logical_id, f"arn:{logical_id}", "app.handler", None, environment=env)


def test_function_environments_merge_or_conflict() -> None:
    merged, owner = EmbeddedStack.merge_environments([_fn("A", {"X": "1", "Y": "2"}), _fn("B", {"X": "1", "Z": "3"})])
    assert merged == {"X": "1", "Y": "2", "Z": "3"} and owner["Z"] == "B"
    with pytest.raises(TemplateError, match="X: A='1' vs B='2'"):
        EmbeddedStack.merge_environments([_fn("A", {"X": "1"}), _fn("B", {"X": "2"})])


def test_invalid_sam_template_is_a_template_error(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12,"
        " Events: {E: {Type: NoSuchEventType}}}\n"
    )
    with pytest.raises(TemplateError, match="SAM translation failed"):
        load_template(path, cache_dir=False)
