"""Staging, for a provider running as root: host paths the sandbox uid cannot reach (a Python under
``/root`` is the usual case) are bind-mounted, by root, inside a private mount namespace of the
launch (``unshare --mount``), onto staging paths bwrap can read. The mounts die with the sandbox;
the host mount table is never touched. Used by launch.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from shared.sandbox.base import SandboxStartError
from shared.sandbox.local.host import SANDBOX_GID, SANDBOX_UID, reachable_by
from shared.sandbox.local.record import Bind

# Run as root inside `unshare --mount --propagation private`: bind each unreachable source onto a
# staging path the sandbox uid can reach (read-only where asked), then exec the rest of argv.
_STAGE_SCRIPT = r"""
set -eu
stage=$1; shift
mkdir -p "$stage"; chmod 0711 "$stage"
while [ "$1" != "--" ]; do
  mode=$1; src=$2; dst=$3; shift 3
  if [ -d "$src" ]; then mkdir -p "$dst"; else : > "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
exec "$@"
"""


def unreachable(binds: Sequence[Bind]) -> list[Bind]:
    """The binds whose source the sandbox uid cannot reach."""
    return [b for b in binds if not reachable_by(b.source, SANDBOX_UID, SANDBOX_GID)]


def stage_root(base_dir: Path) -> Path:
    """Where staging mount points go: somewhere uid 65534 can traverse and nobody else can plant."""
    reachable = reachable_by(base_dir, SANDBOX_UID, SANDBOX_GID)
    root = base_dir / ".stage" if reachable else Path("/run/openhelm-stage")
    root.mkdir(mode=0o711, exist_ok=True)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise SandboxStartError(f"{root} must be a root-owned directory, not writable by others")
    return root


def plan_staging(binds: Sequence[Bind], stage_dir: Callable[[], Path]) -> list[tuple[Bind, str]]:
    """Each unreachable bind with its staging path under ``stage_dir()`` (called only if needed)."""
    todo = unreachable(binds)
    if not todo:
        return []
    where = stage_dir()
    return [(bind, str(where / str(i))) for i, bind in enumerate(todo)]


def staged_command(
    unshare: str | None, stage_dir: Path, staged: Sequence[tuple[Bind, str]], cmd: list[str]
) -> list[str]:
    """``cmd`` run after the staging mounts, in the launch's own private mount namespace."""
    stage_args = [str(stage_dir)]
    for bind, path in staged:
        stage_args += ["rw" if bind.writable else "ro", bind.source, path]
    return [
        unshare or "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _STAGE_SCRIPT,
        "stage",
        *stage_args,
        "--",
        *cmd,
    ]
