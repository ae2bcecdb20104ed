"""The browser harness itself: Chromium starts, WebGL renders (SwiftShader), the fake microphone
plays a WAV once into getUserMedia, page errors are caught, and the widget set-up (server with the
built client, host page on a second origin) answers."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import (
    MIC_TAIL_MS,
    WIDGET_KEY,
    FakeMic,
    OpenPage,
    ServeStatic,
    Shot,
    StaticSite,
)
from tests.e2e.conftest import ServerProcess

PROBE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>probe</title><link rel="icon" href="data:,"></head>
<body style="margin:0;font:20px system-ui">
<canvas id="gl" width="320" height="200"></canvas><p id="info">probe</p>
</body></html>
"""

WEBGL_JS = """() => {
  const out = {};
  for (const kind of ['webgl2', 'webgl']) {
    const gl = document.createElement('canvas').getContext(kind);
    if (!gl) { out[kind] = null; continue; }
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    out[kind] = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  }
  // Draw something: a clear colour, read back.
  const gl = document.getElementById('gl').getContext('webgl2', {preserveDrawingBuffer: true});
  gl.clearColor(0.2, 0.6, 0.3, 1);
  gl.clear(gl.COLOR_BUFFER_BIT);
  const pixel = new Uint8Array(4);
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
  out.pixel = Array.from(pixel);
  return out;
}"""

# RMS of the fake microphone every 50 ms for `ms`, through an AnalyserNode.
MIC_RMS_JS = """async (ms) => {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const rms = [];
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    rms.push([performance.now() - t0, Math.sqrt(sum / samples.length)]);
  }
  const track = stream.getAudioTracks()[0];
  const result = {state: context.state, rate: context.sampleRate, label: track.label, rms};
  track.stop();
  await context.close();
  return result;
}"""


async def test_webgl_and_fake_microphone(
    open_page: OpenPage, serve_static: ServeStatic, fake_mic: FakeMic, shot: Shot, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(PROBE_PAGE)
    site = serve_static(tmp_path)
    # 300 ms of silence, about a second of speech, then the harness's one-second silent tail.
    mic = fake_mic(300, "Hello there.")
    with wave.open(str(mic)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48000, 1, 2)
        file_ms = 1000 * wav.getnframes() / wav.getframerate()
    async with open_page(f"{site.url}/index.html", mic_wav=mic) as page:
        gl: dict[str, Any] = await page.evaluate(WEBGL_JS)
        print(f"WebGL renderer: {gl['webgl2']}")
        assert gl["webgl2"] and gl["webgl"], gl
        assert gl["pixel"] == [51, 153, 77, 255]

        heard: dict[str, Any] = await page.evaluate(MIC_RMS_JS, file_ms + 1500)
        await page.evaluate("t => document.getElementById('info').textContent = t", repr(gl))
        await shot(page, "probe")
    assert heard["state"] == "running", "autoplay policy: the context runs without a gesture"
    assert heard["label"] == "Fake Default Audio Input"
    speech = [rms for t, rms in heard["rms"] if t < file_ms - MIC_TAIL_MS]
    assert max(speech) > 0.01, heard["rms"]
    # The file played once (%noloop): no second "Hello there." where a loop would put it.
    after = [rms for t, rms in heard["rms"] if file_ms + 300 < t < file_ms + 1300]
    assert after and max(after) < 1e-4, heard["rms"]


async def test_uncaught_page_errors_are_collected(
    open_page: OpenPage, serve_static: ServeStatic, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(PROBE_PAGE)
    site = serve_static(tmp_path)
    async with open_page(f"{site.url}/index.html", allow_errors=True) as page:
        await page.evaluate(
            "() => { console.info('hello'); setTimeout(() => { throw new Error('boom'); }); }"
        )
        await page.wait_for_timeout(200)
        assert any("boom" in e for e in page.errors), page.errors
        assert "info: hello" in page.console_log


async def test_widget_key_lists_the_second_origin_only(
    frontend_server: ServerProcess,
    second_origin: StaticSite,
    third_origin: StaticSite,
    open_page: OpenPage,
    shot: Shot,
) -> None:
    assert second_origin.origin != third_origin.origin != frontend_server.http
    async with httpx.AsyncClient(base_url=frontend_server.http, timeout=5) as http:
        index = await http.get("/")
        widget = await http.get("/widget.js")
    assert index.status_code == 200 and "app.js" in index.text
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]

    # The token request from the page, as the widget makes it; "blocked" when CORS refuses it.
    token_js = """async ([server, key]) => {
      try {
        const r = await fetch(`${server}/v1/widget/token`, {method: 'POST',
          headers: {'content-type': 'application/json'}, body: JSON.stringify({key})});
        return r.status;
      } catch (e) { return 'blocked'; }
    }"""
    query = f"widget.html?server={frontend_server.http}"
    async with open_page(f"{second_origin.url}/{query}") as page:
        assert await page.title() == "Acme Support — Help Center"
        await page.wait_for_function("() => customElements.get('avatar-agent-widget')")
        assert await page.evaluate(token_js, [frontend_server.http, WIDGET_KEY]) == 200
        await shot(page, "host-page")
    async with open_page(f"{third_origin.url}/{query}") as page:
        # The preflight is refused (403 without CORS headers), so the browser blocks the request.
        refused = await page.evaluate(token_js, [frontend_server.http, WIDGET_KEY])
        assert refused in (403, "blocked")
