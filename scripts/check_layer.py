"""Fails if a built Lambda layer (or a whole `sam build` dir) holds anything that cannot load on the
functions' runtime: arm64 Lambda, CPython 3.12 on Amazon Linux 2023 (glibc 2.34).

    python3 scripts/check_layer.py .aws-sam/build [MORE_DIRS...]

Checked, with the standard library only and no emulator:
- every ELF file (whatever its name) is a 64-bit little-endian aarch64 ELF (e_machine 183);
- every file named like a native module (.so, .so.N, .pyd, .dylib) is such an ELF (not Mach-O, PE...);
- extension-module names carry no other Python or platform (`cpython-311`, `x86_64-linux-gnu`, `darwin`);
- every installed wheel (`*.dist-info/WHEEL`) has a tag the runtime accepts;
- bytecode in `__pycache__` is CPython 3.12's (another Python's is dead weight: the build copied stale files).
"""

from __future__ import annotations

import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = (3, 12)
MACHINE = 183  # EM_AARCH64
MAX_GLIBC = (2, 34)
PLATFORM_TRIPLET = "aarch64-linux-gnu"
MAX_SHOWN = 40

_MACHINES = {3: "i386", 40: "arm (32-bit)", 62: "x86_64", 183: "aarch64", 243: "riscv"}
_NATIVE_NAME = re.compile(r"\.(so(\.\d+)*|pyd|dylib)$")
# foo.cpython-312-aarch64-linux-gnu.so, foo.cpython-311-darwin.so, foo.cp312-win_amd64.pyd
_EXT_TAG = re.compile(r"\.(cpython-(\d)(\d+)[a-z]*(?:-([A-Za-z0-9_-]+))?|cp(\d)(\d+)-[A-Za-z0-9_]+)\.(so|pyd)$")
_PYC = re.compile(r"\.(cpython|pypy)-?(\d)(\d+)[^.]*\.(opt-\d\.)?pyc$")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


@dataclass
class Report:
    files: int = 0
    native: int = 0
    pycs: int = 0
    size: int = 0
    problems: list[str] = field(default_factory=list)


def elf_machine(head: bytes) -> tuple[int, int, int] | None:
    """(EI_CLASS, EI_DATA, e_machine) of an ELF header, or None if it is not ELF."""
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    ei_class, ei_data = head[4], head[5]
    (machine,) = struct.unpack_from("<H" if ei_data == 1 else ">H", head, 18)
    return ei_class, ei_data, machine


def _format_of(head: bytes) -> str:
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "a Mach-O (macOS) binary"
    if head[:2] == b"MZ":
        return "a PE (Windows) binary"
    return "not an ELF file"


def check_native(rel: str, head: bytes) -> list[str]:
    problems = []
    elf = elf_machine(head)
    if elf is None:
        if _NATIVE_NAME.search(rel):
            problems.append(f"{rel}: {_format_of(head)}, not an aarch64 ELF shared object")
    else:
        ei_class, ei_data, machine = elf
        if (ei_class, ei_data, machine) != (2, 1, MACHINE):
            arch = _MACHINES.get(machine, f"e_machine {machine}")
            bits = {1: "32-bit", 2: "64-bit"}.get(ei_class, "?-bit")
            problems.append(f"{rel}: ELF for {arch} ({bits}), not aarch64 (e_machine {MACHINE})")
    m = _EXT_TAG.search(rel)
    if m is not None:
        if m.group(2) is not None:
            version, platform = (int(m.group(2)), int(m.group(3))), m.group(4)
            if version != PYTHON:
                problems.append(f"{rel}: built for CPython {version[0]}.{version[1]}, not {PYTHON[0]}.{PYTHON[1]}")
            if platform is not None and platform != PLATFORM_TRIPLET:
                problems.append(f"{rel}: built for {platform}, not {PLATFORM_TRIPLET}")
        else:
            problems.append(f"{rel}: a Windows extension module")
    return problems


