"""The host side of a local sandbox: what this machine offers (bubblewrap, setpriv, the Python
layout), who may read what, and the fixed layout every sandbox gets."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

SANDBOX_UID = 65534
SANDBOX_GID = 65534
HOSTNAME = "openhelm-sandbox"
INNER_CONTROL_PORT = 8787
INNER_LLM_PORT = 8788
INNER_PROXY_PORT = 3128
IN_SANDBOX = "/run/openhelm"
OUT_IN_SANDBOX = "/out"
BRIDGE_SOURCE = Path(__file__).with_name("bridge.py")
REPO_ROOT = Path(__file__).resolve().parents[3]
# The sandbox's start command wraps the agent in the image's supervisor (stdlib only, copied in).
SUPERVISOR_SOURCE = REPO_ROOT / "sandbox_image" / "agent" / "openhelm_agent" / "supervise.py"
EXIT_REPORT_TIMEOUT_S = 5.0
# The exit report goes straight to the control plane, whatever proxy the host environment names.
DIRECT_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Mounted read-only at the same path (bwrap --ro-bind-try); host symlinks are recreated as links.
SYSTEM_DIRS = ("/usr",)
SYSTEM_LINKS_OR_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_PATHS = (
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/chromium",
    "/etc/chromium.d",
    "/etc/fonts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/services",
    "/etc/ssl",
    "/etc/timezone",
    "/etc/xdg",
    "/var/cache/fontconfig",
)
SANDBOX_ID_PATTERN = re.compile(r"^lsb_[0-9a-f]{24}$")

_probe_lock = threading.Lock()
_probe_cache: dict[tuple[str, ...], tuple[bool, str]] = {}


def setpriv_prefix(setpriv: str) -> list[str]:
    return [
        setpriv,
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_GID}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]


def launch_prefix(setpriv: str | None, drop_to_sandbox_uid: bool) -> list[str]:
    """setpriv: drop to the sandbox uid (as root) and die with the provider (PR_SET_PDEATHSIG)."""
    if setpriv is None:
        return []
    prefix = setpriv_prefix(setpriv) if drop_to_sandbox_uid else [setpriv]
    return [*prefix, "--pdeathsig", "SIGKILL"]


def system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        args += ["--ro-bind", path, path]
    for path in SYSTEM_LINKS_OR_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def probe_bwrap(bwrap: str = "bwrap", setpriv: str | None = None) -> tuple[bool, str]:
    """Can ``bwrap`` create a sandbox here (as the sandbox uid)? Probed once per process and key."""
    key = (bwrap, setpriv or "")
    with _probe_lock:
        if key in _probe_cache:
            return _probe_cache[key]
        resolved = shutil.which(bwrap)
        if resolved is None:
            result = (False, f"{bwrap} not found (install the 'bubblewrap' package)")
        else:
            cmd = [*(setpriv_prefix(setpriv) if setpriv else []), resolved, "--unshare-all"]
            cmd += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
            cmd += [*system_args(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
            cmd += ["--remount-ro", "/", "--", "/usr/bin/true"]
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
                detail = done.stderr.decode(errors="replace").strip()
                result = (done.returncode == 0, detail or f"exit code {done.returncode}")
            except (OSError, subprocess.SubprocessError) as exc:
                result = (False, f"{exc.__class__.__name__}: {exc}")
            if result[0]:
                result = (True, "ok")
        _probe_cache[key] = result
        return result


def bwrap_has_option(bwrap: str, option: str) -> bool:
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return option.encode() in done.stdout + done.stderr


def reachable_by(path: str | os.PathLike[str], uid: int, gid: int) -> bool:
    """Can ``uid``/``gid`` (no supplementary groups) traverse to and read ``path`` (its real path)?"""
    real = Path(os.path.realpath(path))
    chain = [*reversed(real.parents), real]
    for index, item in enumerate(chain):
        try:
            st = os.stat(item)
        except OSError:
            return False
        last = index == len(chain) - 1
        need = (4 | (1 if stat.S_ISDIR(st.st_mode) else 0)) if last else 1
        if st.st_uid == uid:
            bits = (st.st_mode >> 6) & 7
        elif st.st_gid == gid:
            bits = (st.st_mode >> 3) & 7
        else:
            bits = st.st_mode & 7
        if uid != 0 and bits & need != need:
            return False
    return True


def python_layout(python: str) -> list[str]:
    """Prefixes (venv and base installation) of ``python``, as that interpreter reports them."""
    code = "import json,sys;print(json.dumps([sys.prefix,sys.base_prefix,sys.exec_prefix,sys.base_exec_prefix]))"
    try:
        done = subprocess.run([python, "-I", "-c", code], capture_output=True, timeout=30, check=True)
        prefixes = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ValueError(f"cannot run python_executable {python!r}: {exc}") from exc
    return [str(p) for p in dict.fromkeys(prefixes)]


def is_under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def data_fd(content: bytes) -> int:
    fd = os.memfd_create("openhelm-sandbox")
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def default_base_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/tmp/openhelm-sandboxes")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "openhelm-sandboxes"
    return Path(f"/tmp/openhelm-sandboxes-{os.geteuid()}")
