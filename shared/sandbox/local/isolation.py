"""How a local provider isolates its runs: bubblewrap when it works here, else (when allowed) a plain
subprocess with a loud warning; and the uid/gid the runs get. Decided once, when the provider is made
(shared/sandbox/local/provider.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from shared.logging import get_logger
from shared.sandbox.base import SandboxError
from shared.sandbox.local.host import SANDBOX_GID, SANDBOX_UID, probe_bwrap, reachable_by
from shared.sandbox.local.record import Bind

log = get_logger("openhelm.sandbox.local")

Isolation = Literal["auto", "bwrap", "subprocess"]


@dataclass(frozen=True)
class IsolationChoice:
    isolation: Literal["bwrap", "subprocess"]
    sandbox_uid: int
    sandbox_gid: int


def choose_isolation(
    requested: Isolation,
    *,
    bwrap: str,
    setpriv: str | None,
    is_root: bool,
    host_ids: tuple[int, int],
    unshare: str | None,
    needs_staging: Callable[[], bool],
    ro_binds: Sequence[Bind],
) -> IsolationChoice:
    """bwrap if it works (``"auto"``), refused without it (``"bwrap"``: SandboxError), or the
    subprocess fallback (``"subprocess"``, or ``"auto"`` where bwrap does not work), which warns."""
    if requested == "subprocess":
        isolation: Literal["bwrap", "subprocess"] = "subprocess"
        reason = "isolation='subprocess' was requested"
    else:
        ok, reason = probe_bwrap(bwrap, setpriv if is_root else None)
        if ok and is_root and unshare is None and needs_staging():
            ok, reason = False, "some bind sources are unreachable by uid 65534 and 'unshare' is missing"
        if not ok and requested == "bwrap":
            raise SandboxError(f"bubblewrap sandbox unavailable: {reason}")
        isolation = "bwrap" if ok else "subprocess"

    uid, gid = (SANDBOX_UID, SANDBOX_GID) if is_root else host_ids
    if isolation == "subprocess":
        if is_root and not all(reachable_by(b.source, SANDBOX_UID, SANDBOX_GID) for b in ro_binds):
            uid, gid = 0, 0
        log.warning(
            "sandbox.isolation_degraded",
            message=(
                "!!! LOCAL SANDBOX WITHOUT ISOLATION: the agent runs as a plain subprocess with full "
                "access to this machine's network and to every file its user can read. Only the "
                "browser is pointed at the filtering proxy. Install bubblewrap and enable "
                "unprivileged user namespaces to isolate runs. !!!"
            ),
            reason=reason,
            runs_as_uid=uid,
        )
    return IsolationChoice(isolation, uid, gid)
