"""Time to first text token over the WebSocket: N sequential turns, then N concurrent sessions.

Measured at the client, from sending ``input.text`` to receiving the first
``response.text.delta`` (so it includes the socket, Redis writes, queueing and the model). Starts
its own server with the embedded defaults unless ``--url`` is given. Prints p50/p95 and writes
JSON (default: benchmarks/results/ttft.json).

    .venv/bin/python benchmarks/ttft.py --turns 20 --concurrency 1 2 4 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from server.ws_client import RealtimeClient

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Hello! Who are you?",
    "What is the capital of France?",
    "Can you recommend a good book?",
    "How do I make a cup of tea?",
    "What is the weather usually like in spring?",
    "Tell me something interesting about octopuses.",
    "How many days are there in a leap year?",
    "What should I cook for dinner tonight?",
    "Why is the sky blue?",
    "Thanks, that is all for now.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


async def session_turns(url: str, turns: int, offset: int) -> dict[str, list[float]]:
    client = RealtimeClient(url)
    await client.connect()
    ttft: list[float] = []
    server_ttft: list[float] = []
    total: list[float] = []
    for i in range(turns):
        started = time.perf_counter()
        reply = await client.ask(QUESTIONS[(offset + i) % len(QUESTIONS)])
        total.append(time.perf_counter() - started)
        if reply.first_delta_s is not None:
            ttft.append(reply.first_delta_s)
        first_ms = reply.done["timings"]["first_token_ms"]
        if first_ms is not None:
            server_ttft.append(first_ms / 1000)
    await client.close()
    return {"ttft": ttft, "server_ttft": server_ttft, "total": total}


async def run_scenario(url: str, sessions: int, turns: int) -> dict[str, Any]:
    started = time.perf_counter()
    results = await asyncio.gather(*(session_turns(url, turns, i * 3) for i in range(sessions)))
    wall = time.perf_counter() - started
    merged: dict[str, list[float]] = {"ttft": [], "server_ttft": [], "total": []}
    for result in results:
        for key, values in result.items():
            merged[key] += values
    return {
        "sessions": sessions,
        "turns_per_session": turns,
        "client_ttft": summary(merged["ttft"]),
        "server_llm_ttft": summary(merged["server_ttft"]),
        "reply_total": summary(merged["total"]),
        "turns_per_second": round(sessions * turns / wall, 2),
    }


def start_server(env_overrides: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "AVATAR_PORT": str(port),
        "AVATAR_REDIS__KEY_PREFIX": "bench:",
        **env_overrides,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc, f"ws://127.0.0.1:{port}/v1/realtime"
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--turns", type=int, default=20, help="turns per session")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--max-tokens", default="60", help="reply length cap for the server")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ttft.json")
    args = parser.parse_args()

    proc = None
    url = args.url
    if url is None:
        proc, url = start_server({"AVATAR_LLM__MAX_TOKENS": args.max_tokens})
    try:
        await run_scenario(url, 1, 2)  # warm-up: first prompt evaluation, connections
        scenarios = [await run_scenario(url, n, args.turns) for n in args.concurrency]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)

    print(
        f"{'sessions':>8} {'turns':>6} {'TTFT p50':>9} {'TTFT p95':>9} "
        f"{'LLM p50':>8} {'LLM p95':>8} {'reply p50':>9} {'turns/s':>8}"
    )
    for s in scenarios:
        print(
            f"{s['sessions']:>8} {s['sessions'] * s['turns_per_session']:>6} "
            f"{s['client_ttft']['p50_ms']:>7.0f}ms {s['client_ttft']['p95_ms']:>7.0f}ms "
            f"{s['server_llm_ttft']['p50_ms']:>6.0f}ms {s['server_llm_ttft']['p95_ms']:>6.0f}ms "
            f"{s['reply_total']['p50_ms']:>7.0f}ms {s['turns_per_second']:>8}"
        )
    report = {
        "benchmark": "ttft_over_websocket",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "server": url if args.url else "started by the benchmark (embedded defaults)",
        "max_tokens": int(args.max_tokens),
        "scenarios": scenarios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    asyncio.run(main())
