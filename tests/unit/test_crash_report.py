"""A crash of the test process itself names the test that was running and the faulting stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], str]:
    (tmp_path / "test_inner.py").write_text(body)
    env = {**os.environ, "OPENHELM_CRASH_DIR": str(tmp_path / "crash")}
    inner = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:faulthandler"),
            *("-p", "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crash_report.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return inner, report.stderr


def test_a_segfault_names_the_test_and_its_stack(tmp_path: Path) -> None:
    inner, report = _run(
        tmp_path,
        "import faulthandler\n\ndef test_fine():\n    pass\n\ndef test_boom():\n    faulthandler._sigsegv()\n",
    )
    assert inner.returncode < 0 or inner.returncode == 139, inner.stdout + inner.stderr
    assert "test_inner.py::test_boom" in report
    assert "Segmentation fault" in report
    assert "in test_boom" in report


def test_an_ordinary_failure_prints_no_crash_report(tmp_path: Path) -> None:
    inner, report = _run(tmp_path, "def test_fails():\n    assert False\n")
    assert inner.returncode == 1
    assert report == ""
