"""Time to first text token over the WebSocket: N sequential turns, then N concurrent sessions.

Measured at the client, from sending ``input.text`` to receiving the first
``response.text.delta`` (so it includes the socket, Redis writes, queueing and the model). Starts
its own server with the embedded defaults unless ``--url`` is given. Prints p50/p95 and writes
JSON (default: benchmarks/results/ttft.json).

    .venv/bin/python -m benchmarks.ttft --turns 20 --concurrency 1 2 4 8
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, running_server, summary_ms, write_report
from server.ws_client import RealtimeClient

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
        "client_ttft": summary_ms(merged["ttft"]),
        "server_llm_ttft": summary_ms(merged["server_ttft"]),
        "reply_total": summary_ms(merged["total"]),
        "turns_per_second": round(sessions * turns / wall, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--turns", type=int, default=20, help="turns per session")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--max-tokens", default="60", help="reply length cap for the server")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ttft.json")
    args = parser.parse_args()

    async def measure(url: str) -> list[dict[str, Any]]:
        await run_scenario(url, 1, 2)  # warm-up: first prompt evaluation, connections
        return [await run_scenario(url, n, args.turns) for n in args.concurrency]

    if args.url:
        scenarios = await measure(args.url)
        url = args.url
    else:
        with running_server({"AVATAR_LLM__MAX_TOKENS": args.max_tokens}) as url:
            scenarios = await measure(url)

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
    write_report(
        args.out,
        "ttft_over_websocket",
        server=url if args.url else "started by the benchmark (embedded defaults)",
        max_tokens=int(args.max_tokens),
        scenarios=scenarios,
    )


if __name__ == "__main__":
    asyncio.run(main())
