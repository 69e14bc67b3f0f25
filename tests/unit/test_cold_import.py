"""Cold start of the API-Gateway-fronted functions: importing a handler loads none of the costly
packages that only some requests need (each is imported where it is used; bench/layer_import.py
measures the import itself). Read from a fresh interpreter's sys.modules, nothing is timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Package -> why a request path that needs it imports it itself.
DEFERRED = {
    "jsonschema": "output_schema checks, answers with a schema and tool definitions only (~60 ms)",
    "boto3": "AWS clients are made on first use (shared/aws/clients.py)",
    "openai": "model calls happen in the agent, not the API",
    "e2b": "the sandbox provider imports it on the first sandbox call",
    "mcp": "the MCP SDK only for /mcp requests",
    "playwright": "the browser lives in the sandbox",
}


@pytest.mark.parametrize("function", ["api", "sessions"])
def test_importing_an_api_handler_leaves_the_costly_packages_unloaded(function: str) -> None:
    code = (
        "import json, sys\n"
        f"import {function}_handler\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "functions" / function), "PYTHONNOUSERSITE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert sorted(loaded & DEFERRED.keys()) == []
