"""Capacity of one server process in text mode: N idle sessions that keep heartbeating, and M
talkers sending typed turns at once.

For each idle level N (cumulative: sessions are added, never closed between levels) the talker
ladder M = 1, 2, 4, ... runs: every talker sends ``--turns`` typed turns, one after the other,
while the N idle sessions send ``ping`` every ``config.heartbeat_interval_s`` seconds with a
random phase and read every event. Measured per step:

- time to first token at the client (``input.text`` sent → first ``response.text.delta``) and
  as the server's LLM reports it (``timings.first_token_ms``), p50/p95;
- errors by code, replies that did not complete, idle sessions dropped, ping → pong p50/p95;
- the server's resident memory (VmRSS, and its peak VmHWM) and CPU: the whole process (the
  model threads included) and its event loop thread alone, in % of one core.

At the end every idle session is pinged once more and must answer. The server runs with the
embedded SmolLM2 and voice, TTS and knowledge off (``AVATAR_VOICE__ENABLED=false`` ...); the
clients run on the same machine, so on 2 cores the figures are conservative. Writes JSON
(default: benchmarks/results/capacity.json) and prints one line per step.

    .venv/bin/python -m benchmarks.capacity --idle 0 500 1000 2000 --talkers 1 2 4 8
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from benchmarks.common import ROOT, summary_ms, write_report
from benchmarks.ttft import QUESTIONS
from server.ws_client import RealtimeClient, ServerError

TEXT_MODE = {
    "AVATAR_VOICE__ENABLED": "false",
    "AVATAR_TTS__ENABLED": "false",
    "AVATAR_KNOWLEDGE__ENABLED": "false",
}
ONE_ADDRESS = {"AVATAR_RATE_LIMITS__UPGRADES_PER_IP": "1000000/minute"}
"""Every simulated client connects from 127.0.0.1: the per-address upgrade limit (300 a
minute by default) would refuse them (429), as it should refuse one real client doing so."""
TTFT_BUDGET_S = 2.0
"""A talker count M is sustained while p95 time to first token stays below this."""
_TICK = os.sysconf("SC_CLK_TCK")


def _summary(values_s: list[float]) -> dict[str, float | None]:
    """``summary_ms``, with nulls (not NaN, which is not JSON) when there is nothing."""
    if not values_s:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None, "max_ms": None}
    return dict(summary_ms(values_s))


# ── the server process ──────────────────────────────────────────────────────


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    prefix: str
    redis_url: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def text_mode_server(max_tokens: str, extra: dict[str, str], log: Path) -> Iterator[Server]:
    """``avatar-agent serve`` in text mode on a free port with a key prefix of its own (its keys
    are deleted afterwards), logging to ``log``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prefix = f"bench:capacity:{secrets.token_hex(4)}:"
    env = {
        "AVATAR_REDIS__URL": "redis://127.0.0.1:6379/0",
        **os.environ,
        "AVATAR_PORT": str(port),
        "AVATAR_REDIS__KEY_PREFIX": prefix,
        "AVATAR_LLM__MAX_TOKENS": max_tokens,
        **TEXT_MODE,
        **ONE_ADDRESS,
        **extra,
    }
    redis_url = env["AVATAR_REDIS__URL"]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc, port, prefix, redis_url)
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.http}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not become ready")
            time.sleep(0.2)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        client = redis.Redis.from_url(redis_url)
        for batch in _batches(list(client.scan_iter(match=f"{prefix}*", count=1000)), 500):
            client.delete(*batch)
        client.close()


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class ProcessProbe:
    """Memory and CPU of one process, from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._mark = (time.monotonic(), *self._ticks())

    def _ticks(self) -> tuple[int, int]:
        """CPU ticks (user + system) of the whole process and of its main (event loop) thread."""

        def ticks(path: str) -> int:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime, stime

        return ticks(f"/proc/{self.pid}/stat"), ticks(f"/proc/{self.pid}/task/{self.pid}/stat")

    def memory_mb(self) -> dict[str, float]:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
        )
        return {
            "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        }

    def cpu_since_mark(self) -> dict[str, float]:
        """CPU used since the last call, in % of one core: the process and its event loop."""
        now, process, loop = time.monotonic(), *self._ticks()
        then, process0, loop0 = self._mark
        self._mark = (now, process, loop)
        wall = max(now - then, 1e-6)
        return {
            "process_cpu_pct": round((process - process0) / _TICK / wall * 100, 1),
            "event_loop_cpu_pct": round((loop - loop0) / _TICK / wall * 100, 1),
        }


class MachineProbe:
    """CPU of the whole machine and of this (client) process since the last call, in % of one
    core: what the server did not have to itself."""

    def __init__(self) -> None:
        self._mark = self._sample()

    @staticmethod
    def _sample() -> tuple[float, int, int, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        times = os.times()
        return time.monotonic(), sum(fields) - idle, idle, times.user + times.system

    def cpu_since_mark(self) -> dict[str, float]:
        now = self._sample()
        then, self._mark = self._mark, now
        wall = max(now[0] - then[0], 1e-6)
        return {
            "machine_busy_cpu_pct": round((now[1] - then[1]) / _TICK / wall * 100, 1),
            "client_cpu_pct": round((now[3] - then[3]) / wall * 100, 1),
        }


def _others(cpu: dict[str, float]) -> float:
    """CPU the machine spent on neither the server nor the benchmark (other work on the box)."""
    busy = cpu["machine_busy_cpu_pct"] - cpu["process_cpu_pct"] - cpu["client_cpu_pct"]
    return round(max(0.0, busy), 1)


# ── idle sessions ──────────────────────────────────────────────────────────


@dataclass
class IdleStats:
    """What the idle sessions saw during one step."""

    ping_rtt_s: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


class IdleSession:
    """A connected session that only heartbeats (``ping`` every ``interval_s``, random phase)
    and reads every event, recording ping → pong times and errors into ``stats``."""

    def __init__(self, url: str, stats: IdleStats) -> None:
        self.client = RealtimeClient(url, heartbeat=False)
        self.stats = stats
        self.closed_code: int | None = None
        self.dropped = False
        self._sent: dict[str, tuple[float, asyncio.Event]] = {}
        self._count = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        started = await self.client.connect()
        interval = float(started["config"]["heartbeat_interval_s"])
        self._tasks = [
            asyncio.create_task(self._read(), name="idle-reader"),
            asyncio.create_task(self._beat(interval), name="idle-beat"),
        ]

    async def ping(self) -> asyncio.Event:
        """Send one ping; the event returned is set when its pong arrives (or the socket
        closes). The reader records the ping's round trip."""
        self._count += 1
        event_id = f"p{self._count}"
        answered = asyncio.Event()
        self._sent[event_id] = (time.perf_counter(), answered)
        await self.client.send_raw(f'{{"type": "ping", "event_id": "{event_id}"}}')
        return answered

    async def answers_ping(self, timeout: float) -> bool:
        """Whether a ping sent now gets its pong within ``timeout`` seconds."""
        if self.dropped:
            return False
        try:
            answered = await self.ping()
            await asyncio.wait_for(answered.wait(), timeout)
        except (ConnectionClosed, ConnectionError, OSError, TimeoutError):
            return False
        return not self.dropped

    async def _beat(self, interval: float) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            with contextlib.suppress(ConnectionClosed, ConnectionError, OSError):
                await self.ping()
            await asyncio.sleep(interval)

    async def _read(self) -> None:
        try:
            while True:
                event = await self.client.recv(timeout=3600)
                if event["type"] == "pong":
                    sent = self._sent.pop(event.get("event_id") or "", None)
                    if sent is not None:
                        self.stats.ping_rtt_s.append(time.perf_counter() - sent[0])
                        sent[1].set()
                elif event["type"] == "error":
                    self.stats.errors[event["code"]] += 1
                self.client.events.clear()  # an idle session keeps nothing
        except ConnectionClosed as closed:
            self.dropped = True
            self.closed_code = closed.rcvd.code if closed.rcvd else None
            for _, answered in self._sent.values():
                answered.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.close()


