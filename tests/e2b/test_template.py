"""The E2B template definition, inspected offline (``Template.to_json``/``to_dockerfile``, no E2B call)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import e2b
import pytest

from shared.sandbox import e2b_provider

SANDBOX_IMAGE = Path(__file__).resolve().parents[2] / "sandbox_image"


@pytest.fixture(scope="module")
def template_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openhelm_sandbox_template", SANDBOX_IMAGE / "template.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_template_installs_chromium_and_the_agent(template_module: ModuleType) -> None:
    definition = json.loads(e2b.Template.to_json(template_module.build_template()))
    steps = definition["steps"]
    runs = [s["args"] for s in steps if s["type"] == "RUN"]
    assert definition["fromImage"] == "python:3.11-slim-bookworm"  # Debian bookworm, Python 3.11

    apt = next(args for args in runs if "apt-get install" in args[0])
    assert apt[1] == "root"
    assert {"chromium", "fonts-liberation", "fonts-noto-color-emoji"} <= set(apt[0].split())
    assert any("/usr/bin/chromium --version" in args[0] for args in runs)

    (copy,) = [s for s in steps if s["type"] == "COPY"]
    assert copy["args"][:2] == ["agent", "/opt/openhelm-agent"] and copy["filesHash"]
    assert ["pip install --no-cache-dir /opt/openhelm-agent", "root"] in runs
    assert any("import openhelm_agent" in args[0] for args in runs)

    # The start command E2B snapshots is the agent waiting for its run (Chromium up, ready file made),
    # at the paths the provider hands runs in through; without warm start, no start command.
    assert definition["startCmd"] == template_module.WARM_START_COMMAND
    assert template_module.AGENT_COMMAND in definition["startCmd"]
    assert f"OPENHELM_HANDOUT={e2b_provider.HANDOUT_DIR} " in definition["startCmd"]
    assert f"OPENHELM_WARM_READY_FILE={e2b_provider.WARM_READY_FILE} " in definition["startCmd"]
    assert definition["readyCmd"] == f"[ -f {e2b_provider.WARM_READY_FILE} ]"
    assert "startCmd" not in json.loads(e2b.Template.to_json(template_module.build_template(warm=False)))
    assert (
        template_module.AGENT_COMMAND
        == e2b_provider.AGENT_COMMAND
        == ("python -m openhelm_agent.supervise -- python -m openhelm_agent")
    )
    assert template_module.CHROMIUM == e2b_provider.CHROMIUM_PATH
    assert [s["args"] for s in steps if s["type"] in ("WORKDIR", "USER")] == [["/home/user"], ["user"]]
    assert e2b_provider.HOME_DIR == "/home/user"


def test_template_ships_no_build_junk(template_module: ModuleType, tmp_path: Path) -> None:
    # The COPY hash (what E2B uploads) ignores caches and build output: adding some changes nothing.
    shutil.copytree(SANDBOX_IMAGE / "agent", tmp_path / "agent", ignore=shutil.ignore_patterns("__pycache__"))

    def copy_hash() -> str:
        definition = json.loads(e2b.Template.to_json(template_module.build_template(tmp_path)))
        (copy,) = [s for s in definition["steps"] if s["type"] == "COPY"]
        return str(copy["filesHash"])

    clean = copy_hash()
    for junk in ("openhelm_agent/__pycache__/x.cpython-311.pyc", "build/lib/x.py", "x.egg-info/PKG-INFO"):
        (tmp_path / "agent" / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "agent" / junk).write_text("junk")
    assert copy_hash() == clean
    (tmp_path / "agent" / "openhelm_agent" / "new_module.py").write_text("x = 1\n")
    assert copy_hash() != clean  # real changes do invalidate the layer


def test_template_renders_as_a_dockerfile(template_module: ModuleType) -> None:
    dockerfile = e2b.Template.to_dockerfile(template_module.build_template())
    assert dockerfile.startswith("FROM python:3.11-slim-bookworm\n")
    assert "COPY agent /opt/openhelm-agent" in dockerfile
