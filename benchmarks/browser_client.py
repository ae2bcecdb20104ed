"""The browser client, measured in Debian's Chromium against a real server: typed message → the
avatar's voice heard (client play start), barge-in (stop requested → audio silent), animation
frame rate while speaking, and jitter-buffer underruns.

    .venv/bin/python -m benchmarks.browser_client --turns 10

Headless Chromium renders WebGL in software (SwiftShader) on this machine's 2 cores, so the frame
rate is a floor, not what a user with a GPU sees.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from benchmarks.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    running_server,
    summary_ms,
    write_report,
)
from benchmarks.ttft import QUESTIONS

# One turn in the page: send, wait for the voice, speak for 1.2 s, then barge in.
TURN_JS = """async (text) => {
  const app = window.avatarApp;
  const player = () => app.player;
  let firstFrame = null;
  const onAudio = () => { firstFrame ??= performance.now(); };
  app.connection.addEventListener('audio', onAudio);
  const t0 = performance.now();
  await app.sendText(text);
  const started = await new Promise((resolve, reject) => {
    const poll = () => player()?.playing ? resolve(performance.now()) : setTimeout(poll, 2);
    poll();
    setTimeout(() => reject(new Error('no audio within 30 s')), 30000);
  });
  app.connection.removeEventListener('audio', onAudio);
  const frames0 = app.stage.frames;
  await new Promise((r) => setTimeout(r, 1200));
  const fps = (app.stage.frames - frames0) / ((performance.now() - started) / 1000);
  const stillPlaying = player().playing;
  const s0 = performance.now();
  await app.stopPlayback();
  const stopMs = performance.now() - s0;
  return {firstAudioMs: started - t0, firstFrameMs: firstFrame - t0, fps,
          stopMs: stillPlaying ? stopMs : null,
          underruns: player().underruns,
          outputLatencyMs: (app.context.outputLatency || 0) * 1000,
          baseLatencyMs: (app.context.baseLatency || 0) * 1000};
}"""


async def run(url: str, turns: int) -> list[dict[str, Any]]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
            headless=True,
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(url)
        await page.wait_for_function(
            "window.avatarApp && window.avatarApp.debug().state === 'open'", timeout=30_000
        )
        results = []
        for i in range(turns):
            results.append(await page.evaluate(TURN_JS, QUESTIONS[i % len(QUESTIONS)]))
            await page.wait_for_timeout(300)
        await browser.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/browser_client.json")
    args = parser.parse_args()
    with running_server({"AVATAR_LLM__MAX_TOKENS": "60"}) as ws_url:
        http = ws_url.replace("ws://", "http://").removesuffix("/v1/realtime")
        turns = asyncio.run(run(http + "/", args.turns))
    first_audio = summary_ms([t["firstAudioMs"] / 1000 for t in turns])
    first_frame = summary_ms([t["firstFrameMs"] / 1000 for t in turns])
    stops = summary_ms([t["stopMs"] / 1000 for t in turns if t["stopMs"] is not None])
    fps = sorted(t["fps"] for t in turns)
    print(
        f"typed message → voice heard: p50 {first_audio['p50_ms']} ms, p95 {first_audio['p95_ms']}"
    )
    print(
        f"typed message → first audio frame received: p50 {first_frame['p50_ms']} ms, "
        f"p95 {first_frame['p95_ms']}"
    )
    print(f"barge-in stop → silent:       p50 {stops['p50_ms']} ms, p95 {stops['p95_ms']}")
    print(f"frames/s while speaking (SwiftShader): median {fps[len(fps) // 2]:.1f}")
    print(f"underruns in {len(turns)} turns: {turns[-1]['underruns']}")
    write_report(
        args.out,
        "browser_client",
        turns=len(turns),
        typed_to_voice_heard=first_audio,
        typed_to_first_audio_frame=first_frame,
        barge_in_stop=stops,
        fps_median=round(fps[len(fps) // 2], 1),
        underruns=turns[-1]["underruns"],
        output_latency_ms=round(turns[0]["outputLatencyMs"], 1),
        base_latency_ms=round(turns[0]["baseLatencyMs"], 1),
        raw=turns,
    )


if __name__ == "__main__":
    main()
