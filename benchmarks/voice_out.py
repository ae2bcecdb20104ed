"""Voice-out latency: text input → first audio frame at the client, alone and concurrent, and
the TTS real-time factor (Piper worker process, measured in-process on a sentence corpus).

    .venv/bin/python -m benchmarks.voice_out --turns 8 --concurrency 1 2 4
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import ROOT, running_server, summary_ms, write_report
from benchmarks.ttft import QUESTIONS
from server.ws_client import RealtimeClient
from speech.tts import ProcessTTS, piper_worker_command

SENTENCES = [
    "Hello there, how can I help you today?",
    "We open at nine on weekdays and at ten on Sundays.",
    "Your order has been shipped and should arrive on Thursday.",
    "I'm sorry to hear that. Let me see what I can do.",
    "The blue jacket costs forty two dollars.",
]


async def speaker(url: str, turns: int, offset: int) -> dict[str, list[float]]:
    client = RealtimeClient(url, audio_out=True)
    await client.connect()
    first_audio: list[float] = []
    first_segment: list[float] = []
    for i in range(turns):
        client.audio.clear()
        sent = time.perf_counter()
        await client.send({"type": "input.text", "text": QUESTIONS[(offset + i) % len(QUESTIONS)]})
        segment_at = None
        while True:
            event = await client.recv(timeout=120)
            if event["type"] == "response.audio.segment" and segment_at is None:
                segment_at = time.perf_counter()
            if event["type"] == "response.done":
                break
        if client.audio and segment_at is not None:
            first_audio.append(client.audio[0][0] - sent)
            first_segment.append(segment_at - sent)
    await client.close()
    return {"first_audio": first_audio, "first_segment": first_segment}


async def scenario(url: str, sessions: int, turns: int) -> dict[str, Any]:
    results = await asyncio.gather(*(speaker(url, turns, 2 * i) for i in range(sessions)))
    audio = [v for r in results for v in r["first_audio"]]
    segment = [v for r in results for v in r["first_segment"]]
    return {
        "sessions": sessions,
        "turns": len(audio),
        "text_to_first_audio_frame": summary_ms(audio),
        "text_to_first_segment_event": summary_ms(segment),
    }


async def tts_real_time_factor(repeats: int = 3) -> dict[str, float]:
    tts = ProcessTTS(piper_worker_command(), workers=1)
    await tts.start()
    factors = []
    for _ in range(repeats):
        for sentence in SENTENCES:
            started = time.perf_counter()
            result = await tts.synthesize(sentence)
            factors.append((time.perf_counter() - started) / (result.samples / result.sample_rate))
    await tts.aclose()
    return {
        "runs": len(factors),
        "p50": round(float(np.percentile(factors, 50)), 3),
        "p95": round(float(np.percentile(factors, 95)), 3),
    }


async def measure(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    await speaker(url, 1, 0)  # warm-up
    return [await scenario(url, n, args.turns) for n in args.concurrency]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--turns", type=int, default=8, help="turns per session")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/voice_out.json")
    args = parser.parse_args()

    rtf = asyncio.run(tts_real_time_factor())
    if args.url:
        scenarios = asyncio.run(measure(args.url, args))
    else:
        with running_server({"AVATAR_LLM__MAX_TOKENS": "60"}) as url:
            scenarios = asyncio.run(measure(url, args))

    print(
        f"TTS real-time factor (Piper joe-medium, worker process): p50 {rtf['p50']} "
        f"p95 {rtf['p95']}"
    )
    print(
        f"{'sessions':>8} {'turns':>6} {'first audio p50':>16} {'p95':>7} "
        f"{'first segment p50':>18} {'p95':>7}"
    )
    for s in scenarios:
        audio, seg = s["text_to_first_audio_frame"], s["text_to_first_segment_event"]
        print(
            f"{s['sessions']:>8} {s['turns']:>6} {audio['p50_ms']:>14.0f}ms "
            f"{audio['p95_ms']:>5.0f}ms {seg['p50_ms']:>16.0f}ms {seg['p95_ms']:>5.0f}ms"
        )
    write_report(args.out, "voice_out_latency", tts_real_time_factor=rtf, scenarios=scenarios)


if __name__ == "__main__":
    main()
