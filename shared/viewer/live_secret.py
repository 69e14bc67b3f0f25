"""The live view's secrets (shared/viewer/live.py): the per-sandbox secret the agent's frame endpoint
keys on, derived from the viewer key and the session id (never stored, never shown), and the frame
tokens minted from it (``<expiry>.<mac>``; openhelm_agent/live.py checks them). Apart from live.py so
that the session's start can give its sandbox the secret without importing manual control."""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.services import Services

_FRAME_LABEL = "frames.v1"


def viewer_key(svc: Services) -> bytes | None:
    try:
        return svc.settings.viewer_key()
    except RuntimeError:  # a deployment without the secret to derive it from: no live views
        return None


def sandbox_secret(svc: Services, session_id: str) -> str:
    """The session sandbox's live-view secret (its frame endpoint's key); empty without a viewer key."""
    key = viewer_key(svc)
    if key is None:
        return ""
    return hmac.new(key, f"live.sandbox.v1.{session_id}".encode(), hashlib.sha256).hexdigest()


def frame_token(secret: str, expires_at: int) -> str:
    """What the page shows the frame endpoint: ``<expiry>.<mac>`` (openhelm_agent/live.py checks it)."""
    digest = hmac.new(secret.encode(), f"{_FRAME_LABEL}.{expires_at}".encode(), hashlib.sha256).digest()
    return f"{expires_at}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