def _close_codes(idle: list[IdleSession]) -> dict[str, int]:
    return dict(collections.Counter(str(s.closed_code) for s in idle if s.dropped))


async def open_idle(
    url: str, count: int, stats: IdleStats, batch: int = 50, attempts: int = 1
) -> list[IdleSession]:
    """Open ``count`` idle sessions, ``batch`` handshakes at a time. A handshake that fails is
    tried again up to ``attempts`` times in all (each failure counted in ``stats.errors`` as
    ``connect:<why>``); raises if one fails every time."""

    async def opened() -> IdleSession:
        for attempt in range(attempts):
            session = IdleSession(url, stats)
            try:
                await session.start()
                return session
            except (TimeoutError, OSError, InvalidStatus, ServerError) as exc:
                stats.errors[f"connect:{type(exc).__name__}"] += 1
                await session.close()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    sessions: list[IdleSession] = []
    for start in range(0, count, batch):
        sessions += await asyncio.gather(*(opened() for _ in range(min(batch, count - start))))
    return sessions


# ── talkers ────────────────────────────────────────────────────────────────


@dataclass
class TalkerResult:
    ttft_s: list[float] = field(default_factory=list)
    server_ttft_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    completed: int = 0
    not_completed: collections.Counter[str] = field(default_factory=collections.Counter)
    """Turns without a completed reply, by why: an error code, a done status, or timeout."""
    resumes: int = 0
    """Sockets that dropped and were resumed."""


