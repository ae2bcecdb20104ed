"""Runs suites against a server: prepares the spoken inputs, checks the server answers, then
runs the cases concurrently (at most ``parallel`` sessions at once) and collects the results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from websockets.exceptions import InvalidHandshake

from evals.driver import CaseContext, run_case
from evals.judge import Judge, JudgeConfig
from evals.results import CaseResult, RunResult, SuiteResult
from evals.speech_input import SpeechInputError, SpokenInput, Synthesiser, load_audio
from evals.suite import Case, LoadedSuite
from server.ws_client import RealtimeClient, ServerError


class RunnerError(RuntimeError):
    """The run cannot start: no server answers, or a spoken input cannot be prepared."""


@dataclass
class RunOptions:
    url: str
    parallel: int = 2
    origin: str | None = None
    case_filter: str | None = None
    judge: JudgeConfig | None = None
    cache_dir: Path | None = None
    budget_scale: float = 1.0
    on_case: Callable[[CaseResult], None] | None = None
    """Called as each case finishes (progress output)."""
    notes: list[str] = field(default_factory=list)


def selected(loaded: LoadedSuite, case_filter: str | None) -> list[Case]:
    cases = loaded.suite.cases
    if not case_filter:
        return list(cases)
    needle = case_filter.casefold()
    return [c for c in cases if needle in c.name.casefold()]


async def prepare_speech(
    suites: Sequence[LoadedSuite], case_filter: str | None, cache_dir: Path | None
) -> tuple[dict[tuple[str, str, str], SpokenInput], list[str]]:
    """Every spoken input of the selected cases, keyed (suite path, kind, value), and notes
    on voices that fell back to eSpeak NG."""
    prepared: dict[tuple[str, str, str], SpokenInput] = {}
    synthesiser = Synthesiser(cache_dir=cache_dir)
    try:
        for loaded in suites:
            voice = loaded.suite.defaults.voice
            for case in selected(loaded, case_filter):
                for turn in case.turns:
                    if turn.audio is not None:
                        path = str(loaded.folder / turn.audio)
                        prepared[(str(loaded.path), "audio", path)] = load_audio(Path(path))
                    for text in (turn.say, turn.barge_in.say if turn.barge_in else None):
                        key = (str(loaded.path), "say", text or "")
                        if text is not None and key not in prepared:
                            prepared[key] = await synthesiser.speak(text, voice)
    except SpeechInputError as exc:
        raise RunnerError(str(exc)) from None
    finally:
        await synthesiser.aclose()
    return prepared, synthesiser.fallbacks


async def probe(url: str, origin: str | None) -> dict[str, object]:
    """Start and close one session, so a wrong URL fails the run at once."""
    client = RealtimeClient(url, origin=origin, heartbeat=False)
    try:
        started = await asyncio.wait_for(client.connect(), 30)
    except (OSError, TimeoutError, InvalidHandshake, ServerError) as exc:
        raise RunnerError(f"no avatar server answers at {url}: {exc}") from None
    finally:
        await client.close()
    config = started.get("config", {})
    return {
        **started.get("server", {}),
        "llm": config.get("llm"),
        "protocol_version": started.get("protocol_version"),
    }


async def run(suites: Sequence[LoadedSuite], options: RunOptions) -> RunResult:
    began, wall = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    server = await probe(options.url, options.origin)
    prepared, fallbacks = await prepare_speech(suites, options.case_filter, options.cache_dir)
    judge = Judge(options.judge) if options.judge is not None else None
    limit = asyncio.Semaphore(max(1, options.parallel))

    async def one(loaded: LoadedSuite, case: Case) -> CaseResult:
        suite_key = str(loaded.path)

        def speech(kind: str, value: str) -> SpokenInput:
            return prepared[(suite_key, kind, value)]

        ctx = CaseContext(options.url, speech, options.origin, judge, options.budget_scale)
        async with limit:
            result = await run_case(loaded, case, ctx)
        if options.on_case is not None:
            options.on_case(result)
        return result

    jobs = [
        (i, case)
        for i, loaded in enumerate(suites)
        for case in selected(loaded, options.case_filter)
    ]
    try:
        results = await asyncio.gather(*(one(suites[i], case) for i, case in jobs))
    finally:
        if judge is not None:
            await judge.aclose()
    grouped: list[list[CaseResult]] = [[] for _ in suites]
    for (i, _), result in zip(jobs, results, strict=True):
        grouped[i].append(result)
    return RunResult(
        suites=[
            SuiteResult(loaded.suite.name, str(loaded.path), cases)
            for loaded, cases in zip(suites, grouped, strict=True)
        ],
        url=options.url,
        started=wall,
        duration_s=time.perf_counter() - began,
        judge=f"{options.judge.model} at {options.judge.url}" if options.judge else None,
        server=server,
        notes=[*options.notes, *fallbacks],
    )
