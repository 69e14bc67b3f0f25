"""The Lambda layers ship what the tests run against, for the platform the functions run on, and each
function gets the layers it needs (template.yaml, requirements-layer*.txt, scripts/build_layer.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devstack.template import load_template, load_yaml

ROOT = Path(__file__).resolve().parents[2]

# The functions that start, read or kill sandboxes (svc.sandbox): run_steps (start_sandbox, finalize
# reads outputs), reaper (lists and kills), evidence (reads files, kills), sessions (the session routes
# that start, command or kill a session's sandbox). The API does not: a run's cancel fails the waiting
# task and the state machine's Cleanup kills the sandbox in RunStepsFunction; which API requests reach
# a sandbox, and that they are routed to a function in this set, is
# tests/integration/test_sandbox_routing.py.
SANDBOX_FUNCTIONS = {"RunStepsFunction", "ReaperFunction", "EvidenceFunction", "SessionsFunction"}
# The functions that serve MCP: the API's /mcp route (shared/mcp/http.py).
MCP_FUNCTIONS = {"SessionsFunction"}


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _requirements(name: str) -> dict[str, Requirement]:
    reqs = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            reqs[canonicalize_name(req.name)] = req
    return reqs


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pinned(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req}: the layer takes exact pins only"
    return spec.version


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml", {"RunTokenSecret": "x" * 32}, cache_dir=False).resources


def test_the_core_layer_pins_what_pyproject_declares() -> None:
    layer = _requirements("requirements-layer.txt")
    declared = [Requirement(d) for d in _pyproject()["project"]["dependencies"]]
    assert {canonicalize_name(r.name) for r in declared} == set(layer)
    for req in declared:
        version = _pinned(layer[canonicalize_name(req.name)])
        assert req.specifier.contains(version), f"requirements-layer.txt pins {req.name}=={version}, pyproject: {req}"


@pytest.mark.parametrize(("extra_name", "layer_file"), [("e2b", "sandbox"), ("mcp", "mcp")])
def test_an_add_on_layer_pins_its_extra_and_nothing_of_the_core(extra_name: str, layer_file: str) -> None:
    core, add_on = _requirements("requirements-layer.txt"), _requirements(f"requirements-layer-{layer_file}.txt")
    declared = _pyproject()["project"]["optional-dependencies"][extra_name]
    extra = {canonicalize_name(r.name): r for r in map(Requirement, declared)}
    assert set(add_on) == set(extra)
    for name, req in extra.items():
        assert req.specifier.contains(_pinned(add_on[name]))
    assert not set(core) & set(add_on), "one distribution in both layers would be extracted twice into /opt"


def test_the_layers_are_built_for_the_functions_runtime_and_architecture() -> None:
    globals_ = load_yaml(ROOT / "template.yaml")["Globals"]["Function"]
    build, check = _script("build_layer"), _script("check_layer")
    assert globals_["Runtime"] == f"python{build.PYTHON_VERSION}"
    assert globals_["Architectures"] == ["arm64"]
    assert build.PLATFORM.startswith("aarch64-manylinux_")
    glibc = tuple(int(p) for p in build.PLATFORM.removeprefix("aarch64-manylinux_").split("_"))
    assert glibc == check.MAX_GLIBC
    assert f"{check.PYTHON[0]}.{check.PYTHON[1]}" == build.PYTHON_VERSION


def test_every_function_gets_the_core_layer_and_only_sandbox_and_mcp_users_their_layers(
    translated: dict[str, Any],
) -> None:
    functions = {lid: r for lid, r in translated.items() if r["Type"] == "AWS::Lambda::Function"}
    # SAM names a layer version <LogicalId><hash>; its LayerName is the template's logical id.
    layer_names = {
        lid: r["Properties"]["LayerName"] for lid, r in translated.items() if r["Type"] == "AWS::Lambda::LayerVersion"
    }
    assert set(functions) >= SANDBOX_FUNCTIONS | MCP_FUNCTIONS
    for logical_id, res in functions.items():
        props = res["Properties"]
        ours = [layer_names[ref["Ref"]] for ref in props.get("Layers", []) if "Ref" in ref]
        expected = ["SharedLayer"]
        expected += ["SandboxLayer"] if logical_id in SANDBOX_FUNCTIONS else []
        expected += ["McpLayer"] if logical_id in MCP_FUNCTIONS else []
        assert ours == expected, logical_id
        # The one outside layer: AWS Labs' Lambda Web Adapter, on the functions it starts (arm64 build).
        others = [ref for ref in props.get("Layers", []) if "Ref" not in ref]
        if (props.get("Environment") or {}).get("Variables", {}).get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/bootstrap":
            assert len(others) == 1 and ":753240598075:layer:LambdaAdapterLayerArm64:" in json.dumps(others), logical_id
        else:
            assert others == [], logical_id


def test_an_add_on_split_never_moves_a_core_distribution() -> None:
    build = _script("build_layer")
    core = {"pydantic": "2.13.4", "typing-extensions": "4.16.0"}
    assert build.add_on_only(core, {**core, "e2b": "2.63.0", "httpx": "0.28.1"}) == {
        "e2b": "2.63.0",
        "httpx": "0.28.1",
    }
    with pytest.raises(build.BuildError, match="typing-extensions"):
        build.add_on_only(core, {**core, "typing-extensions": "4.12.0", "e2b": "2.63.0"})
    with pytest.raises(build.BuildError, match=r"mcp requirements change the core layer.*pydantic"):
        build.add_on_only(core, {"typing-extensions": "4.16.0", "mcp": "2.3.0"}, "mcp")


def test_compiled_requirements_are_read_as_exact_pins() -> None:
    build = _script("build_layer")
    text = "# via uv\nTyping_Extensions==4.16.0\n\npydantic-core==2.46.4 ; python_version >= '3.9'\n"
    assert build.parse_pins(text) == {"typing-extensions": "4.16.0", "pydantic-core": "2.46.4"}
    with pytest.raises(build.BuildError):
        build.parse_pins("pydantic>=2\n")


def test_the_locks_are_made_from_the_current_requirements_and_pin_them() -> None:
    build = _script("build_layer")
    locks = {kind: build.read_lock(kind) for kind in ("core", "sandbox", "mcp")}  # raises if a .txt changed since
    for kind in ("sandbox", "mcp"):
        assert not set(locks["core"]) & set(locks[kind]), f"the {kind} lock repeats a core distribution"
    for kind, name in (
        ("core", "requirements-layer.txt"),
        ("sandbox", "requirements-layer-sandbox.txt"),
        ("mcp", "requirements-layer-mcp.txt"),
    ):
        locked = locks[kind]
        for dist, req in _requirements(name).items():
            assert locked.get(dist) == _pinned(req), f"{dist} in {name} and in its lock"


def test_a_lock_older_than_its_requirements_is_refused(tmp_path: Path) -> None:
    build = _script("build_layer")
    req, lock = tmp_path / "requirements-layer.txt", tmp_path / "requirements-layer.lock"
    req.write_text("pydantic==2.13.4\n")
    lock.write_text(f"# inputs-sha256: {build.inputs_digest([req])}\npydantic==2.13.4\n")
    locks = {"core": (lock, [req])}
    assert build.read_lock("core", locks) == {"pydantic": "2.13.4"}
    req.write_text("pydantic==2.13.4\nstructlog==26.1.0\n")
    with pytest.raises(build.BuildError, match="make layer-lock"):
        build.read_lock("core", locks)


def test_bytecode_is_compiled_only_by_an_interpreter_that_really_is_the_runtimes_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _script("build_layer")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    other = "3.12" if here != "3.12" else "3.11"
    # Nothing on PATH and no pyenv: only the explicit interpreter is a candidate, and it is probed.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("OPENHELM_LAYER_PYTHON", sys.executable)
    assert build.runtime_python(here) == sys.executable
    assert build.runtime_python(other) is None
    monkeypatch.setenv("OPENHELM_LAYER_PYTHON", str(tmp_path / "missing-python"))
    assert build.runtime_python(here) is None


def _bucket_grants(resource: dict[str, Any], bucket: str) -> set[str]:
    """S3 actions the function's SAM policy templates grant on ``bucket`` (by its logical id)."""
    grants: set[str] = set()
    for policy in resource["Properties"].get("Policies", []):
        if not isinstance(policy, dict):
            continue
        for name, args in policy.items():
            if isinstance(args, dict) and args.get("BucketName") == {"Ref": bucket}:
                grants.add(name)
    return grants


