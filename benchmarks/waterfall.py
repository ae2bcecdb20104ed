"""Latency waterfall of a spoken turn: where the time goes between the end of the user's speech
and the avatar's voice, alone and with several people talking at once.

N simulated users each stream WAV questions like a microphone (20 ms frames in real time,
silence between turns) and listen to the replies like the browser client (60 ms prebuffer,
``playback.position`` reports), for T turns each. Every stage is timed at the client, in ms
after the real end of speech in the WAV (known from its manifest):

    VAD end            input_audio.speech_stopped arrives
    ASR final          input_audio.transcript.completed arrives
    end of turn        input.committed arrives (the turn is stored and will be answered)
    LLM first token    the reply's first response.text.delta arrives
    first audio        the reply's first audio frame arrives
    play start         the simulated player starts (first audio + 60 ms prebuffer), reported
                       to the server with playback.position as the browser does

Prints p50/p95 per stage and per step between stages, names the slowest step, writes
benchmarks/results/waterfall.json and draws benchmarks/results/waterfall.png. With
``--concurrency-sweep 1,2,3,4`` it runs each number of simultaneous talkers and reports the
largest whose voice-to-voice p95 (end of speech → play start) stays within ``--budget-ms``.

    .venv/bin/python -m benchmarks.waterfall --users 1 --turns 6
    .venv/bin/python -m benchmarks.waterfall --concurrency-sweep 1,2,3,4,6 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ROOT, percentile, running_server, write_report
from benchmarks.voice_latency import load_wavs
from evals.live import LiveSession, SessionLost

#: (key, label) in pipeline order.
STAGES: tuple[tuple[str, str], ...] = (
    ("vad_end", "VAD end (speech_stopped)"),
    ("asr_final", "ASR final (transcript)"),
    ("end_of_turn", "end of turn (committed)"),
    ("llm_first_token", "LLM first token"),
    ("first_audio", "first audio frame"),
    ("play_start", "client play start"),
)
V2V = "play_start"
DEFAULT_BUDGET_MS = 2500
THINK_S = (0.4, 1.2)
"""A listener's pause between the end of a reply and their next question."""


@dataclass
class Turn:
    user: int
    index: int
    file: str
    stages_ms: dict[str, float | None] = field(default_factory=dict)
    vad_clock_error_ms: float | None = None
    """input_audio.speech_stopped's audio_end_ms minus the true end on the audio clock."""
    server_first_token_ms: float | None = None
    underruns: int = 0
    transcript: str = ""
    error: str | None = None


def _ms(at: float | None, origin: float) -> float | None:
    return None if at is None else round((at - origin) * 1000, 1)


async def talk(
    url: str, user: int, wavs: list[dict[str, Any]], turns: int, lead_s: float, seed: int
) -> list[Turn]:
    """One user: T spoken questions, each reply listened to in full."""
    rng = random.Random(seed)
    session = LiveSession(url, audio_in=True, audio_out=True, realtime_playback=True)
    results: list[Turn] = []
    try:
        await session.start()
        await asyncio.sleep(lead_s)
        for index in range(turns):
            entry = wavs[(user * turns + index) % len(wavs)]
            results.append(await _turn(session, user, index, entry))
            await asyncio.sleep(rng.uniform(*THINK_S))
    except (SessionLost, OSError) as exc:
        results.append(Turn(user, len(results), "", error=f"session lost: {exc}"))
    finally:
        await session.close()
    return results


