"""evals/setup_model.py: the llama-server options that depend on the machine."""

from __future__ import annotations

from pathlib import Path

from evals.setup_model import _no_amx


def test_weight_repacking_is_off_on_a_cpu_with_amx(tmp_path: Path) -> None:
    # This llama.cpp build crashes (SIGSEGV in ggml_backend_amx_mul_mat) at warm-up on an AMX CPU.
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n")
    plain = tmp_path / "plain"
    plain.write_text("flags\t\t: fpu avx2\n")

    assert _no_amx(amx) == ["--no-repack"]
    assert _no_amx(plain) == []
    assert _no_amx(tmp_path / "missing") == []