def _platform_ok(plat: str) -> bool:
    if plat == "any":
        return True
    m = _MANYLINUX.match(plat)
    if m is not None:
        return m.group(3) == "aarch64" and (int(m.group(1)), int(m.group(2))) <= MAX_GLIBC
    legacy, _, arch = plat.partition("_")
    return legacy in _LEGACY_MANYLINUX and arch == "aarch64"


def _python_ok(py: str, abi: str) -> bool:
    """Interpreter and ABI tags CPython 3.12 accepts (as packaging.tags orders them for cp312)."""
    m = re.fullmatch(r"(cp|py)(\d)(\d*)", py)
    if m is None or int(m.group(2)) != PYTHON[0]:
        return False
    impl, minor = m.group(1), int(m.group(3)) if m.group(3) else None
    if abi == "none":  # py3, py312, py311-none-any...; cp312-none-* only for this very version
        return minor is None or minor <= PYTHON[1] if impl == "py" else minor == PYTHON[1]
    if abi == "abi3":  # the stable ABI of 3.x runs on every later 3.y
        return impl == "cp" and minor is not None and minor <= PYTHON[1]
    return impl == "cp" and minor == PYTHON[1] and abi == f"cp{PYTHON[0]}{PYTHON[1]}"


def tag_ok(tag: str) -> bool:
    """A wheel tag (compressed sets like py2.py3 allowed) that arm64 CPython 3.12 on glibc 2.34 accepts."""
    try:
        pys, abis, plats = tag.strip().split("-")
    except ValueError:
        return False
    return any(
        _python_ok(py, abi) and _platform_ok(plat)
        for py in pys.split(".")
        for abi in abis.split(".")
        for plat in plats.split(".")
    )


def check_wheel(rel: str, text: str) -> list[str]:
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    if not tags:
        return [f"{rel}: no Tag: line"]
    if not any(tag_ok(t) for t in tags):
        return [f"{rel}: wheel tags {', '.join(tags)} are not for arm64 CPython {PYTHON[0]}.{PYTHON[1]}"]
    return []


def check_pyc(rel: str) -> list[str]:
    m = _PYC.search(rel)
    if m is None or (m.group(1), (int(m.group(2)), int(m.group(3)))) != ("cpython", PYTHON):
        return [f"{rel}: bytecode of another Python (only cpython-{PYTHON[0]}{PYTHON[1]} loads on the runtime)"]
    return []


def check_tree(root: Path) -> Report:
    report = Report()
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = str(path.relative_to(root))
        report.files += 1
        report.size += path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(64)
        if elf_machine(head) is not None or _NATIVE_NAME.search(path.name):
            report.native += 1
            report.problems += check_native(rel, head)
        elif path.suffix == ".pyc":
            report.pycs += 1
            report.problems += check_pyc(rel)
        elif path.name == "WHEEL" and path.parent.name.endswith(".dist-info"):
            report.problems += check_wheel(rel, path.read_text(errors="replace"))
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stderr.write(__doc__)
        return 2
    failed = False
    for arg in args:
        root = Path(arg)
        if not root.is_dir():
            sys.stderr.write(f"check_layer: {root}: not a directory (run `sam build` first)\n")
            failed = True
            continue
        report = check_tree(root)
        for problem in report.problems[:MAX_SHOWN]:
            sys.stderr.write(f"check_layer: {root}/{problem}\n")
        if len(report.problems) > MAX_SHOWN:
            sys.stderr.write(f"check_layer: ... and {len(report.problems) - MAX_SHOWN} more\n")
        status = "FAIL" if report.problems else "ok"
        sys.stderr.write(
            f"check_layer: {status} {root}: {report.files} files, {report.size / 1e6:.1f} MB, "
            f"{report.native} native, {report.pycs} pyc, "
            f"{len(report.problems)} problems\n"
        )
        failed = failed or bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