@pytest.mark.parametrize(
    ("function", "bucket", "why"),
    [
        ("SessionsFunction", "FilesBucket", "a task's file_ids and upload_file are read and put into the sandbox"),
        ("SessionsFunction", "ProfilesBucket", "a session starts from its profile and saves it at DELETE"),
        ("ReaperFunction", "ProfilesBucket", "an idle or overrun session saves its profile as it closes"),
    ],
)
def test_functions_that_move_files_and_profiles_may_reach_their_buckets(function: str, bucket: str, why: str) -> None:
    raw = load_yaml(ROOT / "template.yaml")["Resources"]
    grants = _bucket_grants(raw[function], bucket)
    assert grants & {"S3ReadPolicy", "S3CrudPolicy"}, f"{function} needs {bucket}: {why}"
    if bucket == "ProfilesBucket":
        assert "S3CrudPolicy" in grants, f"{function} writes {bucket}: {why}"


def _locked(layer_file: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / f"requirements-layer-{layer_file}.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].strip().split("==")
            pins[canonicalize_name(name)] = version.split()[0].rstrip("\\").strip()
    return pins


def test_add_on_layers_on_one_function_pin_what_they_share_alike() -> None:
    """Both add-on layers are extracted into one /opt on SessionsFunction: a distribution in both
    must be the same version, or whichever layer comes last would silently win."""
    assert SANDBOX_FUNCTIONS & MCP_FUNCTIONS, "no function has both: this check guards nothing"
    sandbox, mcp = _locked("sandbox"), _locked("mcp")
    shared = set(sandbox) & set(mcp)
    assert {"anyio", "idna"} <= shared  # read the locks at all
    assert {name: (sandbox[name], mcp[name]) for name in shared if sandbox[name] != mcp[name]} == {}
