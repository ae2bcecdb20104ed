"""``python -m evals`` / ``avatar-eval``: run eval suites against a server, or validate them.

    python -m evals run evals/suites/smoke.yaml --serve --html report.html
    python -m evals run evals/suites/smoke.yaml --in-process
    python -m evals run evals/suites/ --url ws://host:8765/v1/realtime --junit out.xml
    python -m evals validate evals/suites/*.yaml

Exit status: 0 all cases passed (or, for validate, every suite is valid); 1 a case failed or
could not run (validate: a suite is invalid); 2 usage or configuration error (bad arguments,
an invalid suite given to ``run``, no server at the URL, a server that would not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evals.judge import JudgeConfig
from evals.report_html import write_html
from evals.report_junit import write_junit
from evals.results import CaseResult, RunResult
from evals.runner import RunnerError, RunOptions, run, selected
from evals.serve import ServeError, served, served_in_process
from evals.speech_input import SpeechInputError, default_cache_dir, load_audio
from evals.suite import LoadedSuite, SuiteError, load_suites

DEFAULT_URL = "ws://127.0.0.1:8765/v1/realtime"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
}


def suite_paths(args: Sequence[str]) -> list[Path]:
    """Files as given; a folder stands for its ``*.yaml`` and ``*.yml`` files."""
    paths: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise SuiteError(f"{path}: a folder without suite files (*.yaml)")
            paths += found
        else:
            paths.append(path)
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatar-eval",
        description="Dialogue evals for the avatar agent (docs/evals.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run suites against a live server")
    p_run.add_argument("suites", nargs="+", help="suite files or folders of them")
    where = p_run.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        help=f"WebSocket URL of a running server (default: $AVATAR_EVAL_URL or {DEFAULT_URL})",
    )
    where.add_argument(
        "--serve",
        action="store_true",
        help="start `avatar-agent serve` on a free port for the run (AVATAR_* variables apply)",
    )
    where.add_argument(
        "--in-process",
        action="store_true",
        help="run the server inside this process for the run (AVATAR_* variables apply)",
    )
    p_run.add_argument("--parallel", type=int, default=2, help="cases run at once (default 2)")
    p_run.add_argument("--filter", help="run only cases whose name contains this text")
    p_run.add_argument("--origin", help="Origin header to send (servers that check origins)")
    p_run.add_argument("--junit", type=Path, help="write JUnit XML here")
    p_run.add_argument("--json", type=Path, help="write the full results as JSON here")
    p_run.add_argument("--html", type=Path, help="write a single-file HTML report here")
    p_run.add_argument("--judge-url", help="OpenAI-compatible base URL (…/v1) of an LLM judge")
    p_run.add_argument("--judge-model", help="the judge's model name")
    p_run.add_argument("--judge-key", help="the judge's API key (or AVATAR_EVAL_JUDGE_KEY)")
    p_run.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"where synthesised speech is cached (default {default_cache_dir()})",
    )
    p_run.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        help="multiply every latency budget, e.g. 2 on a machine twice as slow (default 1)",
    )
    p_run.add_argument("--quiet", action="store_true", help="print only the summary")
    p_val = sub.add_parser("validate", help="check suites without a server")
    p_val.add_argument("suites", nargs="+", help="suite files or folders of them")
    return parser


def _validate(args: argparse.Namespace) -> int:
    try:
        paths = suite_paths(args.suites)
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_OK
    for path in paths:
        try:
            (loaded,) = load_suites([path])
        except SuiteError as exc:
            print(f"invalid: {exc}")
            status = EXIT_FAILED
            continue
        problems = _audio_problems(loaded)
        if problems:
            print(f"invalid: {path}: " + "; ".join(problems))
            status = EXIT_FAILED
            continue
        turns = sum(len(c.turns) for c in loaded.suite.cases)
        print(f"ok: {path} ({len(loaded.suite.cases)} cases, {turns} turns)")
    return status


def _audio_problems(loaded: LoadedSuite) -> list[str]:
    """WAV files that cannot be played (not 16-bit PCM, silent, unreadable)."""
    problems = []
    for case in loaded.suite.cases:
        for turn in case.turns:
            path = loaded.audio_path(turn)
            if path is not None:
                try:
                    load_audio(path)
                except SpeechInputError as exc:
                    problems.append(f"case {case.name!r}: {exc}")
    return problems


def _progress(case: CaseResult) -> None:
    line = f"  {_MARK[case.status]:5} {case.suite} / {case.name} ({case.duration_s:.1f} s)"
    if case.status in ("failed", "error", "xfailed"):
        line += f"\n        {case.reason()}"
    if case.xfail and case.status in ("xfailed", "xpassed"):
        line += f"\n        known failure: {case.xfail}"
    print(line, flush=True)


def summary(result: RunResult) -> str:
    totals = result.totals()
    counts = ", ".join(
        f"{totals[k]} {k}" for k in ("passed", "failed", "error", "xfailed", "xpassed") if totals[k]
    )
    lines = [
        f"{totals['cases']} cases in {len(result.suites)} suite(s): {counts or 'none ran'} "
        f"({result.duration_s:.1f} s, {result.url})"
    ]
    skipped = sum(len(c.skipped_checks) for c in result.cases)
    if skipped:
        lines.append(f"{skipped} expectation(s) skipped (e.g. judge: no judge configured)")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _write_reports(result: RunResult, args: argparse.Namespace) -> None:
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    if args.junit:
        write_junit(result, args.junit)
        print(f"wrote {args.junit}")
    if args.html:
        write_html(result, args.html)
        print(f"wrote {args.html}")


def _run(args: argparse.Namespace) -> int:
    if args.parallel < 1 or args.budget_scale <= 0:
        print("error: --parallel must be at least 1, --budget-scale above 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        suites = load_suites(suite_paths(args.suites))
    except SuiteError as exc:
        print(f"error: invalid suite\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    if not any(selected(s, args.filter) for s in suites):
        print(f"error: no case name contains {args.filter!r}", file=sys.stderr)
        return EXIT_USAGE
    judge = JudgeConfig.resolve(args.judge_url, args.judge_model, args.judge_key)
    options = RunOptions(
        url="",
        parallel=args.parallel,
        origin=args.origin,
        case_filter=args.filter,
        judge=judge,
        cache_dir=args.cache_dir or default_cache_dir(),
        budget_scale=args.budget_scale,
        on_case=None if args.quiet else _progress,
    )
    if args.budget_scale != 1.0:
        options.notes.append(f"latency budgets multiplied by {args.budget_scale:g}")
    try:
        if args.serve:
            print("starting a server (avatar-agent serve)…", flush=True)
            with served() as url:
                options.url = url
                result = _execute(suites, options)
        elif args.in_process:
            print("starting a server in this process…", flush=True)
            result = asyncio.run(_run_in_process(suites, options))
        else:
            options.url = args.url or os.environ.get("AVATAR_EVAL_URL") or DEFAULT_URL
            result = _execute(suites, options)
    except (RunnerError, ServeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(summary(result))
    _write_reports(result, args)
    return EXIT_OK if result.passed else EXIT_FAILED


def _execute(suites: list[LoadedSuite], options: RunOptions) -> RunResult:
    return asyncio.run(run(suites, options))


async def _run_in_process(suites: list[LoadedSuite], options: RunOptions) -> RunResult:
    async with served_in_process() as url:
        options.url = url
        return await run(suites, options)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