async def _turn(session: LiveSession, user: int, index: int, entry: dict[str, Any]) -> Turn:
    turn = Turn(user, index, entry["file"])
    since = len(session.events)
    utterance = session.mic.speak(entry["pcm"])
    started = await utterance.started
    speech_end = started + entry["speech_end_s"]
    try:
        _, rid, commit = await session.wait_for(
            lambda: session.answer(since, "voice"), 120, what="a reply"
        )
        await session.wait_for(
            lambda: _finished(session, rid), 120, what="the end of playback", poll_s=0.02
        )
    except (TimeoutError, SessionLost) as exc:
        turn.error = str(exc)
        return turn
    events = session.events[since:]
    stopped = [e for e in events if e.type == "input_audio.speech_stopped" and e.at <= commit.at]
    transcript = next(
        (e for e in events if e.type == "input_audio.transcript.completed" and e.at <= commit.at),
        None,
    )
    reply = session.replies()[rid]
    done = next(e for e in events if e.type == "response.done" and e.event["response_id"] == rid)
    turn.stages_ms = {
        "vad_end": _ms(stopped[-1].at if stopped else None, speech_end),
        "asr_final": _ms(transcript.at if transcript else None, speech_end),
        "end_of_turn": _ms(commit.at, speech_end),
        "llm_first_token": _ms(reply.first_text_at, speech_end),
        "first_audio": _ms(reply.first_audio_at, speech_end),
        "play_start": _ms(reply.play_start_at, speech_end),
        "position_reported": _ms(session.first_report_at.get(rid), speech_end),
    }
    if stopped:
        true_end_ms = utterance.stream_ms + entry["speech_end_s"] * 1000
        turn.vad_clock_error_ms = round(stopped[-1].event["audio_end_ms"] - true_end_ms, 1)
    turn.server_first_token_ms = (done.event.get("timings") or {}).get("first_token_ms")
    turn.underruns = reply.underruns
    turn.transcript = str(commit.event.get("text", ""))
    return turn


def _finished(session: LiveSession, rid: str) -> bool | None:
    done = session.find(lambda e: e.type == "response.done" and e.event.get("response_id") == rid)
    player = session.player_of(rid)
    if done is None:
        return None
    return True if player is None or player.finished(time.perf_counter()) else None


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
    }


def summarise(turns: list[Turn], users: int) -> dict[str, Any]:
    ok = [
        t
        for t in turns
        if t.error is None and all(t.stages_ms.get(k) is not None for k, _ in STAGES)
    ]
    stages = {k: _stats([t.stages_ms[k] or 0.0 for t in ok]) for k, _ in STAGES}
    steps: dict[str, dict[str, float]] = {}
    previous: str | None = None
    for key, _ in STAGES:
        values = [
            (t.stages_ms[key] or 0.0) - ((t.stages_ms[previous] or 0.0) if previous else 0.0)
            for t in ok
        ]
        steps[key] = _stats(values)
        previous = key
    slowest = max(steps, key=lambda k: steps[k]["p50_ms"]) if ok else None
    vad_errors = [t.vad_clock_error_ms for t in ok if t.vad_clock_error_ms is not None]
    return {
        "users": users,
        "turns": len(turns),
        "turns_ok": len(ok),
        "turns_failed": len(turns) - len(ok),
        "errors": sorted({t.error for t in turns if t.error}),
        "stages": stages,
        "steps": steps,
        "slowest_step": slowest,
        "voice_to_voice": stages[V2V],
        "vad_clock_error": _stats(vad_errors) if vad_errors else None,
        "server_llm_first_token": _stats(
            [t.server_first_token_ms for t in ok if t.server_first_token_ms is not None]
        ),
        "underruns": sum(t.underruns for t in ok),
        "turn_details": [t.__dict__ for t in turns],
    }


async def scenario(url: str, wavs: list[dict[str, Any]], users: int, turns: int) -> dict[str, Any]:
    jobs = [
        talk(url, user, wavs, turns, lead_s=random.Random(user).uniform(0, 1.5), seed=user)
        for user in range(users)
    ]
    per_user = await asyncio.gather(*jobs)
    return summarise([t for user_turns in per_user for t in user_turns], users)


async def server_voice_to_voice(url: str) -> tuple[float, float] | None:
    """(sum, count) of the server's voice_to_voice histogram, from /metrics."""
    http = re.sub(r"^ws", "http", url.split("/v1/")[0])
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"{http}/metrics")).text
    except httpx.HTTPError:
        return None
    found: dict[str, float] = {}
    for line in text.splitlines():
        for kind in ("sum", "count"):
            prefix = f'avatar_stage_latency_seconds_{kind}{{stage="voice_to_voice"}}'
            if line.startswith(prefix):
                found[kind] = float(line.split()[-1])
    return (found["sum"], found["count"]) if len(found) == 2 else None


