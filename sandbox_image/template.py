"""The E2B sandbox template, as code (e2b's ``Template`` builder): the image every run's agent runs in.

Python 3.11 on Debian bookworm (the official ``python:3.11-slim-bookworm`` image: ``python`` and
``pip`` on PATH, no PEP 668 lock), Debian's Chromium at ``/usr/bin/chromium`` with fonts, and the
agent package from ``agent/`` pip-installed system-wide.

Warm start: the template's start command is the agent (under its supervisor) in warm mode
(``openhelm_agent/warm.py``): it imports the runtime, launches Chromium, touches the ready file and
waits for a run. E2B runs the start command once at build time, waits for the ready check and
snapshots the running sandbox, so every sandbox created from the template resumes with Chromium
already up; the provider hands the run in by writing it into ``/home/user/handout``
(``shared/sandbox/e2b_provider.py``). One sandbox per run, as before: nothing is shared between
runs but the snapshot they start from, which holds no run's data. ``build_template(warm=False)``
builds the template without it (the provider then starts the agent per run).

Build with ``build_dev.py`` / ``build_prod.py``; inspect offline with ``Template.to_json`` or
``Template.to_dockerfile`` (no E2B call).
"""

from __future__ import annotations

import sys
from pathlib import Path

from e2b import BuildInfo, Template, TemplateClass, default_build_logger, wait_for_file

HERE = Path(__file__).resolve().parent
BASE_IMAGE_TAG = "3.11-slim-bookworm"
AGENT_SRC = "agent"
AGENT_DIR = "/opt/openhelm-agent"
CHROMIUM = "/usr/bin/chromium"
# What the provider runs in the sandbox per run (docs/agent-contract.md).
AGENT_COMMAND = "python -m openhelm_agent.supervise -- python -m openhelm_agent"
HOME_DIR = "/home/user"
HANDOUT_DIR = f"{HOME_DIR}/handout"
WARM_READY_FILE = f"{HOME_DIR}/.openhelm-warm-ready"
# The start command E2B snapshots: the same agent under its supervisor, waiting for its run.
WARM_START_COMMAND = (
    f"mkdir -p {HANDOUT_DIR} {HOME_DIR}/out && "
    f"OPENHELM_HANDOUT={HANDOUT_DIR} OPENHELM_OUT_DIR={HOME_DIR}/out OPENHELM_CHROMIUM={CHROMIUM} "
    f"OPENHELM_WARM_READY_FILE={WARM_READY_FILE} {AGENT_COMMAND}"
)
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


def build_template(context: Path = HERE, *, warm: bool = True) -> TemplateClass:
    """The template definition (pure: builds the instruction list, calls nothing). ``context`` is
    the folder holding ``agent/`` (this one); ``warm``: with the warm start command."""
    template = (
        Template(file_context_path=str(context), file_ignore_patterns=IGNORE)
        .from_python_image(BASE_IMAGE_TAG)
        .apt_install(APT_PACKAGES, no_install_recommends=True)
        .run_cmd(["rm -rf /var/lib/apt/lists/*", "fc-cache -f", f"{CHROMIUM} --version"], user="root")
        .copy(AGENT_SRC, AGENT_DIR)
        .run_cmd(f"pip install --no-cache-dir {AGENT_DIR}", user="root")
        # Fail the build, not the first run, if the agent or its dependencies cannot be imported.
        .run_cmd('python -c "import openhelm_agent, playwright, openai, jsonschema, pydantic"')
        .set_workdir(HOME_DIR)
        .set_user("user")
    )
    if warm:
        return template.set_start_cmd(WARM_START_COMMAND, wait_for_file(WARM_READY_FILE))  # type: ignore[return-value]
    return template


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
