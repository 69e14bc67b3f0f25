"""The E2B sandbox template, as code (e2b's ``Template`` builder): the image every run's agent runs in.

Python 3.11 on Debian bookworm (the official ``python:3.11-slim-bookworm`` image: ``python`` and
``pip`` on PATH, no PEP 668 lock), Debian's Chromium at ``/usr/bin/chromium`` with fonts, and the
agent package from ``agent/`` pip-installed system-wide. The agent is not the template's start
command: E2B runs a start command once at build time and snapshots it, before any run exists, so
the provider starts the agent under its supervisor per run (``shared/sandbox/e2b_provider.py``):
the supervisor reports the agent's exit to the control plane at once if it ends without its result.

Build with ``build_dev.py`` / ``build_prod.py``; inspect offline with ``Template.to_json`` or
``Template.to_dockerfile`` (no E2B call).
"""

from __future__ import annotations

import sys
from pathlib import Path

from e2b import BuildInfo, Template, TemplateClass, default_build_logger

HERE = Path(__file__).resolve().parent
BASE_IMAGE_TAG = "3.11-slim-bookworm"
AGENT_SRC = "agent"
AGENT_DIR = "/opt/openhelm-agent"
CHROMIUM = "/usr/bin/chromium"
# What the provider runs in the sandbox per run (docs/agent-contract.md).
AGENT_COMMAND = "python -m openhelm_agent.supervise -- python -m openhelm_agent"
APT_PACKAGES = [
    "chromium",
    "chromium-sandbox",
    "fonts-liberation",
    "fonts-dejavu-core",
    "fonts-noto-core",
    "fonts-noto-cjk",
    "fonts-noto-color-emoji",
    "fontconfig",
    "ca-certificates",
]
# Never shipped into the image from the agent folder.
IGNORE = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/build", "**/.pytest_cache", "**/.ruff_cache"]
CPU_COUNT = 2
MEMORY_MB = 2048


def build_template(context: Path = HERE) -> TemplateClass:
    """The template definition (pure: builds the instruction list, calls nothing). ``context`` is
    the folder holding ``agent/`` (this one)."""
    return (
        Template(file_context_path=str(context), file_ignore_patterns=IGNORE)
        .from_python_image(BASE_IMAGE_TAG)
        .apt_install(APT_PACKAGES, no_install_recommends=True)
        .run_cmd(["rm -rf /var/lib/apt/lists/*", "fc-cache -f", f"{CHROMIUM} --version"], user="root")
        .copy(AGENT_SRC, AGENT_DIR)
        .run_cmd(f"pip install --no-cache-dir {AGENT_DIR}", user="root")
        # Fail the build, not the first run, if the agent or its dependencies cannot be imported.
        .run_cmd('python -c "import openhelm_agent, playwright, openai, jsonschema, pydantic"')
        .set_workdir("/home/user")
        .set_user("user")
    )


def build(name: str, *, skip_cache: bool = False) -> BuildInfo:
    """Build the template on E2B as ``name`` (needs ``E2B_API_KEY``); returns the build info."""
    info = Template.build(
        build_template(),
        name,
        cpu_count=CPU_COUNT,
        memory_mb=MEMORY_MB,
        skip_cache=skip_cache,
        on_build_logs=default_build_logger(),
    )
    sys.stdout.write(f"built template {name}: template_id={info.template_id} build_id={info.build_id}\n")
    return info