async def measure(url: str, wavs: list[dict[str, Any]], counts: list[int], turns: int) -> list[Any]:
    await talk(url, 0, wavs, 1, 0.0, 0)  # warm-up: the first ASR, LLM and TTS calls are cold
    results = []
    for users in counts:
        before = await server_voice_to_voice(url)
        result = await scenario(url, wavs, users, turns)
        after = await server_voice_to_voice(url)
        if before and after and after[1] > before[1]:
            result["server_voice_to_voice_mean_ms"] = round(
                (after[0] - before[0]) / (after[1] - before[1]) * 1000, 1
            )
        results.append(result)
        print(_table(result), flush=True)
    return results


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"\n{result['users']} user(s), {result['turns_ok']}/{result['turns']} turns "
        "(ms after the end of speech)",
        f"{'stage':28} {'at p50':>8} {'p95':>7}   {'step p50':>8} {'p95':>7}",
    ]
    for key, label in STAGES:
        stage, step = result["stages"][key], result["steps"][key]
        lines.append(
            f"{label:28} {stage['p50_ms']:>8.0f} {stage['p95_ms']:>7.0f}   "
            f"{step['p50_ms']:>+8.0f} {step['p95_ms']:>+7.0f}"
        )
    if result["slowest_step"]:
        step = result["steps"][result["slowest_step"]]
        label = dict(STAGES)[result["slowest_step"]]
        lines.append(
            f"slowest step: {label} (+{step['p50_ms']:.0f} ms p50, +{step['p95_ms']:.0f} p95)"
        )
    if result["errors"]:
        lines.append(
            f"failed turns: {result['turns_failed']} ({'; '.join(result['errors'])[:300]})"
        )
    return "\n".join(lines)


def sweep_verdict(results: list[dict[str, Any]], budget_ms: float) -> dict[str, Any]:
    """The largest number of talkers whose voice-to-voice p95 is within budget (and whose turns
    all got a reply); counts above a failing one do not count."""
    best = 0
    for result in sorted(results, key=lambda r: r["users"]):
        p95 = result["voice_to_voice"]["p95_ms"]
        if result["turns_failed"] or not result["turns_ok"] or p95 > budget_ms:
            break
        best = result["users"]
    return {
        "budget_ms": budget_ms,
        "metric": "voice to voice p95: end of speech → client play start",
        "max_users_within_budget": best,
        "p95_by_users": {r["users"]: r["voice_to_voice"]["p95_ms"] for r in results},
    }


