"""The live page (GET /v1/sessions/{id}/live, GET /v1/runs/{id}/live): the browser as it moves, its URL and last
steps; in control mode clicks, keys and the wheel on the picture become manual actions.

The page's script is a constant (its hash is in the CSP); what it needs is a JSON data block. It
polls the sandbox's frame endpoint directly (``/state`` for the frame number and URL, then ``/frame``
into the <img>), so frames never pass through the API; the API answers only the slow state poll
(status, steps) and the input of control mode, each with the link's token.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any
from urllib.parse import urlsplit

from shared.viewer.page import CSS

LIVE_CSS = (
    CSS
    + "#live-frame{display:block;width:100%;max-width:1280px;border:1px solid #ccc;background:#f4f4f4}"
    + ".control #live-frame{cursor:crosshair}#live-url{word-break:break-all}"
)

SCRIPT = r"""(() => {
  const data = JSON.parse(document.getElementById('live-data').textContent);
  const img = document.getElementById('live-frame');
  const urlEl = document.getElementById('live-url');
  const statusEl = document.getElementById('live-status');
  const stepsEl = document.getElementById('live-steps');
  const note = document.getElementById('live-note');
  const api = location.pathname;
  const q = '?token=' + encodeURIComponent(data.token);
  const frames = data.frames.url, ft = encodeURIComponent(data.frames.token);
  const control = data.mode === 'control';
  let seq = 0, width = 0, ended = false;
  img.dataset.seq = '0';
  function end(message) {
    ended = true;
    statusEl.textContent = 'ended';
    note.textContent = message || 'This live view has ended.';
  }
  async function pollFrames() {
    if (ended) return;
    try {
      const r = await fetch(frames + '/state?t=' + ft, {cache: 'no-store'});
      if (r.ok) {
        const s = await r.json();
        width = s.width || width;
        if (s.url) urlEl.textContent = s.url;
        if (s.seq > seq) {
          const n = s.seq;
          seq = n;
          const next = new Image();
          next.onload = () => { img.src = next.src; img.dataset.seq = String(n); };
          next.src = frames + '/frame?t=' + ft + '&s=' + n;
        }
      } else if (r.status === 403) {
        end('This live link has expired; read the session again for a new live_url.');
      }
    } catch (e) { /* the sandbox is going or gone: the state poll says which */ }
    setTimeout(pollFrames, 100);
  }
  function showSteps(steps) {
    stepsEl.replaceChildren(...steps.map((s) => {
      const li = document.createElement('li');
      li.textContent = '#' + s.index + ' ' + s.action + (s.by === 'person' ? ' (person)' : '') +
        (s.url ? ' - ' + s.url : '') + (s.error ? ' - error: ' + s.error : '');
      return li;
    }));
  }
  async function pollState() {
    if (ended) return;
    try {
      const r = await fetch(api + '/state' + q, {cache: 'no-store'});
      if (r.status === 410 || r.status === 404 || r.status === 403) {
        const body = await r.json().catch(() => ({}));
        end((body.error && body.error.message) || 'This live view has ended.');
        return;
      }
      if (r.ok) {
        const s = await r.json();
        statusEl.textContent = s.status;
        showSteps(s.steps || []);
      }
    } catch (e) { /* try again */ }
    setTimeout(pollState, 1500);
  }
  let queue = Promise.resolve();
  function send(path, body) {
    queue = queue.then(async () => {
      if (ended) return;
      try {
        const r = await fetch(api + path + q, {
          method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body || {})});
        const out = await r.json().catch(() => ({}));
        if (!r.ok) note.textContent = (out.error && out.error.message) || ('HTTP ' + r.status);
        else if (out.error) note.textContent = 'error: ' + out.error;
        else note.textContent = (body && body.action ? body.action : 'release') + ' done';
        if (out.status) statusEl.textContent = out.status;
      } catch (e) { note.textContent = 'not sent: ' + e; }
    });
  }
  function at(e) {
    const scale = (width || img.naturalWidth || img.clientWidth) / img.clientWidth;
    return {x: Math.round(e.offsetX * scale), y: Math.round(e.offsetY * scale)};
  }
  if (control) {
    img.addEventListener('click', (e) => send('/input', {action: 'click', ...at(e)}));
    let wheel = null;
    img.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (wheel) { wheel.dx += e.deltaX; wheel.dy += e.deltaY; return; }
      wheel = {action: 'scroll', dx: e.deltaX, dy: e.deltaY};
      setTimeout(() => { send('/input', wheel); wheel = null; }, 200);
    }, {passive: false});
    const keys = new Set(['Enter', 'Backspace', 'Tab', 'Escape', 'Delete', 'ArrowUp', 'ArrowDown',
      'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown']);
    document.addEventListener('keydown', (e) => {
      if (e.target && e.target.tagName === 'BUTTON') return;
      if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        send('/input', {action: 'type', text: e.key});
      } else if (keys.has(e.key)) {
        e.preventDefault();
        send('/input', {action: 'key_press', key: e.key});
      }
    });
    document.getElementById('live-release').addEventListener('click', () => send('/release'));
  }
  pollFrames();
  pollState();
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def security_headers(frame_url: str) -> dict[str, str]:
    """Only this page's script and style; images and fetches only from the sandbox's frame origin
    (and the API's own, for state and input); never framed, cached or sent on as a Referer."""
    frames = _origin(frame_url)
    csp = (
        f"default-src 'none'; script-src 'sha256-{_sha256(SCRIPT)}'; style-src 'sha256-{_sha256(LIVE_CSS)}'; "
        f"img-src {frames}; connect-src 'self' {frames}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def render(data: dict[str, Any], token: str) -> str:
    """The page for :func:`shared.viewer.live.page_data`'s answer and the link's token."""
    control = data["mode"] == "control"
    blob = json.dumps({"token": token, "mode": data["mode"], "frames": data["frames"]})
    blob = blob.replace("<", "\\u003c")  # never closes the data block
    steps = "".join(
        f"<li>#{int(s['index'])} {html.escape(str(s['action']))}{' (person)' if s.get('by') == 'person' else ''}</li>"
        for s in data.get("steps") or []
    )
    how = (
        "Control mode: a click, key or wheel on the picture is done in the browser as a person's action "
        "(the first one takes the session over; Release hands it back to the agent)."
        if control
        else "Read-only: this link shows the browser; ask for live_mode=control to act on it."
        if data.get("session_id")
        else "Read-only: this link shows the run's browser (acting on it is a sessions feature)."
    )
    release = '<p><button id="live-release" type="button">Release to the agent</button></p>' if control else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        f"<title>Live: {html.escape(data['title'])}</title><style>{LIVE_CSS}</style></head>"
        f'<body class="{"control" if control else "view"}"><main><section>'
        f"<h1>Live view of {html.escape(data['title'])}</h1>"
        f'<p>Status: <b id="live-status">{html.escape(str(data["status"]))}</b> · '
        f'Page: <code id="live-url">{html.escape(str(data.get("current_url") or ""))}</code></p>'
        f'<p class="mut">{html.escape(how)}</p>'
        '<img id="live-frame" alt="The browser" tabindex="0">'
        f'<p id="live-note" class="mut"></p>{release}'
        f'<h2>Last steps</h2><ol id="live-steps">{steps}</ol>'
        f'</section></main><script type="application/json" id="live-data">{blob}</script>'
        f"<script>{SCRIPT}</script></body></html>"
    )
