"""Runs one eval case against a live server: a session, its turns, then the checks.

A case is one session. Typed turns are sent as ``input.text``; spoken turns go through the
simulated microphone in real time. Each turn waits for the reply that answers it (after a turn
extension, the last one), lets the simulated player finish it, and records everything. Barge-in
turns stop the reply's playback once ``after_ms`` has played, report it like the browser does,
and send the interruption, if any. Once all turns are done, a case with barge-ins fetches the
server's history to check what it kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from evals.checks import CheckResult, check_barge_in, check_judge, check_reply
from evals.judge import Judge, JudgeError
from evals.live import LiveSession, SessionLost
from evals.record import Reply, TurnKind, TurnRecord
from evals.results import CaseResult, TurnResult, turn_result
from evals.speech_input import SpokenInput
from evals.suite import BUDGETS, BargeIn, Case, Defaults, Expectations, LoadedSuite, Turn
from server.ws_client import ServerError

#: How long after a reply is stopped its ``response.truncated`` may take.
TRUNCATE_WAIT_S = 10.0
_NO_JUDGE = "no judge configured (--judge-url or AVATAR_EVAL_JUDGE_URL)"

SpeechFor = Callable[[str, str], SpokenInput]
"""(kind, value) → audio: ("audio", path) or ("say", text), prepared before the run."""


@dataclass(frozen=True)
class CaseContext:
    url: str
    speech: SpeechFor
    origin: str | None = None
    judge: Judge | None = None
    budget_scale: float = 1.0
    """Multiplies every latency budget (a slower machine than the budgets were set for)."""


def needs_audio_out(case: Case, defaults: Defaults) -> bool:
    """Whether the case's checks need the avatar's voice (or the suite asks for it)."""
    if defaults.audio_out is not None:
        return defaults.audio_out
    for turn in case.turns:
        budgets = budgets_for(turn, defaults)
        if turn.needs_audio or turn.barge_in is not None or budgets["first_audio_ms"]:
            return True
        if turn.spoken and budgets["voice_to_voice_ms"]:
            return True
    return False


def needs_audio_in(case: Case) -> bool:
    return any(t.spoken or (t.barge_in is not None and t.barge_in.say) for t in case.turns)


def budgets_for(expect: Expectations, defaults: Defaults) -> dict[str, int | None]:
    return {name: expect.budget(name, getattr(defaults, name)) for name in BUDGETS}


async def run_case(loaded: LoadedSuite, case: Case, ctx: CaseContext) -> CaseResult:
    suite, defaults = loaded.suite, loaded.suite.defaults
    persona = case.persona or suite.persona or "(server default)"
    started = time.perf_counter()
    session = LiveSession(
        ctx.url,
        persona=case.persona or suite.persona,
        origin=ctx.origin,
        audio_in=needs_audio_in(case),
        audio_out=needs_audio_out(case, defaults),
        realtime_playback=defaults.playback == "realtime",
    )
    result = CaseResult(suite.name, case.name, persona, "passed", 0.0, [], case.description)
    result.xfail = case.xfail
    records: list[TurnRecord] = []
    try:
        started_event = await session.start()
        result.session_id = session.client.session_id
        result.persona = str(started_event["config"]["persona"]["id"])
        for need in ("audio_in", "audio_out"):
            if getattr(session, need) and not session.granted.get(need):
                raise SessionLost(f"the server did not grant {need}; this case needs it")
        for index, turn in enumerate(case.turns):
            record = await _run_turn(session, index, turn, ctx, defaults, loaded.folder)
            records.append(record)
            if session.lost is not None:
                raise SessionLost(session.lost)
            if record.reply is None:
                break  # the conversation cannot go on meaningfully
        if any(t.barge_in for t in case.turns) and session.lost is None:
            await _attach_history(session, records)
    except (SessionLost, ServerError, ConnectionClosed, OSError, TimeoutError) as exc:
        result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        await session.close()
    result.turns = await _check(case, records, defaults, ctx, started)
    if len(records) < len(case.turns) and result.error is None:
        result.error = f"stopped after turn {len(records)}: it got no reply"
    result.duration_s = time.perf_counter() - started
    if result.status != "error":
        failed = bool(result.failures or result.error)
        if case.xfail is not None:
            result.status = "xfailed" if failed else "xpassed"
        else:
            result.status = "failed" if failed else "passed"
    return result


# ── turns ──────────────────────────────────────────────────────────────────


async def _run_turn(
    session: LiveSession,
    index: int,
    turn: Turn,
    ctx: CaseContext,
    defaults: Defaults,
    folder: Path,
) -> TurnRecord:
    timeout = defaults.timeout_s
    if turn.barge_in is not None:
        session.realtime_playback = True  # a barge-in needs a reply still playing
    since = len(session.events)
    value = turn.text or turn.say or str(folder / (turn.audio or ""))
    record = await _send_input(session, index, turn.kind, value, ctx, label=turn.audio)
    try:
        reply = await _await_reply(session, record, since, timeout, turn.barge_in)
        if turn.barge_in is not None and reply is not None:
            record.interruption = await _barge_in(
                session, record, reply, turn.barge_in, ctx, defaults.playback == "realtime"
            )
        await _await_playback(session, record.reply, timeout)
    except (TimeoutError, SessionLost) as exc:
        record.error = str(exc)
    finally:
        record.events = session.events[since:]
        session.realtime_playback = defaults.playback == "realtime"
    return record


async def _send_input(
    session: LiveSession,
    index: int,
    kind: TurnKind,
    value: str,
    ctx: CaseContext,
    *,
    label: str | None = None,
) -> TurnRecord:
    """Type or speak one user turn; ``value`` is the text, or the WAV's path (``label``: the
    name shown in reports)."""
    if kind == "text":
        sent = await session.send({"type": "input.text", "text": value})
        return TurnRecord(index, kind, value, sent)
    spoken = ctx.speech(kind, value)
    utterance = session.mic.speak(spoken.pcm)
    start = await asyncio.wait_for(asyncio.shield(utterance.started), 10)
    return TurnRecord(
        index,
        kind,
        label or value,
        start + spoken.speech_start_s,
        speech_end_at=start + spoken.speech_end_s,
    )


async def _await_reply(
    session: LiveSession,
    record: TurnRecord,
    since: int,
    timeout: float,
    barge: BargeIn | None,
) -> Reply | None:
    source = "text" if record.kind == "text" else "voice"
    what = "a reply" if source == "text" else "a transcript and a reply (was the speech heard?)"
    found = await session.wait_for(
        lambda: session.answer(since, source, created_only=barge is not None),
        timeout,
        what=what,
    )
    item, rid, commit = found
    record.item_id, record.transcript = item, str(commit.event.get("text", ""))
    record.reply = session.replies().get(rid)
    return record.reply


async def _await_playback(session: LiveSession, reply: Reply | None, timeout: float) -> None:
    """Wait until the simulated player has played (or stopped) the reply's audio."""
    if reply is None or not session.audio_out:
        return
    rid = reply.response_id
    await session.wait_for(
        lambda: _done_playing(session, rid), timeout, what="the end of playback", poll_s=0.02
    )
    fresh = session.replies().get(rid)
    if fresh is not None:
        reply.play_start_at, reply.underruns = fresh.play_start_at, fresh.underruns
        reply.first_audio_at, reply.audio_ms = fresh.first_audio_at, fresh.audio_ms


