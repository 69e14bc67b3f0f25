"""Layer benchmark: each function's cold import from the built layers (not the venv), the modules it
imports, and the bytes of the layers it is given.

    .venv/bin/python bench/layer_import.py [--n 7] [--out .aws-sam/bench-layers] [--function ApiFunction]

The layers Lambda gets are aarch64 and cannot be imported on an x86_64 host (no emulator here), so this
builds a host-platform copy of the same layout with the same script and pins (scripts/build_layer.py
with the host's --platform): the same files, only the native modules differ. Each import runs in a
fresh interpreter with `-S` (no site-packages: nothing from the venv) and
PYTHONPATH=<function dir>:<its layers>, as Lambda puts /var/task and /opt/python on sys.path, and
PYTHONDONTWRITEBYTECODE=1 since Lambda's /opt is read-only. The runtime's Python version (3.12) is used
when one is found (as scripts/build_layer.py finds it), else this interpreter's, and the output says so.

Figures: per function, median and min cold import (wall, and CPU time, which a loaded machine
disturbs less) with the shipped bytecode and without any (what a
build host without python3.12 ships), the third-party top-level modules imported, and for the sandbox
functions the extra cost of `import e2b` on their first sandbox call (the provider imports it lazily).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, line, median

sys.path.insert(0, str(ROOT / "scripts"))
import build_layer

from devstack.template import load_yaml

SNIPPET = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
import {module}
dt, cpu = time.perf_counter() - t, time.process_time() - c
std = set(sys.stdlib_module_names)
top = sorted(n for n in {{m.split('.')[0] for m in sys.modules}} - std - {{'{module}'}} if not n.startswith('_'))
count = len(sys.modules)
extra = None
if {e2b}:
    t = time.perf_counter()
    import shared.sandbox.e2b_provider, e2b
    extra = time.perf_counter() - t
print(json.dumps({{"import_s": dt, "cpu_s": cpu, "e2b_s": extra, "modules": top, "count": count}}))
"""


@dataclass(frozen=True)
class Function:
    code: Path
    module: str
    layers: tuple[str, ...]  # Globals first, as SAM merges them


def functions() -> dict[str, Function]:
    sam = load_yaml(ROOT / "template.yaml")
    global_layers = [ref["Ref"] for ref in sam["Globals"]["Function"].get("Layers", [])]
    out = {}
    for lid, res in sam["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            props = res["Properties"]
            # Layers of other accounts (the Lambda Web Adapter's ARN) hold no Python of ours: skipped.
            own = [ref["Ref"] for ref in props.get("Layers", []) if isinstance(ref, dict) and "Ref" in ref]
            module = props["Handler"].rsplit(".", 1)[0]
            if props["Handler"].endswith(".sh"):  # a start script (the Lambda Web Adapter): its `python3 -m`
                script = (ROOT / props["CodeUri"] / props["Handler"]).read_text()
                module = script.rsplit("python3 -m", 1)[1].split()[0]
            out[lid] = Function(ROOT / props["CodeUri"], module, (*global_layers, *own))
    return out


def host_platform() -> str:
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        platform.machine().lower()
    ]
    return f"{machine}-manylinux_2_34"


def build(out: Path, python_version: str, bytecode: bool) -> dict[str, Path]:
    layers = build_layer.Layers(build_layer.default_uv(), host_platform(), python_version)
    dirs = {}
    for logical_id, kind in (("SharedLayer", "core"), ("SandboxLayer", "sandbox"), ("McpLayer", "mcp")):
        target = out / ("pyc" if bytecode else "nopyc") / logical_id
        build_layer.build(kind, target, layers, bytecode=bytecode)
        dirs[logical_id] = target / "python"
    return dirs


def zipped_size(site: Path) -> int:
    with tempfile.TemporaryFile() as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(site.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(site.parent))
        return fh.tell()


