"""The Lambda layer leaves out the local-only sandbox code, and no function needs it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(ROOT.glob("functions/*/*_handler.py"))


def _build_layer():
    spec = importlib.util.spec_from_file_location("build_layer_under_test", ROOT / "scripts" / "build_layer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_handler_imports_from_a_layer_without_the_local_sandbox(tmp_path: Path) -> None:
    _build_layer().copy_shared(tmp_path)
    assert (tmp_path / "shared" / "sandbox" / "factory.py").is_file()
    assert not (tmp_path / "shared" / "sandbox" / "local").exists()
    assert not list(tmp_path.rglob("__pycache__"))
    assert len(HANDLERS) >= 7
    # A fresh interpreter that finds shared/ in the layer copy only (as Lambda finds /opt/python).
    code = f"""
import importlib.util, json, sys
venv, root = {str(Path(sys.prefix))!r}, {str(ROOT)!r}
sys.path[:] = [{str(tmp_path)!r}] + [p for p in sys.path if p and (p.startswith(venv) or not p.startswith(root))]
for path in {[str(h) for h in HANDLERS]!r}:
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[1][:-3], path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
import shared
print(json.dumps([shared.__file__, sorted(m for m in sys.modules if m.startswith("shared.sandbox"))]))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONNOUSERSITE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    shared_file, sandbox_modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert shared_file.startswith(str(tmp_path)), shared_file
    assert not [m for m in sandbox_modules if m.startswith("shared.sandbox.local")]