def draw(results: list[dict[str, Any]], verdict: dict[str, Any] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#4e79a7", "#f28e2b", "#b07aa1", "#76b7b2", "#59a14f", "#edc948"]
    rows = len(results)
    sweep = verdict is not None and rows > 1
    budget = verdict["budget_ms"] if verdict else DEFAULT_BUDGET_MS
    height = 1.9 + 0.75 * rows
    fig, axes = plt.subplots(
        2 if sweep else 1,
        1,
        figsize=(11, height + (3.4 if sweep else 0) + 0.9),
        gridspec_kw={"height_ratios": [height, 3.4]} if sweep else None,
        squeeze=False,
    )
    ax = axes[0][0]
    labels = [f"{r['users']} talker{'s' if r['users'] > 1 else ''}" for r in results]
    longest = max(
        [budget]
        + [r["stages"][k]["p95_ms"] for r in results for k, _ in STAGES]
        + [sum(max(0.0, r["steps"][k]["p50_ms"]) for k, _ in STAGES) for r in results]
    )
    right = longest * 1.4  # room for the text after each bar
    for row, result in enumerate(results):
        left = 0.0
        for (key, label), colour in zip(STAGES, colours, strict=True):
            width = max(0.0, result["steps"][key]["p50_ms"])
            ax.barh(
                row,
                width,
                left=left,
                height=0.6,
                color=colour,
                edgecolor="white",
                label=label if row == 0 else None,
            )
            if width >= 0.045 * right:
                ax.text(
                    left + width / 2,
                    row,
                    f"{width:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                )
            left += width
        p95s = [result["stages"][key]["p95_ms"] for key, _ in STAGES]
        ax.scatter(
            p95s,
            [row] * len(p95s),
            marker="|",
            s=300,
            color="black",
            zorder=3,
            label="p95 at each stage" if row == 0 else None,
        )
        v2v = result["voice_to_voice"]
        ax.text(
            max(left, max(p95s)) + 30,
            row,
            f"play start p50 {v2v['p50_ms']:.0f} / p95 {v2v['p95_ms']:.0f} ms",
            va="center",
            fontsize=8,
        )
    ax.axvline(budget, color="#c62828", linestyle="--", linewidth=1)
    ax.text(budget, rows - 0.45, f" budget {budget:.0f} ms", color="#c62828", fontsize=8)
    ax.set_xlim(0, right)
    ax.set_ylim(rows - 0.3, -0.7)
    ax.set_yticks(range(rows), labels)
    ax.set_xlabel("ms after the end of the user's speech (bars: p50 of each step, stacked)")
    ax.set_title("Spoken turn latency waterfall, measured at the client (p50 bars, p95 ticks)")
    handles, names = ax.get_legend_handles_labels()
    if sweep and verdict is not None:
        ax2 = axes[1][0]
        users = [r["users"] for r in results]
        ax2.plot(
            users,
            [r["voice_to_voice"]["p95_ms"] for r in results],
            "o-",
            color="#4e79a7",
            label="voice to voice p95",
        )
        ax2.plot(
            users,
            [r["voice_to_voice"]["p50_ms"] for r in results],
            "o--",
            color="#76b7b2",
            label="voice to voice p50",
        )
        ax2.axhline(budget, color="#c62828", linestyle="--", linewidth=1, label="budget")
        best = verdict["max_users_within_budget"]
        if best:
            ax2.axvline(best, color="#59a14f", linewidth=1)
            ax2.text(
                best,
                budget,
                f" {best} talker(s) within budget",
                color="#2e7d32",
                fontsize=9,
                va="bottom",
            )
        ax2.set_xlabel("simultaneous talkers")
        ax2.set_ylabel("ms after the end of speech")
        ax2.set_xticks(users)
        ax2.set_ylim(bottom=0)
        ax2.legend(fontsize=8, loc="upper left")
        ax2.set_title("Voice to voice (end of speech → play start) by number of talkers")
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.9 / fig.get_figheight(), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="measure a running server instead of starting one")
    parser.add_argument("--wavs", type=Path, default=ROOT / "benchmarks/wavs")
    parser.add_argument("--users", type=int, default=1, help="simultaneous talkers (no sweep)")
    parser.add_argument("--turns", type=int, default=4, help="turns per user")
    parser.add_argument(
        "--concurrency-sweep", help="comma-separated numbers of talkers, e.g. 1,2,4"
    )
    parser.add_argument(
        "--budget-ms",
        type=float,
        default=DEFAULT_BUDGET_MS,
        help=f"voice-to-voice p95 budget for the sweep (default {DEFAULT_BUDGET_MS})",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/waterfall.json")
    parser.add_argument("--chart", type=Path, default=ROOT / "benchmarks/results/waterfall.png")
    args = parser.parse_args()

    counts = (
        [int(n) for n in args.concurrency_sweep.split(",") if n.strip()]
        if args.concurrency_sweep
        else [args.users]
    )
    if not counts or min(counts) < 1 or args.turns < 1:
        parser.error("talkers and turns must be at least 1")
    wavs = load_wavs(args.wavs)
    load_before = os.getloadavg()
    if args.url:
        results = asyncio.run(measure(args.url, wavs, counts, args.turns))
    else:
        env = {"AVATAR_LLM__MAX_TOKENS": "60", "AVATAR_KNOWLEDGE__ENABLED": "false"}
        with running_server(env) as url:
            results = asyncio.run(measure(url, wavs, counts, args.turns))

    load_after = os.getloadavg()
    verdict = sweep_verdict(results, args.budget_ms) if args.concurrency_sweep else None
    if verdict:
        print(
            f"\nlargest number of talkers with voice-to-voice p95 ≤ {args.budget_ms:.0f} ms: "
            f"{verdict['max_users_within_budget']}  (p95 by talkers: {verdict['p95_by_users']})"
        )
    write_report(
        args.out,
        "latency_waterfall",
        frame_ms=20,
        prebuffer_ms=60,
        turns_per_user=args.turns,
        # 1-, 5- and 15-minute load averages: other work on the machine skews the figures.
        load_average={"before": load_before, "after": load_after},
        stages=[{"key": k, "label": label} for k, label in STAGES],
        scenarios=results,
        sweep=verdict,
    )
    draw(results, verdict, args.chart)


if __name__ == "__main__":
    main()
