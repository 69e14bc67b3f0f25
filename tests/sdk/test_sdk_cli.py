"""The one ``openhelm`` binary: the SDK's CLI serves run/runs and hands the checkout's developer
commands (dev, demo, admin) to devstack through the ``openhelm.cli`` entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPENHELM = Path(sys.executable).parent / "openhelm"


def test_the_binary_is_the_sdks_and_documents_its_exit_codes() -> None:
    out = subprocess.run([OPENHELM, "--help"], capture_output=True, text=True, check=True).stdout
    assert "{run,runs,sessions,files,profiles}" in out and "4    still running when --timeout ran out" in out
    assert "openhelm dev --help" in out  # the checkout's commands are installed beside it


def test_developer_commands_still_reach_devstack() -> None:
    done = subprocess.run([OPENHELM, "admin", "org", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: openhelm admin org" in done.stdout


def test_a_missing_key_is_a_usage_error_not_a_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([OPENHELM, "runs", "list"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "OPENHELM_API_KEY" in done.stderr and "Traceback" not in done.stderr