def _done_playing(session: LiveSession, rid: str) -> bool | None:
    done = session.find(lambda e: e.type == "response.done" and e.event.get("response_id") == rid)
    if done is None:
        return None
    player = session.player_of(rid)
    if player is None or player.finished(time.perf_counter()):
        return True
    return None


async def _barge_in(
    session: LiveSession,
    record: TurnRecord,
    reply: Reply,
    spec: BargeIn,
    ctx: CaseContext,
    realtime_after: bool,
) -> TurnRecord | None:
    """Stop the reply after ``after_ms`` played, then send the interruption (if any), whose
    reply plays in the suite's mode again (``realtime_after``)."""
    rid = reply.response_id
    timeout = 120.0

    def reached() -> bool | None:
        player = session.player_of(rid)
        now = time.perf_counter()
        if player is not None and player.position(now) >= spec.after_ms:
            return True
        if _done_playing(session, rid):
            return False  # over before after_ms
        return None

    reached_point = await session.wait_for(
        reached, timeout, what="the barge-in point", poll_s=0.005
    )
    session.realtime_playback = realtime_after
    if not reached_point:
        record.reply = session.replies().get(rid)
        return None
    since = len(session.events)
    interruption: TurnRecord | None = None
    if spec.say is not None:
        interruption = await _send_input(session, record.index, "say", spec.say, ctx)
        try:
            await session.wait_event(
                lambda e: e.type == "input_audio.speech_started", since, 30, "speech_started"
            )
        finally:
            played = session.stop_playback(rid)
        if played is not None:
            await _report_stop(session, rid, played)
    else:
        session.stop_playback(rid)
        played = float(spec.after_ms)
        await _report_stop(session, rid, played)
        if spec.text is not None:
            interruption = await _send_input(session, record.index, "text", spec.text, ctx)
    await session.wait_for(
        lambda: _done_playing(session, rid) or None, 60, what="the interrupted reply's end"
    )
    with contextlib.suppress(TimeoutError):  # the check reports a missing truncation
        await session.wait_event(
            lambda e: e.type == "response.truncated" and e.event.get("response_id") == rid,
            since,
            TRUNCATE_WAIT_S,
            "response.truncated",
        )
    record.reply = session.replies().get(rid)
    if record.reply is not None:
        record.reply.played_ms = played
    if interruption is not None:
        try:
            await _await_reply(session, interruption, since, 90.0, None)
            await _await_playback(session, interruption.reply, 90.0)
        except TimeoutError as exc:
            interruption.error = str(exc)
        interruption.events = session.events[since:]
    return interruption


