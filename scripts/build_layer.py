"""Builds one of the Lambda layers for the functions' platform (arm64, CPython 3.12), whatever the host is.

    python3 scripts/build_layer.py lock              # requirements-layer*.txt -> requirements-layer*.lock
    python3 scripts/build_layer.py core    OUT_DIR   # shared/ + requirements-layer.lock
    python3 scripts/build_layer.py sandbox OUT_DIR   # requirements-layer-sandbox.lock
    python3 scripts/build_layer.py mcp     OUT_DIR   # requirements-layer-mcp.lock

`sam build` runs the builds through the Makefile (`build-SharedLayer`, `build-SandboxLayer`,
`build-McpLayer`); a layer
lands in OUT_DIR/python, which Lambda mounts as /opt/python. `make layer-lock` runs `lock`.

The .txt files name what we ask for; the .lock files pin every distribution a layer ships, resolved
for the target, so a build installs exactly what was reviewed (no resolution, `--no-deps`) and does
not change when a transitive dependency makes a release. Each lock records a hash of the .txt files it
was made from; a build (and tests/unit/test_packaging.py) refuses a lock older than its inputs.

Why uv and not `pip install --platform ... --python-version ...`: pip picks wheels for the target but
evaluates environment markers (`python_version`, `platform_machine`, `sys_platform`) against the
interpreter that runs it (pypa/pip#11664, open), so a build on a 3.11 x86_64 or macOS host silently
drops or adds conditional dependencies. `uv pip --python-platform --python-version` evaluates them for
the target. Only wheels are accepted: nothing is compiled for the host by accident.

An add-on layer never holds a distribution of the core layer (Lambda extracts both into /opt, the later
one over the earlier): the sandbox set, and the MCP set, is each resolved together with the core set,
constrained to the core's exact versions, and only what the core does not have goes into the add-on
layer. The two add-on layers may share distributions (anyio, idna, ...): no function attaches both
(tests/unit/test_packaging.py).

Bytecode: Lambda's /opt is read-only, so a layer without `__pycache__` compiles every module it
imports on each cold start. Only the runtime's own Python (3.12) writes bytecode the runtime accepts,
so it is compiled when a 3.12 interpreter is found (see runtime_python) and skipped, with a warning,
when none is. Nothing else in the build needs 3.12, nor does `sam build` itself: for functions without
a requirements.txt aws-lambda-builders only copies the code, and its Python validator, the one that
would insist on python3.12, runs only when pip does. `unchecked-hash` pycs are used without comparing
the source's mtime, which a zip round trip does not keep exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The functions' runtime and architecture (template.yaml Globals; tests/unit/test_packaging.py keeps
# them in step). Amazon Linux 2023, which python3.12 runs on, has glibc 2.34.
PYTHON_VERSION = "3.12"
PLATFORM = "aarch64-manylinux_2_34"

CORE_REQUIREMENTS = ROOT / "requirements-layer.txt"
SANDBOX_REQUIREMENTS = ROOT / "requirements-layer-sandbox.txt"
MCP_REQUIREMENTS = ROOT / "requirements-layer-mcp.txt"
# Each lock and the requirement files it is resolved from (the sandbox set depends on the core's).
LOCKS = {
    "core": (ROOT / "requirements-layer.lock", [CORE_REQUIREMENTS]),
    "sandbox": (ROOT / "requirements-layer-sandbox.lock", [CORE_REQUIREMENTS, SANDBOX_REQUIREMENTS]),
    "mcp": (ROOT / "requirements-layer-mcp.lock", [CORE_REQUIREMENTS, MCP_REQUIREMENTS]),
}
# Each add-on layer and its own requirements (resolved with the core's).
ADD_ONS = {"sandbox": SANDBOX_REQUIREMENTS, "mcp": MCP_REQUIREMENTS}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


class BuildError(RuntimeError):
    pass


def normalize(name: str) -> str:
    """PEP 503 name normalisation, so `Typing_Extensions` and `typing-extensions` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """`name==version` lines of a compiled requirements file (comments and blank lines ignored)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = _PIN.match(line)
        if m is None:
            raise BuildError(f"not an exact pin in a compiled requirements file: {line!r}")
        pins[normalize(m.group(1))] = m.group(2)
    return pins


def add_on_only(core: dict[str, str], union: dict[str, str], kind: str = "sandbox") -> dict[str, str]:
    """What an add-on layer adds to the core one. A core distribution resolved to another version
    in the union would leave two versions in /opt/python: refuse."""
    moved = {n: (v, union[n]) for n, v in core.items() if n in union and union[n] != v}
    missing = sorted(set(core) - set(union))
    if moved or missing:
        raise BuildError(f"the {kind} requirements change the core layer: moved {moved}, missing {missing}")
    return {n: v for n, v in union.items() if n not in core}


class Layers:
    def __init__(self, uv: str, platform: str = PLATFORM, python_version: str = PYTHON_VERSION) -> None:
        self.uv = uv
        self.target = ["--python-platform", platform, "--python-version", python_version, "--only-binary", ":all:"]
        self.python_version = python_version

    def _uv(self, *args: str) -> str:
        # --system-certs: the OS trust store, as pip and curl use it (a TLS-inspecting proxy's CA is
        # there; uv's bundled roots would refuse it).
        cmd = [self.uv, "pip", *args, "--system-certs"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        except OSError as exc:
            raise BuildError(f"cannot run uv ({exc}): `make layer-lock` or `sam build` installs it") from exc
        if proc.returncode != 0:
            raise BuildError(f"uv pip {args[0]} failed:\n{proc.stderr.strip()}")
        return proc.stdout

    def resolve(self, requirements: list[Path], constraints: dict[str, str] | None = None) -> dict[str, str]:
        with tempfile.TemporaryDirectory() as tmp:
            args = ["compile", "--quiet", "--no-header", "--no-annotate", *self.target]
            if constraints:
                cfile = Path(tmp, "constraints.txt")
                cfile.write_text("".join(f"{n}=={v}\n" for n, v in sorted(constraints.items())))
                args += ["--constraint", str(cfile)]
            out = Path(tmp, "out.txt")
            self._uv(*args, *map(str, requirements), "--output-file", str(out))
            return parse_pins(out.read_text())

    def install(self, pins: dict[str, str], site: Path) -> None:
        if not pins:
            return
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp, "pins.txt")
            req.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
            self._uv("install", "--quiet", "--no-deps", "--target", str(site), *self.target, "-r", str(req))
        # Console scripts (shebangs pointing at the build host's Python) are of no use in a layer.
        shutil.rmtree(site / "bin", ignore_errors=True)


def runtime_python(version: str) -> str | None:
    """An interpreter of exactly that version, run to make sure: $OPENHELM_LAYER_PYTHON, python<version>
    on PATH, or one pyenv installed but has not activated (its shim on PATH then points nowhere)."""
    candidates = [os.environ.get("OPENHELM_LAYER_PYTHON"), shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(map(str, Path(pyenv_root).glob(f"versions/{version}.*/bin/python{version}")), reverse=True)
    for exe in filter(None, candidates):
        try:
            probe = subprocess.run(
                [exe, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return exe
    return None


def compile_bytecode(site: Path, version: str) -> bool:
    exe = runtime_python(version)
    if exe is None:
        # stdout: `sam build` shows a make target's stdout as it runs, its stderr only when it fails.
        sys.stdout.write(
            f"build_layer: WARNING no Python {version} found (python{version} on PATH, pyenv, or "
            f"OPENHELM_LAYER_PYTHON): {site} ships without bytecode, so Lambda "
            "compiles every imported module on each cold start (see bench/layer_import.py for the cost)\n"
        )
        return False
    # -I: sam runs make in a copy of shared/, whose logging.py would shadow the standard library's.
    subprocess.run(
        [exe, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.stdout.write(f"build_layer: bytecode compiled with {exe}\n")
    return True


# Local-only code (the bubblewrap provider, its egress proxy and limits: OPENHELM_SANDBOX_PROVIDER=local,
# never in AWS) stays out of the layer; a test imports every handler from a copy without it.
LOCAL_ONLY = (Path("sandbox") / "local",)


def _ignore(shared: Path) -> Callable[[str, list[str]], set[str]]:
    # The developer's own __pycache__ (another Python's, stale) must not ship either.
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    local_only = {shared / p for p in LOCAL_ONLY}

    def ignore(directory: str, names: list[str]) -> set[str]:
        return set(caches(directory, names)) | {n for n in names if Path(directory) / n in local_only}

    return ignore


def copy_shared(site: Path) -> None:
    shutil.copytree(ROOT / "shared", site / "shared", ignore=_ignore(ROOT / "shared"))


def inputs_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _header(kind: str, files: list[Path]) -> str:
    names = " + ".join(p.name for p in files)
    return (
        f"# The {kind} layer's distributions for {PLATFORM} cp{PYTHON_VERSION}, resolved from {names}.\n"
        f"# Generated by `make layer-lock` (scripts/build_layer.py lock): do not edit.\n"
        f"# inputs-sha256: {inputs_digest(files)}\n"
    )


def read_lock(kind: str, locks: dict[str, tuple[Path, list[Path]]] = LOCKS) -> dict[str, str]:
    """A lock's pins, refused if its requirement files changed since it was made."""
    path, files = locks[kind]
    if not path.is_file():
        raise BuildError(f"{path.name} is missing: run `make layer-lock`")
    text = path.read_text()
    m = re.search(r"^# inputs-sha256: ([0-9a-f]{64})$", text, re.MULTILINE)
    if m is None or m.group(1) != inputs_digest(files):
        names = ", ".join(p.name for p in files)
        raise BuildError(f"{path.name} is older than {names}: run `make layer-lock`")
    return parse_pins(text)


