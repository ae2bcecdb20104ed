"""Voice-in latency: WAV files streamed in real time over the WebSocket, like microphones.

For each spoken turn it measures, from the end of speech (the last speech sample leaving the
client, known from the WAV manifest):
- end of speech → final transcript (``input_audio.transcript.completed`` at the client),
- end of speech → first reply token (first ``response.text.delta`` of the reply),
- end of speech → first audio frame of the spoken reply (voice to voice, at the client),
and checks the transcript against the reference (WER). Separately it measures the ASR
real-time factor (Whisper tiny.en, same settings as the server) on the same audio in-process.
Runs with N concurrent speakers for each N in ``--concurrency``. Prints p50/p95, writes JSON.

    .venv/bin/python -m benchmarks.voice_latency --rounds 3 --concurrency 1 2 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from benchmarks.common import ROOT, running_server, summary_ms, write_report
from server.ws_client import RealtimeClient

FRAME_MS = 20


def load_wavs(folder: Path) -> list[dict[str, Any]]:
    manifest = folder / "manifest.json"
    if not manifest.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts/make_test_wavs.py"), str(folder)], check=True
        )
    entries: list[dict[str, Any]] = json.loads(manifest.read_text())["files"]
    for entry in entries:
        with wave.open(str(folder / entry["file"]), "rb") as w:
            entry["rate"] = w.getframerate()
            entry["pcm"] = w.readframes(w.getnframes())
    return entries


def _norm(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c in " '").split())


async def speak(url: str, entry: dict[str, Any], lead_s: float) -> dict[str, Any]:
    """Stream one WAV in real time and time the turn it makes."""
    client = RealtimeClient(url, audio_in=True, audio_out=True)
    await client.connect()
    await asyncio.sleep(lead_s)  # stagger concurrent speakers a little
    started = time.perf_counter()
    sender = asyncio.create_task(client.send_audio(entry["pcm"], entry["rate"], frame_ms=FRAME_MS))
    end_of_speech = started + entry["speech_end_s"]
    final_at = first_token_at = None
    transcript = ""
    item_id = None
    while True:
        event = await client.recv(timeout=60)
        now = time.perf_counter()
        if event["type"] == "input_audio.transcript.completed":
            final_at, transcript, item_id = now, event["text"], event["item_id"]
        elif event["type"] == "response.text.delta" and final_at and first_token_at is None:
            first_token_at = now
        elif event["type"] == "response.done" and event["status"] == "completed" and item_id:
            break
    first_audio_at = next((at for at, _ in client.audio if final_at and at >= final_at), None)
    await sender
    await client.close()
    return {
        "file": entry["file"],
        "eos_to_final_s": (final_at or now) - end_of_speech,
        "eos_to_first_token_s": (first_token_at or now) - end_of_speech,
        "eos_to_first_audio_s": (first_audio_at or now) - end_of_speech,
        "wer": jiwer.wer(_norm(entry["text"]), _norm(transcript)),
        "transcript": transcript,
    }


async def scenario(
    url: str, wavs: list[dict[str, Any]], speakers: int, rounds: int
) -> dict[str, Any]:
    turns: list[dict[str, Any]] = []
    for r in range(rounds):
        batch = [wavs[(r * speakers + i) % len(wavs)] for i in range(speakers)]
        turns += await asyncio.gather(
            *(speak(url, entry, 0.15 * i) for i, entry in enumerate(batch))
        )
    return {
        "speakers": speakers,
        "turns": len(turns),
        "eos_to_final_transcript": summary_ms([t["eos_to_final_s"] for t in turns]),
        "eos_to_first_reply_token": summary_ms([t["eos_to_first_token_s"] for t in turns]),
        "voice_to_voice": summary_ms([t["eos_to_first_audio_s"] for t in turns]),
        "mean_wer": round(float(np.mean([t["wer"] for t in turns])), 3),
        "turn_details": [{k: v for k, v in t.items()} for t in turns],
    }


def asr_real_time_factor(wavs: list[dict[str, Any]], repeats: int = 3) -> dict[str, float]:
    from speech.asr import FasterWhisperASR, whisper_tiny_en_path
    from speech.audio import pcm16_to_float

    asr = FasterWhisperASR(whisper_tiny_en_path(), workers=1, cpu_threads=2)
    asyncio.run(asr.start())
    factors = []
    for entry in wavs:
        audio = pcm16_to_float(entry["pcm"])
        for _ in range(repeats):
            factors.append(asr.transcribe_blocking(audio).real_time_factor)
    asr.close()
    return {
        "runs": len(factors),
        "p50": round(float(np.percentile(factors, 50)), 3),
        "p95": round(float(np.percentile(factors, 95)), 3),
    }


async def measure(url: str, wavs: list[dict[str, Any]], args: argparse.Namespace) -> list[Any]:
    await speak(url, wavs[0], 0)  # warm-up
    return [await scenario(url, wavs, n, args.rounds) for n in args.concurrency]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--wavs", type=Path, default=ROOT / "benchmarks/wavs")
    parser.add_argument("--rounds", type=int, default=3, help="turns per speaker")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/voice.json")
    args = parser.parse_args()

    wavs = load_wavs(args.wavs)
    rtf = asr_real_time_factor(wavs)
    if args.url:
        scenarios = asyncio.run(measure(args.url, wavs, args))
    else:
        with running_server({"AVATAR_LLM__MAX_TOKENS": "60"}) as url:
            scenarios = asyncio.run(measure(url, wavs, args))

    print(
        f"ASR real-time factor (Whisper tiny.en, int8, 2 threads): p50 {rtf['p50']} "
        f"p95 {rtf['p95']}"
    )
    print(
        f"{'speakers':>8} {'turns':>6} {'EOS→final p50':>14} {'p95':>7} "
        f"{'EOS→token p50':>14} {'p95':>7} {'voice→voice p50':>16} {'p95':>7} {'WER':>6}"
    )
    for s in scenarios:
        final, token = s["eos_to_final_transcript"], s["eos_to_first_reply_token"]
        v2v = s["voice_to_voice"]
        print(
            f"{s['speakers']:>8} {s['turns']:>6} {final['p50_ms']:>12.0f}ms "
            f"{final['p95_ms']:>5.0f}ms {token['p50_ms']:>12.0f}ms {token['p95_ms']:>5.0f}ms "
            f"{v2v['p50_ms']:>14.0f}ms {v2v['p95_ms']:>5.0f}ms {s['mean_wer']:>6}"
        )
    write_report(
        args.out,
        "voice_in_latency",
        frame_ms=FRAME_MS,
        asr_real_time_factor=rtf,
        scenarios=scenarios,
    )


if __name__ == "__main__":
    main()
