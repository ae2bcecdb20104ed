"""A readable, single-file HTML report: a summary table, then per case the dialogue (user and
avatar turns), the timings, and every expectation, failing ones highlighted with the reason."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from evals.results import CaseResult, RunResult, TurnResult

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin:0}
.meta{color:#666;margin:.2rem 0 1rem} table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e3e3;vertical-align:top}
th{background:#f6f6f6} .badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;
font-size:.8rem;font-weight:600;color:#fff} .passed{background:#2e7d32} .failed{background:#c62828}
.error{background:#6a1b9a} .xfailed{background:#ef6c00}
.xpassed{background:#0277bd}
details.case{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.6rem .9rem}
details.case>summary{cursor:pointer;list-style:none;display:flex;gap:.6rem;align-items:center}
.turn{margin:.8rem 0 .8rem .2rem;border-left:3px solid #ddd;padding-left:.8rem}
.bubble{padding:.45rem .7rem;border-radius:8px;margin:.3rem 0;max-width:90%;white-space:pre-wrap}
.user{background:#e8f0fe} .avatar{background:#f1f8e9} .who{font-size:.75rem;color:#555;
font-weight:600;display:block} .timings{color:#555;font-size:.85rem}
ul.checks{list-style:none;padding:0;margin:.3rem 0}
ul.checks li{padding:.15rem .4rem;border-radius:4px}
li.c-failed{background:#ffebee;color:#b71c1c;font-weight:600} li.c-skipped{color:#777}
li.c-passed{color:#2e7d32} .msg{font-weight:400;color:#333} .errbox{background:#f3e5f5;
padding:.5rem .7rem;border-radius:6px;color:#4a148c} code{background:#f4f4f4;padding:0 .2rem}
.small{font-size:.8rem;color:#666} .nowrap{white-space:nowrap}
pre{white-space:pre-wrap;font-size:.75rem;max-height:24rem;
overflow:auto;background:#fafafa;padding:.5rem}
"""

_MARK = {"passed": "✓", "failed": "✗", "skipped": "–"}
_STAGES = (
    ("speech_stopped", "speech stopped"),
    ("transcript", "transcript"),
    ("committed", "committed"),
    ("first_text", "first text"),
    ("first_audio", "first audio"),
    ("play_start", "play start"),
    ("done", "done"),
)


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def _anchor(case: CaseResult) -> str:
    return "case-" + "".join(ch if ch.isalnum() else "-" for ch in f"{case.suite}-{case.name}")


