"""Manual control of a session end to end, in real Chromium with the model played by the scripted
server: a person takes over while a task runs, clicks and double-clicks at coordinates, types into
the focused field (once human-like), presses Enter and scrolls by a wheel delta; each is a step with a
screenshot, marked as done by a person, and what they typed is kept nowhere (its length only). On
release the agent's next model call carries a note of what the person did and a fresh look at the
page as they left it, and the task finishes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import Stall, ToolCall
from tests.e2e.conftest import finished, poll
from tests.e2e.test_secrets_e2e import _everything_kept
from tests.e2e.test_sessions_e2e import act, ready_session, session_in, shop  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

# Typed in two pieces; the page checks it against its reverse, so it is in no page either.
PASSPHRASE = ("open ", "sesame")
# Where the page's controls are (absolute positions in manual.html), as a person sees them.
BUTTON, TILE, FIELD = (120, 40), (120, 130), (120, 215)


def _control(api: Any, sid: str, action: str) -> dict:
    r = api("POST", f"/v1/sessions/{sid}/control", json={"action": action})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_person_takes_over_acts_by_coordinates_and_keys_and_the_agent_goes_on_from_there(
    stack,
    api,
    llm,
    shop,  # noqa: F811
    capfd,
) -> None:
    session = ready_session(api, start_url=shop + "/manual.html")
    sid = session["id"]
    seen: list[dict] = []

    def finish(body: dict) -> ToolCall:
        seen.append(body)
        return ToolCall("done", {"result": {"name": "panel"}, "confidence": 0.8, "summary": "went on"})

    # The model thinks until the person has control; what it then chose is not executed.
    gate = Stall(60, then=ToolCall("click", {"ref": "1"}))
    llm.reset(gate, finish)
    task_id = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Open the panel"}).json()["task_id"]
    poll(lambda: llm.chat_requests, "the agent asked the model", 30)

    taken = _control(api, sid, "take_over")
    assert taken["status"] == "manual"
    gate.released.set()  # the agent stops between steps; only its pause loop serves the person now
    poll(gate.answered.is_set, "the stalled answer went out", 10)

    clicked = act(api, sid, action="click", x=BUTTON[0], y=BUTTON[1])
    assert clicked["ok"] and clicked["step"]["title"] == "Panel open", clicked
    double = act(api, sid, action="double_click", x=TILE[0], y=TILE[1])
    assert double["ok"] and double["step"]["title"] == "Tile double-clicked", double
    focused = act(api, sid, action="click", x=FIELD[0], y=FIELD[1])
    assert focused["step"]["title"] == "Passphrase focused", focused
    typed = act(api, sid, action="type", text=PASSPHRASE[0])
    slow = act(api, sid, action="type", text=PASSPHRASE[1], human_like=True)
    assert typed["ok"] and slow["ok"], (typed, slow)
    assert typed["step"]["args"] == {"text_length": 5, "submit": False, "human_like": False}
    assert slow["step"]["args"] == {"text_length": 6, "submit": False, "human_like": True}
    entered = act(api, sid, action="key_press", key="Enter")
    assert entered["ok"] and entered["step"]["title"] == "Passphrase accepted", entered
    scrolled = act(api, sid, action="scroll", dx=200, dy=600)
    assert scrolled["ok"] and scrolled["step"]["title"].startswith("Scrolled to"), scrolled
    # Anything but a person's action waits for the release.
    refused = api("POST", f"/v1/sessions/{sid}/actions", json={"action": "evaluate", "expression": "1"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_allowed_while_manual"
    assert len(llm.chat_requests) == 1  # the task took no step meanwhile

    released = _control(api, sid, "release")
    assert released["status"] == "busy"
    run = finished(api, task_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["result"] == {"name": "panel"}

    # The agent's next step: told what the person did (never what they typed), then the page anew.
    (body,) = seen
    texts = [m["content"] for m in body["messages"] if isinstance(m.get("content"), str)]
    note = next(t for t in texts if t.startswith("A person took control of the browser"))
    assert (
        "did: click at (120,40); double-click at (120,130); click at (120,215); typed 5 characters; "
        "typed 6 characters; pressed Enter; scrolled by (200,600)." in note
    ), note
    after = texts[texts.index(note) + 1 :]
    assert any("Passphrase accepted" in t and "Scrolled to 200,600" in t for t in after), after
    # The click chosen before the take-over was not executed: the browser is as the person left it.
    assert [s["action"] for s in run["steps"]] == ["done"], run["steps"]

    steps = session_in(api, sid, {"ready"})["steps"]
    by_person = [s for s in steps if s.get("by") == "person"]
    assert [s["action"] for s in by_person] == [
        "click",
        "double_click",
        "click",
        "type",
        "type",
        "key_press",
        "scroll",
    ]
    assert all(s["screenshot_url"] and not s["error"] for s in by_person), by_person

    # What was typed is nowhere: not in the records, buckets or executions, not in the session's
    # mailbox or the sandbox's logs, not in what the model was sent, not in our own logs.
    from shared.services import get_services

    svc = get_services()
    sandbox_id = svc.sessions.get(api.org_id, sid)["sandbox_id"]
    secret = PASSPHRASE[1].encode()
    kept = _everything_kept(stack, task_id)
    assert [where for where, data in kept.items() if secret in data] == []
    mailbox = svc.sandbox.out_path(sandbox_id).parent / "mailbox"  # type: ignore[attr-defined]
    assert [p.name for p in mailbox.glob("*.json") if secret in p.read_bytes()] == []
    for path in svc.sandbox.log_paths(sandbox_id):  # type: ignore[attr-defined]
        assert secret not in Path(path).read_bytes()
    out = svc.sandbox.out_path(sandbox_id)  # type: ignore[attr-defined]
    assert [str(p) for p in out.rglob("*.json") if secret in p.read_bytes()] == []
    assert all(PASSPHRASE[1] not in json.dumps(r.body) for r in llm.chat_requests)
    assert PASSPHRASE[1] not in "".join(capfd.readouterr())
    assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200
