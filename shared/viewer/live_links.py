"""Signed live-view links: a running run's or an open session's live page, never an API key.

``ohlv_<org_id>.<target_id>.<mode>.<expiry>.<mac>`` where mac = base64url(HMAC-SHA256(key,
"live.v1.<org_id>.<target_id>.<mode>.<expiry>")), the same scheme as :mod:`shared.viewer.links` with
its own label, so a run viewer token never opens a live view (or the reverse). ``mode`` is ``view``
(read-only, the default) or ``control`` (clicks and keys on the picture become manual actions); it is
signed, so a viewer cannot upgrade a read-only link by editing it. Whether the run or session is still
live is checked by the caller on every request: a valid signature alone does not keep a link working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from shared.errors import Forbidden, NotFound
from shared.viewer.links import ViewerLinkExpired

PREFIX = "ohlv_"
_LABEL = "live.v1"
LiveMode = Literal["view", "control"]
_MODES = ("view", "control")


@dataclass(frozen=True)
class LiveClaims:
    org_id: str
    target_id: str
    mode: LiveMode
    expires_at: int


def _mac(key: bytes, org_id: str, target_id: str, mode: str, expires_at: str) -> str:
    body = f"{_LABEL}.{org_id}.{target_id}.{mode}.{expires_at}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode().rstrip("=")


def mint(key: bytes, org_id: str, target_id: str, mode: LiveMode, expires_at: int) -> str:
    if mode not in _MODES:
        raise ValueError(f"unknown live mode {mode!r}")
    return f"{PREFIX}{org_id}.{target_id}.{mode}.{expires_at}.{_mac(key, org_id, target_id, mode, str(expires_at))}"


def verify(key: bytes, token: str | None, target_id: str, now_s: int) -> LiveClaims:
    """The claims of a valid, unexpired live token for ``target_id`` (a run or session id). Raises
    Forbidden (missing, malformed or forged), ViewerLinkExpired (410) or NotFound (another target's)."""
    if not token or not token.startswith(PREFIX):
        raise Forbidden("this live link is missing its token or is malformed", code="invalid_live_link")
    parts = token[len(PREFIX) :].split(".")
    if len(parts) != 5 or parts[2] not in _MODES or not parts[3].isdigit() or len(parts[3]) > 12:
        raise Forbidden("this live link is malformed", code="invalid_live_link")
    org_id, token_target, mode, exp, mac = parts
    if not hmac.compare_digest(mac.encode(), _mac(key, org_id, token_target, mode, exp).encode()):
        raise Forbidden("this live link is not valid (its signature does not match)", code="invalid_live_link")
    if token_target != target_id:
        raise NotFound(f"no live view for {target_id}", code="live_view_not_found")
    if int(exp) < now_s:
        raise ViewerLinkExpired("this live link has expired; read the run or session again for a new live_url")
    return LiveClaims(org_id=org_id, target_id=token_target, mode=mode, expires_at=int(exp))  # type: ignore[arg-type]


def require_control(claims: LiveClaims) -> None:
    """Input on the picture needs a link minted with ``mode=control``; a read-only link gets 403."""
    if claims.mode != "control":
        raise Forbidden("this live link is read-only; ask for one with mode=control", code="live_link_read_only")
