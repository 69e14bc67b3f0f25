"""The live view end to end in real Chromium: a session in the local stack (bubblewrap sandbox, its
Chromium screencast on the sandbox's one loopback port), its control-mode live_url opened in a second
Chromium: frames change while a direct action navigates, a click on the picture presses the page's
button as a person's action (the session is taken over), Release hands it back, and the page shows
the end once the session is terminated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import Stall, ToolCall
from tests.e2e.conftest import chromium_browser, finished, poll, serve_directory, wait_for_status
from tests.e2e.test_sessions_e2e import act, ready_session, session_in

pytestmark = pytest.mark.e2e

SITE = Path(__file__).resolve().parent / "live_site"
# Where live_site/button.html draws its button, in the session's 1280x800 viewport (CSS pixels).
BUTTON_CENTRE = (250, 160)


@pytest.fixture(scope="module")
def live_site() -> Iterator[str]:
    with serve_directory(SITE) as url:
        yield url


@pytest.fixture(scope="module")
def viewer() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def _seq(page: Any) -> int:
    return int(page.locator("#live-frame").get_attribute("data-seq") or 0)


def test_the_live_page_shows_frames_as_the_browser_moves_and_control_mode_clicks_it(
    stack: Any, api: Any, llm: Any, live_site: str, viewer: Any
) -> None:
    session = ready_session(api, start_url=f"{live_site}/button.html")
    sid = session["id"]
    assert session["live_url"] and "/live?token=ohlv_" in session["live_url"]
    control = api("GET", f"/v1/sessions/{sid}", params={"live_mode": "control"}).json()["live_url"]
    assert ".control." in control and api.api_key not in control

    page = viewer.new_page(viewport={"width": 1400, "height": 1000})
    try:
        assert page.goto(control).status == 200
        # (Polled from here: the page's CSP, rightly, refuses the string evals of wait_for_function.)
        poll(lambda: _seq(page) > 0 or None, "a first frame", 15)
        assert page.locator("#live-url").inner_text().endswith("/button.html")
        assert page.locator("#live-status").inner_text() == "ready"
        first_seq, first_shot = _seq(page), page.locator("#live-frame").screenshot()

        # A direct action navigates: new frames arrive, and the page's URL follows.
        assert act(api, sid, action="navigate", url=f"{live_site}/other.html")["ok"]
        poll(lambda: page.locator("#live-url").inner_text().endswith("/other.html") or None, "url follows", 15)
        poll(lambda: _seq(page) > first_seq or None, "a new frame", 15)
        assert page.locator("#live-frame").screenshot() != first_shot
        assert act(api, sid, action="navigate", url=f"{live_site}/button.html")["ok"]
        poll(lambda: page.locator("#live-url").inner_text().endswith("/button.html") or None, "back", 15)
        page.wait_for_timeout(300)  # the frame of the button page has been shown
        before_click = _seq(page)

        # Control mode: a click on the picture, where the button is drawn, presses it.
        width = page.eval_on_selector("#live-frame", "i => i.clientWidth")
        scale = width / 1280
        page.locator("#live-frame").click(position={"x": BUTTON_CENTRE[0] * scale, "y": BUTTON_CENTRE[1] * scale})
        session_in(api, sid, {"manual"}, timeout=20)  # the first input took the session over

        def person_click() -> dict | None:
            steps = api("GET", f"/v1/sessions/{sid}").json()["steps"]
            return next((s for s in steps if s["action"] == "click" and s["by"] == "person"), None)

        click = poll(person_click, "the click, a person's step", 20)
        assert click["args"] == {"x": BUTTON_CENTRE[0], "y": BUTTON_CENTRE[1]}
        poll(lambda: _seq(page) > before_click or None, "the pressed button's frame", 15)
        assert page.locator("#live-note").inner_text() == "click done"

        page.locator("#live-release").click()
        session_in(api, sid, {"ready"}, timeout=20)
        pressed = act(api, sid, action="evaluate", expression="document.getElementById('btn').textContent")
        assert pressed["result"]["value"] == "Pressed!"

        # The agent acts (a task): its run carries a live link while it runs, and the frames follow it.
        gate = Stall(60, then=ToolCall("navigate", {"url": f"{live_site}/other.html"}))
        llm.reset(gate, ToolCall("done", {"result": {"ok": True}, "confidence": 0.9, "summary": "navigated"}))
        task = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Open the other page"}).json()["task_id"]
        running = wait_for_status(api, task, {"running"})
        assert running["live_url"] and f"/v1/sessions/{sid}/live?token=ohlv_" in running["live_url"]
        assert ".view." in running["live_url"]  # a run's link is read-only
        before_agent = _seq(page)
        gate.released.set()
        poll(lambda: page.locator("#live-url").inner_text().endswith("/other.html") or None, "the agent's page", 20)
        poll(lambda: _seq(page) > before_agent or None, "frames while the agent acts", 15)
        done = finished(api, task)
        assert done["status"] == "succeeded" and done["live_url"] is None

        # The session ends: so does its live view.
        assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200
        poll(lambda: page.locator("#live-status").inner_text() == "ended" or None, "the page says it ended", 15)
        assert page.goto(control).status == 410
    finally:
        page.close()


def test_a_one_shot_runs_live_page_shows_the_agent_move_and_ends_with_the_run(
    stack: Any, api: Any, llm: Any, live_site: str, viewer: Any
) -> None:
    # The model holds the run at its first step until the page is open, then navigates, then holds
    # it again (still running) until the frames have followed, then ends it.
    first = Stall(60, then=ToolCall("navigate", {"url": f"{live_site}/other.html"}))
    second = Stall(60, then=ToolCall("done", {"result": {"ok": True}, "confidence": 0.9, "summary": "navigated"}))
    llm.reset(first, second)
    created = api("POST", "/v1/runs", json={"prompt": "Open the other page", "start_url": f"{live_site}/button.html"})
    assert created.status_code == 202, created.text
    run_id = created.json()["task_id"]
    running = wait_for_status(api, run_id, {"running"})
    live_url = running["live_url"]
    assert live_url and f"/v1/runs/{run_id}/live?token=ohlv_" in live_url and ".view." in live_url
    assert api.api_key not in live_url
    refused = api("GET", f"/v1/runs/{run_id}", params={"live_mode": "control"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "live_control_unsupported"

    page = viewer.new_page(viewport={"width": 1400, "height": 1000})
    try:
        assert page.goto(live_url).status == 200
        assert page.locator("#live-release").count() == 0  # read-only: nothing to hand back
        poll(lambda: page.locator("#live-status").inner_text() == "running" or None, "the run's status", 15)
        before = _seq(page)
        shot = page.locator("#live-frame").screenshot() if before else None
        first.released.set()
        poll(lambda: page.locator("#live-url").inner_text().endswith("/other.html") or None, "the agent's page", 30)
        poll(lambda: _seq(page) > before or None, "frames while the agent acts", 15)
        if shot is not None:
            assert page.locator("#live-frame").screenshot() != shot
        second.released.set()
        done = finished(api, run_id)
        assert done["status"] == "succeeded" and done["live_url"] is None
        poll(lambda: page.locator("#live-status").inner_text() == "ended" or None, "the page says it ended", 15)
        assert page.goto(live_url).status == 410
    finally:
        page.close()