def lock(layers: Layers) -> dict[str, dict[str, str]]:
    """Resolve every layer for the target and write their locks."""
    core = layers.resolve([CORE_REQUIREMENTS])
    pins = {"core": core}
    for kind, requirements in ADD_ONS.items():
        union = layers.resolve([CORE_REQUIREMENTS, requirements], constraints=core)
        pins[kind] = add_on_only(core, union, kind)
    for kind, (path, files) in LOCKS.items():
        body = "".join(f"{n}=={v}\n" for n, v in sorted(pins[kind].items()))
        path.write_text(_header(kind, files) + body)
    return pins


def build(kind: str, out: Path, layers: Layers, bytecode: bool = True) -> dict[str, str]:
    pins = read_lock(kind)
    site = out / "python"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    layers.install(pins, site)
    if kind == "core":
        copy_shared(site)
    if bytecode:
        compile_bytecode(site, layers.python_version)
    return pins


def default_uv() -> str:
    return os.environ.get("UV") or str(ROOT / ".tools" / "uv" / "bin" / "uv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kind", choices=["lock", "core", *ADD_ONS])
    parser.add_argument("out", type=Path, nargs="?", help="the layer's artifact dir (sam's ARTIFACTS_DIR)")
    parser.add_argument("--uv", default=default_uv())
    parser.add_argument("--platform", default=PLATFORM, help="uv --python-platform (benchmarks build for the host)")
    parser.add_argument("--python-version", default=PYTHON_VERSION)
    parser.add_argument("--no-bytecode", action="store_true")
    args = parser.parse_args(argv)
    layers = Layers(args.uv, args.platform, args.python_version)
    try:
        if args.kind == "lock":
            if (args.platform, args.python_version) != (PLATFORM, PYTHON_VERSION):
                parser.error("locks are for the functions' platform only")
            for kind, pins in lock(layers).items():
                sys.stdout.write(f"build_layer: {LOCKS[kind][0].name}: {len(pins)} distributions\n")
            return 0
        if args.out is None:
            parser.error("OUT_DIR is required")
        pins = build(args.kind, args.out, layers, not args.no_bytecode)
    except BuildError as exc:
        sys.stderr.write(f"build_layer: {exc}\n")
        return 1
    sys.stdout.write(
        f"build_layer: {args.kind} layer for {args.platform} cp{args.python_version}: {len(pins)} "
        f"distributions in {args.out / 'python'}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
