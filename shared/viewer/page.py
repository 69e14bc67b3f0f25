"""The run page: one self-contained HTML document (inline CSS, no script, no external fetch but the
screenshots), rendered on the server from the run envelope.

The same renderer serves the API's signed viewer link (screenshots by presigned S3 URL) and a trace
bundle opened offline (screenshots by path inside the bundle). Every value from the run (titles,
URLs, results: all of it text a web page chose) goes through ``html.escape``; the page carries a
Content-Security-Policy that allows no script at all, so a hostile page title cannot run in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

CSS = """
:root{--fg:#1d2330;--mut:#5d6675;--bd:#d9dee7;--bg:#f6f7f9;--ok:#17803d;--bad:#b42318;--warn:#a15c07}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
color:var(--fg);background:var(--bg)}main{max-width:1100px;margin:0 auto;padding:20px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid var(--bd);border-radius:8px;padding:14px 16px;margin:0 0 14px}
.mut{color:var(--mut)}.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;
font-size:12px;color:#fff;background:var(--mut);vertical-align:middle}
.succeeded{background:var(--ok)}.failed{background:var(--bad)}.cancelled{background:var(--warn)}
pre{background:var(--bg);border:1px solid var(--bd);border-radius:6px;padding:8px;margin:6px 0;
overflow:auto;max-height:360px;white-space:pre-wrap;word-break:break-word;font-size:12.5px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}dt{color:var(--mut)}dd{margin:0}
meter{width:260px;max-width:100%}
.step{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,420px);gap:14px;border-top:1px solid var(--bd);
padding:12px 0}.step:first-of-type{border-top:0}.step img{width:100%;border:1px solid var(--bd);border-radius:4px}
.act{font-weight:600}.err{color:var(--bad)}a{color:#1f5fbf;word-break:break-all}
table{border-collapse:collapse;width:100%;font-size:12.5px}td,th{border-top:1px solid var(--bd);padding:4px 6px;
text-align:left;vertical-align:top}td.u{word-break:break-all}.blocked{color:var(--bad);font-weight:600}
@media(max-width:760px){.step{grid-template-columns:1fr}}
"""


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _json(value: Any) -> str:
    return escape(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _time(value: Any) -> str:
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    except ValueError:
        return _text(value)


def _link(url: Any) -> str:
    text = _text(url)
    scheme = urlsplit(str(url or "")).scheme.lower()
    # Only web links are clickable: a page may report a javascript: or data: URL as where it went.
    if scheme not in ("http", "https"):
        return text
    return f'<a href="{text}" rel="noreferrer noopener" target="_blank">{text}</a>'


def _overview(run: Mapping[str, Any]) -> str:
    status = _text(run.get("status"))
    rows = [
        ("Model", _text(run.get("model"))),
        ("Project", _text(run.get("project_id"))),
        ("Job", _text(run.get("job_id") or "—")),
        ("Created", _time(run.get("created_at"))),
        ("Started", _time(run.get("started_at"))),
        ("Finished", _time(run.get("finished_at"))),
        ("Start URL", _link(run.get("start_url")) if run.get("start_url") else "—"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f'<section id="overview"><h1>Run <code>{_text(run.get("id"))}</code> '
        f'<span class="badge {status}" id="status">{status}</span></h1><dl>{dl}</dl></section>'
        f'<section id="prompt"><h2>Prompt</h2><pre id="prompt-text">{_text(run.get("prompt"))}</pre>'
        + (
            f"<details><summary>Inputs</summary><pre>{_json(run['inputs'])}</pre></details>"
            if run.get("inputs")
            else ""
        )
        + (
            f"<details><summary>Output schema</summary><pre>{_json(run['output_schema'])}</pre></details>"
            if run.get("output_schema")
            else ""
        )
        + "</section>"
    )


def _result(run: Mapping[str, Any]) -> str:
    conf = run.get("confidence") or {}
    score = conf.get("score")
    bar = (
        f'<p>Confidence <b id="confidence">{float(score):.2f}</b> '
        f'<span class="mut">{_text(conf.get("reason"))}</span></p>'
        f'<meter min="0" max="1" value="{max(0.0, min(1.0, float(score))):.2f}"></meter>'
        if score is not None
        else '<p class="mut">No confidence score.</p>'
    )
    result = run.get("result")
    body = f'<pre id="result">{_json(result)}</pre>' if result is not None else "<p>No result.</p>"
    error = run.get("error")
    err = ""
    if error:
        err = f'<p class="err" id="error"><b>{_text(error.get("code"))}</b>: {_text(error.get("message"))}</p>'
    ev_err = run.get("evidence_error")
    if ev_err:
        err += f'<p class="err">Evidence {_text(run.get("evidence_status"))}: {_text(ev_err)}</p>'
    return f'<section id="outcome"><h2>Result</h2>{err}{body}{bar}</section>'


def _usage(run: Mapping[str, Any]) -> str:
    usage = run.get("usage") or {}
    rows = [
        ("Input tokens", usage.get("input_tokens", 0)),
        ("Output tokens", usage.get("output_tokens", 0)),
        ("LLM calls", usage.get("llm_calls", 0)),
        ("Sandbox seconds", usage.get("sandbox_seconds", 0)),
        ("Cost", f"${usage.get('cost_usd', '0.00')} ({usage.get('cost_status', 'estimate')})"),
    ]
    if usage.get("charged_micros") is not None:
        rows.append(("Charged", f"{usage['charged_micros']} micro-USD"))
    if usage.get("capped"):
        rows.append(("Capped", "yes: billed the run's max_cost_usd"))
    if usage.get("waived_reason"):
        rows.append(("Waived", usage["waived_reason"]))
    dl = "".join(f"<dt>{k}</dt><dd>{_text(v)}</dd>" for k, v in rows)
    return f'<section id="usage"><h2>Usage and cost</h2><dl>{dl}</dl></section>'


def _shot(item: Mapping[str, Any] | None) -> str:
    if not item or not item.get("screenshot_url"):
        return '<p class="mut">No screenshot.</p>'
    url = _text(item["screenshot_url"])
    alt = f"screenshot of step {_text(item.get('step'))}"
    return f'<a href="{url}" target="_blank" rel="noreferrer"><img class="shot" src="{url}" alt="{alt}"></a>'


def _steps(run: Mapping[str, Any]) -> str:
    shots = {int(e["step"]): e for e in run.get("evidence") or [] if e.get("step") is not None}
    steps = run.get("steps") or []
    out = []
    for step in steps:
        index = int(step.get("index", 0))
        facts = [
            ("URL", _link(step.get("url")) if step.get("url") else "—"),
            ("Title", _text(step.get("title") or "—")),
            ("Started", _time(step.get("started_at"))),
            ("Duration", f"{_text(step.get('duration_ms'))} ms" if step.get("duration_ms") is not None else "—"),
        ]
        if step.get("llm_call") is not None:
            facts.append(
                (
                    "LLM call",
                    f"#{_text(step['llm_call'])}: {_text(step.get('input_tokens'))} in / "
                    f"{_text(step.get('output_tokens'))} out, ${_text(step.get('cost_usd'))}",
                )
            )
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        err = f'<p class="err">{_text(step["error"])}</p>' if step.get("error") else ""
        args = f"<pre>{_json(step['args'])}</pre>" if step.get("args") else ""
        out.append(
            f'<div class="step" data-step="{index}"><div><p class="act">{index}. {_text(step.get("action"))}</p>'
            f"{args}<dl>{dl}</dl>{err}</div><div>{_shot(shots.pop(index, None))}</div></div>"
        )
    for index, item in sorted(shots.items()):  # screenshots of no recorded step (records clipped)
        out.append(
            f'<div class="step" data-step="{index}"><div><p class="act">{index}. (no step record)</p></div>'
            f"<div>{_shot(item)}</div></div>"
        )
    body = "".join(out) or '<p class="mut">No steps recorded.</p>'
    return f'<section id="steps"><h2>Steps ({len(steps)})</h2>{body}</section>'


def _network(run: Mapping[str, Any]) -> str:
    rows = []
    for entry in run.get("network") or []:
        blocked = '<span class="blocked">blocked</span>' if entry.get("blocked") else ""
        rows.append(
            f"<tr><td>{_time(entry.get('time'))}</td><td>{_text(entry.get('status') or '')}{blocked}</td>"
            f'<td class="u">{_link(entry.get("url"))}</td></tr>'
        )
    table = (
        f"<table><thead><tr><th>Time</th><th>Status</th><th>URL</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="mut">No requests recorded.</p>'
    )
    return f'<section id="network"><h2>Network log ({len(rows)})</h2>{table}</section>'


def render(run: Mapping[str, Any], footer: str) -> str:
    """The page for ``run`` (the envelope as JSON data; ``evidence[].screenshot_url`` is where each
    screenshot loads from). ``footer`` is trusted HTML (where the page came from)."""
    title = f"OpenHelm run {run.get('id')} ({run.get('status')})"
    body = _overview(run) + _result(run) + _usage(run) + _steps(run) + _network(run)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{_text(title)}</title><style>{CSS}</style></head>'
        f'<body><main>{body}<p class="mut" id="source">{footer}</p></main></body></html>'
    )


def offline_page(run: Mapping[str, Any], footer: str) -> str:
    """The run page with screenshots by their path inside a bundle (relative URLs: ``index.html`` in
    the unzipped folder, or ``openhelm view`` serving the zip)."""
    shown = {**run, "evidence": [{**e, "screenshot_url": e.get("path")} for e in run.get("evidence") or []]}
    return render(shown, footer)


def error_page(status: int, title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body><main><section>"
        f'<h1 id="error-title">{_text(title)}</h1><p id="error-message">{_text(message)}</p>'
        f'<p class="mut">HTTP {status}</p></section></main></body></html>'
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def security_headers(image_urls: Iterable[str] = ()) -> dict[str, str]:
    """Headers of a viewer answer: no script, styles only the page's own, images only from where its
    screenshots are (the evidence bucket's origin, or the page's own for a bundle), never cached or
    framed, and the signed URL never sent on as a Referer."""
    style = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    origins = sorted({o for o in map(_origin, image_urls) if o})
    img = " ".join(["'self'", *origins])
    csp = (
        f"default-src 'none'; img-src {img}; style-src 'sha256-{style}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
