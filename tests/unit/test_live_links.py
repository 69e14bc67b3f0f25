"""Live-view links: what a forged, expired, misdirected or read-only link answers."""

from __future__ import annotations

import pytest

from shared.errors import Forbidden, NotFound
from shared.viewer import links, live_links

KEY = b"k" * 32
NOW = 1_800_000_000


def test_a_live_link_opens_its_session_until_it_expires() -> None:
    token = live_links.mint(KEY, "org_a", "ses_1", "view", NOW + 60)
    claims = live_links.verify(KEY, token, "ses_1", NOW)
    assert (claims.org_id, claims.target_id, claims.mode, claims.expires_at) == ("org_a", "ses_1", "view", NOW + 60)
    with pytest.raises(links.ViewerLinkExpired) as expired:
        live_links.verify(KEY, token, "ses_1", NOW + 61)
    assert expired.value.status == 410


def test_tampered_links_are_refused() -> None:
    token = live_links.mint(KEY, "org_a", "ses_1", "view", NOW + 60)
    forged = [
        live_links.mint(b"x" * 32, "org_a", "ses_1", "view", NOW + 60),
        token.replace(".view.", ".control."),  # upgrading a read-only link
        token.replace(str(NOW + 60), str(NOW + 10**6)),
        token[:-2],
        links.mint(KEY, "org_a", "ses_1", NOW + 60),  # a run viewer token is not a live token
        "ohlv_nonsense",
        None,
    ]
    for bad in forged:
        with pytest.raises(Forbidden):
            live_links.verify(KEY, bad, "ses_1", NOW)
    with pytest.raises(NotFound):
        live_links.verify(KEY, token, "ses_2", NOW)


def test_only_a_control_link_may_send_input() -> None:
    view = live_links.verify(KEY, live_links.mint(KEY, "org_a", "ses_1", "view", NOW + 60), "ses_1", NOW)
    control = live_links.verify(KEY, live_links.mint(KEY, "org_a", "ses_1", "control", NOW + 60), "ses_1", NOW)
    with pytest.raises(Forbidden):
        live_links.require_control(view)
    live_links.require_control(control)