async def talker(url: str, turns: int, offset: int, timeout: float) -> TalkerResult:
    result = TalkerResult()
    client = RealtimeClient(url)
    await client.connect()
    try:
        for i in range(turns):
            started = time.perf_counter()
            try:
                question = QUESTIONS[(offset + i) % len(QUESTIONS)]
                reply = await asyncio.wait_for(client.ask(question, timeout), timeout)
            except ServerError as exc:
                result.not_completed[exc.code] += 1
                continue
            except TimeoutError:
                result.not_completed["timeout"] += 1
                continue
            except (ConnectionClosed, OSError) as exc:
                result.not_completed[type(exc).__name__] += 1
                continue
            result.total_s.append(time.perf_counter() - started)
            if reply.status != "completed":
                result.not_completed[f"{reply.status}:{reply.done.get('reason')}"] += 1
                continue
            result.completed += 1
            if reply.first_delta_s is not None:
                result.ttft_s.append(reply.first_delta_s)
            if (first_ms := reply.done["timings"]["first_token_ms"]) is not None:
                result.server_ttft_s.append(first_ms / 1000)
    finally:
        result.resumes = sum(e["type"] == "session.resumed" for e in client.events)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 10)
    return result


async def talker_step(
    url: str,
    idle: list[IdleSession],
    stats: IdleStats,
    probe: ProcessProbe,
    talkers: int,
    turns: int,
    timeout: float,
) -> dict[str, Any]:
    stats.ping_rtt_s.clear()
    stats.errors.clear()
    probe.cpu_since_mark()
    machine = MachineProbe()
    started = time.perf_counter()
    results = await asyncio.gather(*(talker(url, turns, 3 * i, timeout) for i in range(talkers)))
    wall = time.perf_counter() - started
    not_completed: collections.Counter[str] = collections.Counter()
    for r in results:
        not_completed += r.not_completed
    ttft = [v for r in results for v in r.ttft_s]
    return {
        "idle_sessions": len(idle),
        "talkers": talkers,
        "turns": talkers * turns,
        "completed": sum(r.completed for r in results),
        "not_completed": dict(not_completed),
        "talker_resumes": sum(r.resumes for r in results),
        "client_ttft": _summary(ttft),
        "server_llm_ttft": _summary([v for r in results for v in r.server_ttft_s]),
        "reply_total": _summary([v for r in results for v in r.total_s]),
        "turns_per_second": round(talkers * turns / wall, 2),
        "idle_ping_rtt": _summary(list(stats.ping_rtt_s)),
        "idle_errors": dict(stats.errors),
        "idle_dropped": sum(s.dropped for s in idle),
        "idle_close_codes": _close_codes(idle),
        **(cpu := {**probe.cpu_since_mark(), **machine.cpu_since_mark()}),
        "other_processes_cpu_pct": _others(cpu),
        **probe.memory_mb(),
    }


