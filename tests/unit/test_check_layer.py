"""scripts/check_layer.py on small synthetic layers: what Lambda (arm64, CPython 3.12) cannot load
makes it fail, naming the file; what it can load passes."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "check_layer", Path(__file__).resolve().parents[2] / "scripts" / "check_layer.py"
)
assert _SPEC is not None and _SPEC.loader is not None
check_layer = importlib.util.module_from_spec(_SPEC)
sys.modules["check_layer"] = check_layer  # dataclasses look their module up there
_SPEC.loader.exec_module(check_layer)

AARCH64, X86_64, ARM32 = 183, 62, 40


def elf(machine: int, *, bits64: bool = True, little: bool = True) -> bytes:
    """The first 64 bytes of an ELF shared object (e_ident, e_type=ET_DYN, e_machine), zero-padded."""
    ident = b"\x7fELF" + bytes([2 if bits64 else 1, 1 if little else 2, 1]) + bytes(9)
    return ident + struct.pack("<HH" if little else ">HH", 3, machine) + bytes(44)


def layer(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    root = tmp_path / "layer"
    for rel, content in files.items():
        path = root / "python" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def run(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = check_layer.main([str(root)])
    return code, capsys.readouterr().err


def test_an_arm64_cp312_layer_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = layer(
        tmp_path,
        {
            "pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so": elf(AARCH64),
            "pyqwest/_pyqwest.abi3.so": elf(AARCH64),
            "pkg.libs/libssl-1a2b3c.so.3": elf(AARCH64),
            "pkg/__pycache__/mod.cpython-312.pyc": b"\xcb\x0d\x0d\x0a" + bytes(12),
            "pkg/mod.py": "x = 1\n",
            "pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nTag: cp312-cp312-manylinux_2_17_aarch64\n"
            "Tag: cp312-cp312-manylinux2014_aarch64\n",
            "pure-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n",
            "stable-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nTag: cp39-abi3-manylinux_2_28_aarch64\n",
        },
    )
    code, err = run(root, capsys)
    assert code == 0, err
    assert "ok" in err and "3 native" in err and "0 problems" in err


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        ("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so", elf(X86_64), "ELF for x86_64"),
        ("rpds/rpds.cpython-312-aarch64-linux-gnu.so", elf(ARM32, bits64=False), "arm (32-bit)"),
        ("rpds/rpds.cpython-312-aarch64-linux-gnu.so", elf(AARCH64, little=False), "not aarch64"),
        # A file whose name says nothing is still checked by its header.
        ("pkg/bin/helper", elf(X86_64), "ELF for x86_64"),
        ("pkg/_speedups.abi3.so", b"\xcf\xfa\xed\xfe" + bytes(60), "Mach-O"),
        ("pkg/_speedups.cp312-win_amd64.pyd", b"MZ" + bytes(62), "PE (Windows)"),
        ("rpds/rpds.cpython-311-aarch64-linux-gnu.so", elf(AARCH64), "built for CPython 3.11"),
        ("rpds/rpds.cpython-312-x86_64-linux-gnu.so", elf(AARCH64), "built for x86_64-linux-gnu"),
        ("rpds/rpds.cpython-312-darwin.so", elf(AARCH64), "built for darwin"),
        ("pkg/__pycache__/mod.cpython-311.pyc", bytes(16), "bytecode of another Python"),
        ("pkg-1.0.dist-info/WHEEL", "Tag: cp312-cp312-manylinux_2_17_x86_64\n", "not for arm64 CPython 3.12"),
        ("pkg-1.0.dist-info/WHEEL", "Tag: cp311-cp311-manylinux_2_17_aarch64\n", "not for arm64 CPython 3.12"),
        ("pkg-1.0.dist-info/WHEEL", "Tag: cp313-abi3-manylinux_2_17_aarch64\n", "not for arm64 CPython 3.12"),
        # Amazon Linux 2023 has glibc 2.34: a wheel that needs 2.39 would fail to load its symbols.
        ("pkg-1.0.dist-info/WHEEL", "Tag: cp312-cp312-manylinux_2_39_aarch64\n", "not for arm64 CPython 3.12"),
        ("pkg-1.0.dist-info/WHEEL", "Tag: cp312-cp312-macosx_11_0_arm64\n", "not for arm64 CPython 3.12"),
    ],
)
def test_what_lambda_cannot_load_fails_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rel: str, content: bytes | str, expected: str
) -> None:
    root = layer(tmp_path, {"ok/_ok.cpython-312-aarch64-linux-gnu.so": elf(AARCH64), rel: content})
    code, err = run(root, capsys)
    assert code == 1
    problems = [line for line in err.splitlines() if expected in line]
    assert problems and rel in problems[0], err
    assert "_ok.cpython-312" not in err


def test_a_missing_build_dir_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(tmp_path / "nothing-built", capsys)
    assert code == 1 and "not a directory" in err


def test_every_problem_counts_though_only_the_first_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files: dict[str, bytes | str] = {f"m{i}/__pycache__/x.cpython-311.pyc": bytes(16) for i in range(60)}
    code, err = run(layer(tmp_path, files), capsys)
    assert code == 1
    assert "60 problems" in err and f"and {60 - check_layer.MAX_SHOWN} more" in err
