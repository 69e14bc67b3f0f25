"""Signed viewer links: the run page opens with a token in its URL, never an API key.

``ohvw_<org_id>.<run_id>.<expiry>.<mac>`` where mac = base64url(HMAC-SHA256(key, "viewer.v1.<org_id>.
<run_id>.<expiry>")) and key is :meth:`shared.config.Settings.viewer_key`. A token opens one run's page
until its expiry and nothing else; verifying it needs no lookup and compares in constant time.

Verification says which of three faults a link has, because the page answers each differently:
a forged or malformed token (403), an expired one (410, with a page that says how to get a new link),
a genuine token of another run (404, as for another org's run ids).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from shared.errors import Forbidden, NotFound, OpenHelmError

PREFIX = "ohvw_"
_LABEL = "viewer.v1"


class ViewerLinkExpired(OpenHelmError):
    status = 410
    type = "invalid_request_error"
    code = "viewer_link_expired"


@dataclass(frozen=True)
class ViewerClaims:
    org_id: str
    run_id: str
    expires_at: int


def _mac(key: bytes, org_id: str, run_id: str, expires_at: str) -> str:
    body = f"{_LABEL}.{org_id}.{run_id}.{expires_at}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode().rstrip("=")


def mint(key: bytes, org_id: str, run_id: str, expires_at: int) -> str:
    return f"{PREFIX}{org_id}.{run_id}.{expires_at}.{_mac(key, org_id, run_id, str(expires_at))}"


def verify(key: bytes, token: str | None, run_id: str, now_s: int) -> ViewerClaims:
    """The claims of a valid, unexpired token for ``run_id``. Raises Forbidden (missing, malformed or
    forged), ViewerLinkExpired (genuine but past its expiry) or NotFound (genuine, another run's)."""
    if not token or not token.startswith(PREFIX):
        raise Forbidden("this viewer link is missing its token or is malformed", code="invalid_viewer_link")
    parts = token[len(PREFIX) :].split(".")
    if len(parts) != 4 or not parts[2].isdigit() or len(parts[2]) > 12:
        raise Forbidden("this viewer link is malformed", code="invalid_viewer_link")
    org_id, token_run, exp, mac = parts
    if not hmac.compare_digest(mac.encode(), _mac(key, org_id, token_run, exp).encode()):
        raise Forbidden("this viewer link is not valid (its signature does not match)", code="invalid_viewer_link")
    if token_run != run_id:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if int(exp) < now_s:
        raise ViewerLinkExpired("this viewer link has expired; get a new one from GET /v1/runs/{id} (viewer_url)")
    return ViewerClaims(org_id=org_id, run_id=token_run, expires_at=int(exp))