# ── the run ────────────────────────────────────────────────────────────────


def _ms(value: float | None) -> float:
    return float("nan") if value is None else value


def _print_step(step: dict[str, Any]) -> None:
    ttft = {k: _ms(v) for k, v in step["client_ttft"].items()}
    rtt = {k: _ms(v) for k, v in step["idle_ping_rtt"].items()}
    done = f"{step['completed']}/{step['turns']}"
    print(
        f"{step['idle_sessions']:>6} {step['talkers']:>3} {done:>9}"
        f" {ttft['p50_ms']:>7.0f} {ttft['p95_ms']:>7.0f}"
        f" {rtt['p50_ms']:>7.0f} {rtt['p95_ms']:>7.0f}"
        f" {step['idle_dropped']:>5} {sum(step['idle_errors'].values()):>5}"
        f" {step['process_cpu_pct']:>6.0f}% {step['event_loop_cpu_pct']:>5.0f}%"
        f" {step['other_processes_cpu_pct']:>5.0f}% {step['rss_mb']:>7.0f}"
        + ("  (disturbed)" if step.get("disturbed") else ""),
        flush=True,
    )


PING_BUDGET_S = 1.0
"""An idle level holds while p95 ping → pong stays below this (a heartbeat answered late is a
loop too busy to renew leases in time)."""


def choose(steps: list[dict[str, Any]], final: dict[str, Any]) -> dict[str, Any]:
    """N: the largest idle level up to which no idle session was dropped or got an error and
    pings were answered within budget (the last level also needs every final ping answered).
    M: at that level, the most talkers up to which every turn completed with p95 TTFT in
    budget."""

    def holds(n: int) -> bool:
        at_n = [s for s in steps if s["idle_sessions"] == n]
        ok = all(
            s["idle_dropped"] == 0
            and not s["idle_errors"]
            and _ms(s["idle_ping_rtt"]["p95_ms"]) < PING_BUDGET_S * 1000
            for s in at_n
            if s["idle_sessions"]
        )
        if n == final["idle_sessions"]:
            ok = ok and final["answered_final_ping"] == n
        return ok

    n = 0
    for level in sorted({s["idle_sessions"] for s in steps}):  # up to the first that fails
        if not holds(level):
            break
        n = level
    m = 0
    for s in sorted((s for s in steps if s["idle_sessions"] == n), key=lambda s: s["talkers"]):
        if s["completed"] != s["turns"] or _ms(s["client_ttft"]["p95_ms"]) >= TTFT_BUDGET_S * 1000:
            break
        m = s["talkers"]
    disturbed = [(s["idle_sessions"], s["talkers"]) for s in steps if s.get("disturbed")]
    return {
        "idle_sessions": n,
        "talkers": m,
        "disturbed_steps": disturbed,
        "rule": (
            "N: the largest idle level with no idle session dropped, no error, ping p95 < "
            f"{PING_BUDGET_S * 1000:.0f} ms and every final ping answered; M: at N, the most "
            f"talkers with every turn completed and TTFT p95 < {TTFT_BUDGET_S * 1000:.0f} ms"
        ),
    }