def _turn(turn: TurnResult, title: str) -> str:
    kind = {"text": "typed", "audio": "spoken (WAV)", "say": "spoken"}.get(turn.kind, turn.kind)
    parts = [f'<div class="turn"><div class="small">{escape(title)}</div>']
    user = f'<span class="who">user, {escape(kind)}</span>{escape(turn.user)}'
    if turn.kind != "text":
        heard = turn.transcript if turn.transcript is not None else "(nothing was heard)"
        user += f'<div class="small">heard as: “{escape(heard)}”</div>'
    parts.append(f'<div class="bubble user">{user}</div>')
    reply: dict[str, Any] = turn.reply or {}
    if turn.reply is None:
        parts.append('<div class="bubble avatar"><span class="who">avatar</span>(no reply)</div>')
    else:
        status = reply.get("status") or "unfinished"
        extra = "" if status == "completed" else f" — {status}"
        if reply.get("reason"):
            extra += f" ({reply['reason']})"
        body = escape(str(reply.get("text") or ""))
        info = []
        if reply.get("truncated") is not None:
            info.append(f"history keeps: “{escape(str(reply['truncated']))}”")
        if reply.get("played_ms") is not None:
            info.append(f"stopped after {reply['played_ms']:.0f} ms played")
        if reply.get("citations"):
            sources = ", ".join(
                f"{c.get('id', '')} {c.get('source', '')}" for c in reply["citations"]
            )
            info.append(f"citations: {escape(sources)}")
        if reply.get("expressions"):
            info.append("expressions: " + escape(", ".join(reply["expressions"])))
        if reply.get("segments"):
            info.append(f"{reply['segments']} segments, {reply['audio_ms']:.0f} ms of audio")
        note = "".join(f'<div class="small">{i}</div>' for i in info)
        parts.append(
            f'<div class="bubble avatar"><span class="who">avatar{escape(extra)}</span>'
            f"{body}{note}</div>"
        )
    timings = [
        f"{label} {turn.timings_ms[key]:.0f} ms"
        for key, label in _STAGES
        if turn.timings_ms.get(key) is not None
    ]
    if timings:
        origin = "end of speech" if turn.kind != "text" else "sending"
        parts.append(f'<div class="timings">from {origin}: {escape(" · ".join(timings))}</div>')
    if turn.error:
        parts.append(f'<div class="errbox">{escape(turn.error)}</div>')
    items = []
    for check in turn.checks:
        message = f' <span class="msg">— {escape(check.message)}</span>' if check.message else ""
        items.append(
            f'<li class="c-{check.status}">{_MARK[check.status]} {escape(check.name)}{message}</li>'
        )
    if items:
        parts.append(f'<ul class="checks">{"".join(items)}</ul>')
    if turn.interruption is not None:
        parts.append(_turn(turn.interruption, "interruption (barge-in)"))
    if turn.events:
        lines = [
            json.dumps(e, ensure_ascii=False)
            for e in turn.events
            if e.get("type") not in ("response.text.delta", "input_audio.transcript.partial")
        ]
        parts.append(
            f"<details><summary class=small>{len(turn.events)} events (deltas and partials "
            f"in the JSON report)</summary><pre>{escape(chr(10).join(lines))}</pre></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _case(case: CaseResult) -> str:
    opened = " open" if case.status in ("failed", "error") else ""
    head = (
        f"<summary>{_badge(case.status)}<h2>{escape(case.suite)} / {escape(case.name)}</h2>"
        f'<span class="small">{case.duration_s:.1f} s · persona {escape(case.persona)}'
        f"{' · ' + escape(case.session_id) if case.session_id else ''}</span></summary>"
    )
    body = []
    if case.description:
        body.append(f"<p>{escape(case.description)}</p>")
    if case.xfail:
        body.append(f'<p class="small">known failure (xfail): {escape(case.xfail)}</p>')
    if case.status not in ("passed", "xpassed") and case.reason():
        body.append(f'<div class="errbox">why: {escape(case.reason())}</div>')
    body += [_turn(t, f"turn {t.index + 1}") for t in case.turns]
    return f'<details class="case" id="{_anchor(case)}"{opened}>{head}{"".join(body)}</details>'


def html_report(result: RunResult) -> str:
    totals = result.totals()
    server = result.server or {}
    meta = [
        f"started {escape(result.started)}",
        f"{result.duration_s:.1f} s",
        f"server {escape(result.url)}",
    ]
    if server.get("version"):
        meta.append(f"version {escape(str(server['version']))}")
    if server.get("llm"):
        meta.append(f"model {escape(str(server['llm']))}")
    meta.append(f"judge {escape(result.judge)}" if result.judge else "no judge")
    rows = []
    for case in result.cases:
        rows.append(
            f"<tr><td>{_badge(case.status)}</td><td>{escape(case.suite)}</td>"
            f'<td><a href="#{_anchor(case)}">{escape(case.name)}</a></td>'
            f'<td class="nowrap">{case.duration_s:.1f} s</td><td>{escape(case.reason())}</td></tr>'
        )
    summary = " · ".join(f"{v} {k}" for k, v in totals.items() if v or k == "cases")
    notes = "".join(f'<p class="small">note: {escape(n)}</p>' for n in result.notes)
    verdict = "passed" if result.passed else "failed"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>Evals: {verdict}</title><style>{_CSS}</style></head><body>"
        f"<h1>Eval report {_badge(verdict)}</h1>"
        f'<div class="meta">{" · ".join(meta)}</div>{notes}'
        f"<p><b>{escape(summary)}</b></p>"
        "<table><tr><th>status</th><th>suite</th><th>case</th><th>time</th><th>why</th></tr>"
        f"{''.join(rows)}</table>"
        f"{''.join(_case(c) for c in result.cases)}"
        "</body></html>\n"
    )


def write_html(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(result), encoding="utf-8")