async def _report_stop(session: LiveSession, rid: str, played_ms: float) -> None:
    await session.send(
        {"type": "playback.stopped", "response_id": rid, "played_ms": round(played_ms)}
    )


async def _attach_history(session: LiveSession, records: list[TurnRecord]) -> None:
    history = await session.fetch_history()
    texts = {str(h.get("item_id")): str(h.get("text", "")) for h in history}
    for record in records:
        for turn in (record, record.interruption):
            if turn is not None and turn.reply is not None:
                turn.reply.history_text = texts.get(turn.reply.response_id)


# ── checks ─────────────────────────────────────────────────────────────────


async def _check(
    case: Case,
    records: list[TurnRecord],
    defaults: Defaults,
    ctx: CaseContext,
    started: float,
) -> list[TurnResult]:
    results: list[TurnResult] = []
    conversation: list[tuple[str, str]] = []
    for turn, record in zip(case.turns, records, strict=False):
        checks = await _checks_for(
            turn,
            record,
            record.reply,
            defaults,
            ctx,
            conversation,
            interrupted=turn.barge_in is not None,
        )
        if turn.barge_in is not None:
            checks += check_barge_in(turn.barge_in, record, record.reply)
        sub: TurnResult | None = None
        if record.interruption is not None and turn.barge_in is not None:
            expect = turn.barge_in.expect or Expectations()
            sub_checks = await _checks_for(
                expect,
                record.interruption,
                record.interruption.reply,
                defaults,
                ctx,
                conversation,
            )
            sub = turn_result(record.interruption, sub_checks, started)
        results.append(turn_result(record, checks, started, sub))
    return results


async def _checks_for(
    expect: Expectations,
    record: TurnRecord,
    reply: Reply | None,
    defaults: Defaults,
    ctx: CaseContext,
    conversation: list[tuple[str, str]],
    *,
    interrupted: bool = False,
) -> list[CheckResult]:
    budgets = {
        name: None if value is None else round(value * ctx.budget_scale)
        for name, value in budgets_for(expect, defaults).items()
    }
    checks = check_reply(expect, record, reply, budgets, interrupted=interrupted)
    conversation.append(("user", record.transcript or record.user))
    reply_text = (reply.truncated if reply and reply.truncated is not None else None) or (
        reply.text if reply else ""
    )
    if expect.judge is not None:
        if ctx.judge is None:
            checks.append(check_judge(expect.judge, None, skipped=_NO_JUDGE))
        elif reply is None:
            checks.append(check_judge(expect.judge, None, error="no reply to judge"))
        else:
            try:
                verdict = await ctx.judge.score(expect.judge.rubric, conversation, reply_text)
                checks.append(check_judge(expect.judge, verdict))
            except JudgeError as exc:
                checks.append(check_judge(expect.judge, None, error=str(exc)))
    conversation.append(("assistant", reply_text))
    return checks