def _dump_tasks() -> None:
    """SIGUSR1: print where every task of the benchmark waits (to debug a stalled step)."""
    for task in asyncio.all_tasks():
        if not task.get_name().startswith("idle-"):
            task.print_stack(limit=6, file=sys.stderr)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
    extra = dict(kv.split("=", 1) for kv in args.env)
    print(f"server log: {args.server_log}")
    with text_mode_server(args.max_tokens, extra, args.server_log) as server:
        probe = ProcessProbe(server.proc.pid)
        baseline = probe.memory_mb()
        stats = IdleStats()
        idle: list[IdleSession] = []
        levels: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        await talker(server.url, 2, 0, args.timeout)  # warm-up: first prompt evaluation
        print(
            f"{'idle':>6} {'M':>3} {'done':>9} {'TTFT50':>7} {'TTFT95':>7} {'ping50':>7}"
            f" {'ping95':>7} {'drops':>5} {'errs':>5} {'CPU':>7} {'loop':>6} {'other':>6}"
            f" {'RSS MB':>7}"
        )
        for level in args.idle:
            opened = time.perf_counter()
            stats.errors.clear()
            idle += await open_idle(server.url, level - len(idle), stats, attempts=3)
            connect_s = time.perf_counter() - opened
            connect_failures = dict(stats.errors)
            await asyncio.sleep(args.settle)  # idle only: what N sessions cost at rest
            stats.ping_rtt_s.clear()
            probe.cpu_since_mark()
            machine = MachineProbe()
            await asyncio.sleep(args.settle)
            levels.append(
                {
                    "idle_sessions": len(idle),
                    "connect_s": round(connect_s, 1),
                    "connect_failures": connect_failures,
                    "at_rest": {
                        **(cpu := {**probe.cpu_since_mark(), **machine.cpu_since_mark()}),
                        "other_processes_cpu_pct": _others(cpu),
                        **probe.memory_mb(),
                        "idle_ping_rtt": _summary(list(stats.ping_rtt_s)),
                    },
                }
            )
            rest = levels[-1]["at_rest"]
            print(
                f"{len(idle):>6} at rest: connected in {connect_s:.1f} s; server CPU"
                f" {rest['process_cpu_pct']:.0f}% (loop {rest['event_loop_cpu_pct']:.0f}%),"
                f" RSS {rest['rss_mb']:.0f} MB, ping p95 {_ms(rest['idle_ping_rtt']['p95_ms']):.0f}"
                " ms",
                flush=True,
            )
            for m in args.talkers:
                for attempt in range(1, args.attempts + 1):
                    step = await talker_step(
                        server.url, idle, stats, probe, m, args.turns, args.timeout
                    )
                    step["attempt"] = attempt
                    step["disturbed"] = step["other_processes_cpu_pct"] > args.max_other_cpu
                    _print_step(step)
                    if not step["disturbed"]:
                        break
                steps.append(step)
        answered = []  # a last ping on every session, 200 at a time (not one herd of all N)
        for chunk in _batches(idle, 200):
            answered += await asyncio.gather(*(s.answers_ping(30) for s in chunk))
        final = {
            "idle_sessions": len(idle),
            "answered_final_ping": sum(answered),
            "dropped": sum(s.dropped for s in idle),
            "close_codes": _close_codes(idle),
        }
        print(f"final ping: {final['answered_final_ping']}/{len(idle)} idle sessions answered")
        for chunk in _batches(idle, 200):
            await asyncio.gather(*(s.close() for s in chunk))
    return {
        "server": {
            "env": {**TEXT_MODE, **ONE_ADDRESS},
            "max_tokens": int(args.max_tokens),
            "extra_env": extra,
            "rss_mb_ready": baseline["rss_mb"],
        },
        "turns_per_talker": args.turns,
        "ttft_budget_ms": TTFT_BUDGET_S * 1000,
        "levels": levels,
        "steps": steps,
        "final": final,
        "chosen": choose(steps, final),
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=int, nargs="+", default=[0, 500, 1000, 2000])
    parser.add_argument("--talkers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--turns", type=int, default=8, help="turns per talker per step")
    parser.add_argument("--max-tokens", default="60", help="reply length cap for the server")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds idle after a level")
    parser.add_argument("--timeout", type=float, default=120.0, help="per reply, in seconds")
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=25.0,
        help="a step during which other processes took more CPU than this (%% of one core) "
        "is disturbed: it is run again, up to --attempts times in all",
    )
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--env", nargs="*", default=[], help="extra AVATAR_*=value for the server")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/capacity.json")
    parser.add_argument(
        "--server-log", type=Path, default=Path(tempfile.gettempdir()) / "capacity-server.log"
    )
    args = parser.parse_args()
    if sorted(args.idle) != args.idle:
        parser.error("--idle levels must rise (sessions are added, never closed)")
    report = asyncio.run(run(args))
    chosen = report["chosen"]
    print(f"chosen: N = {chosen['idle_sessions']} idle sessions, M = {chosen['talkers']} talkers")
    write_report(args.out, "capacity_text_mode", **report)


if __name__ == "__main__":
    main()