def tree_size(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def cold_once(python: str, fn: Function, sites: list[Path], e2b: bool) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(map(str, [fn.code, *sites])),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    with tempfile.TemporaryDirectory() as cwd:  # nothing of the checkout on sys.path
        res = subprocess.run(
            [python, "-S", "-c", SNIPPET.format(module=fn.module, e2b=e2b)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if res.returncode != 0:
        raise SystemExit(f"{fn.module}: import from the layers failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def figure(name: str, wall: list[float], cpu: list[float]) -> None:
    # CPU time beside wall time: on a shared machine it is the steadier of the two.
    line(name, median(wall), "ms", f"min {min(wall):.0f}, CPU median {median(cpu):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=7, help="fresh interpreters per function and variant")
    parser.add_argument("--out", type=Path, default=ROOT / ".aws-sam" / "bench-layers")
    parser.add_argument("--function", action="append", help="only these functions (logical ids; repeatable)")
    args = parser.parse_args()

    python = build_layer.runtime_python(build_layer.PYTHON_VERSION)
    note = f"python {build_layer.PYTHON_VERSION} (the runtime's)"
    if python is None:
        python = sys.executable
        found = f"{sys.version_info[0]}.{sys.version_info[1]}"
        note = f"python {found}: no {build_layer.PYTHON_VERSION} found, not the runtime's"
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    sys.stdout.write(f"# host {platform.machine()}, layers built for {host_platform()} cp{version}; {note}\n")
    sys.stdout.write("# (Lambda's layers are aarch64 and cannot be imported here: same layout, same pins)\n")

    pyc, nopyc = build(args.out, version, True), build(args.out, version, False)
    for name, site in pyc.items():
        line(
            f"{name} size (cp{version.replace('.', '')} bytecode)",
            tree_size(site) / 1e6,
            "MB",
            f"zipped {zipped_size(site) / 1e6:.1f} MB",
        )
        line(
            f"{name} size (no bytecode)",
            tree_size(nopyc[name]) / 1e6,
            "MB",
            f"zipped {zipped_size(nopyc[name]) / 1e6:.1f} MB",
        )

    for lid, fn in functions().items():
        if args.function and lid not in args.function:
            continue
        sandbox = "SandboxLayer" in fn.layers
        # Its own layers, with and without bytecode; and for a core-only function, everything in one
        # layer as before the split (the sandbox packages importable, as they were).
        variants = {
            "pyc": ([pyc[name] for name in fn.layers], sandbox),
            "nopyc": ([nopyc[name] for name in fn.layers], False),
        }
        if not sandbox:
            variants["one layer"] = ([pyc["SharedLayer"], pyc["SandboxLayer"]], False)
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for _ in range(args.n):  # interleaved, so a change in the machine's load hits every variant alike
            for v, (sites, e2b) in variants.items():
                runs[v].append(cold_once(python, fn, sites, e2b))
        ms = {v: [r["import_s"] * 1000 for r in rs] for v, rs in runs.items()}
        cpu = {v: [r["cpu_s"] * 1000 for r in rs] for v, rs in runs.items()}
        size = sum(tree_size(pyc[name]) for name in fn.layers) / 1e6

        sys.stdout.write(f"{lid} ({'+'.join(fn.layers)}, {size:.0f} MB)\n")
        figure(f"  cold import (median of {args.n})", ms["pyc"], cpu["pyc"])
        figure("  cold import, no bytecode", ms["nopyc"], cpu["nopyc"])
        if "one layer" in ms:
            figure("  cold import, one layer as before the split", ms["one layer"], cpu["one layer"])
        if sandbox:
            e2b_ms = [r["e2b_s"] * 1000 for r in runs["pyc"]]
            line("  + import e2b on the first sandbox call", median(e2b_ms), "ms", f"min {min(e2b_ms):.0f}")
        first = runs["pyc"][0]
        sys.stdout.write(
            f"    imports {len(first['modules'])} third-party packages ({first['count']} modules): "
            f"{' '.join(first['modules'])}\n"
        )
        if "one layer" in runs:
            extra = sorted(set(runs["one layer"][0]["modules"]) - set(first["modules"]))
            sys.stdout.write(f"    as one layer it also imported: {' '.join(extra) or 'nothing more'}\n")


if __name__ == "__main__":
    main()
