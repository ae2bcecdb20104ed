"""Browser tests: the built client in Debian's Chromium, driven by Playwright's async API.

Every test in this folder is marked ``browser``. Chromium is the system one (``/usr/bin/chromium``,
``scripts/ensure-system-packages.sh`` installs it); Playwright never downloads a browser here.
Without it, tests that open a page are skipped, except where ``CI`` is set: there they fail.

Fixtures (signatures as tests use them):

- ``browser_page``, alias ``open_page``: ``async with open_page(url=None, mic_wav=None, *,
  allow_errors=False) as page`` gives a Playwright ``Page`` in a fresh Chromium (one browser per
  page: the fake microphone is a launch flag), after ``page.goto(url)`` when a URL is given.
  ``page.console_log`` lists ``"<type>: <text>"`` console lines and page errors as they come,
  ``page.errors`` the uncaught page errors; leaving the block fails the test if there were any
  (unless ``allow_errors``), with a screenshot ``<test>-failure.png``.
- ``shot(page, label)``: awaitable; saves ``artifacts/browser/<test-name>-<label>.png``.
- ``fake_mic(*parts, name="mic") -> Path``: a 16-bit mono 48 kHz WAV for ``mic_wav``: ``str``
  parts are spoken by the Piper test voice (tests/speech_corpus.py), numbers are milliseconds of
  silence, float32 arrays are 16 kHz audio. A second of silence is always appended: Chromium
  plays the file once (``%noloop``), from its start each time a capture opens, and then repeats
  its last buffer, which must be silence.
- ``serve_static(directory, *, cors=False)``: serves a folder over HTTP on a free port of
  127.0.0.1 (its own origin) for the module; returns a ``StaticSite`` (``.url``, ``.origin``).
- ``second_origin``: ``frontend/demo/`` served on another origin, listed by the widget key
  ``pk_test``; the host page is
  ``f"{second_origin.url}/widget.html?server={frontend_server.http}"``.
- ``third_origin``: the same folder on one more origin that no key lists.
- ``frontend_server``: one ``avatar-agent serve`` (module scope, tests/e2e's ``start_server``)
  serving the freshly built ``frontend/dist``, with ``WIDGET_KEY`` allowed for
  ``second_origin`` and a fixed ``WIDGET_TOKEN_SECRET``. ``widget_env(origins)`` builds the same
  environment for a server of your own (``start_server("name", **widget_env([...]))``).
- ``avatar_files``: the generated test avatars (tests/browser/avatar_fixtures.py), a dict
  ``{"visemes": Path(.glb), "arkit": Path(.glb), "vrm": Path(.vrm)}`` in one folder.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from playwright.async_api import async_playwright

from benchmarks.common import CHROMIUM, CHROMIUM_ARGS
from tests import speech_corpus as corpus
from tests.browser import avatar_fixtures
from tests.e2e import conftest as e2e
from tests.e2e.conftest import ROOT, ServerProcess, StartServer

# tests/e2e's server fixtures, reused here by name: one `avatar-agent serve` per module.
server_prefix = e2e.server_prefix
start_server = e2e.start_server

HERE = Path(__file__).resolve().parent
FRONTEND = ROOT / "frontend"
DEMO = FRONTEND / "demo"
ARTIFACTS = ROOT / "artifacts" / "browser"
IN_CI = bool(os.environ.get("CI"))

#: Added when a page gets a fake microphone; the WAV path follows the last flag.
MIC_ARGS = (
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--use-file-for-fake-audio-capture=",
)
MIC_RATE = 48000
#: Trailing silence of every fake-mic WAV (see fake_mic).
MIC_TAIL_MS = 1000

WIDGET_KEY = "pk_test"
WIDGET_TOKEN_SECRET = "browser-tests-widget-token-secret-0123456789"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def missing(what: str, hint: str) -> None:
    """Skip the test for lack of ``what``, or fail it where CI is set."""
    message = f"{what} is missing ({hint})"
    if IN_CI:
        pytest.fail(f"{message}; CI must run the browser tests")
    pytest.skip(message)


# ── browser pages ────────────────────────────────────────────────────────────


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")


def launch_args(mic_wav: Path | None = None) -> list[str]:
    """Chromium's flags, with ``mic_wav`` played once as the microphone when given."""
    args = list(CHROMIUM_ARGS)
    if mic_wav is not None:
        wav = Path(mic_wav).resolve()
        if not wav.is_file():
            raise FileNotFoundError(wav)
        *flags, file_flag = MIC_ARGS
        args += [*flags, f"{file_flag}{wav}%noloop"]
    return args


Shot = Callable[[Any, str], Awaitable[Path]]
OpenPage = Callable[..., AbstractAsyncContextManager[Any]]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``await shot(page, label)``: a screenshot at ``artifacts/browser/<test>-<label>.png``."""
    prefix = _artifact_name(request.node.name)

    async def take(page: Any, label: str) -> Path:
        path = ARTIFACTS / f"{prefix}-{_artifact_name(label)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium (session scope: checked before any module's server starts)."""
    if not CHROMIUM.is_file():
        missing("Chromium (/usr/bin/chromium)", "run scripts/ensure-system-packages.sh as root")
    return CHROMIUM


@pytest.fixture
def browser_page(chromium: Path, shot: Shot) -> OpenPage:
    """``async with browser_page(url, mic_wav=None) as page``: see the module docstring."""

    @asynccontextmanager
    async def open_(
        url: str | None = None, mic_wav: Path | None = None, *, allow_errors: bool = False
    ) -> AsyncIterator[Any]:
        args = launch_args(mic_wav)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), args=args)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 800})
                page = await context.new_page()
                page.console_log = log = []
                page.errors = errors = []
                page.on("console", lambda m: log.append(f"{m.type}: {m.text}"))

                def on_error(error: Any) -> None:
                    text = error.stack or f"{error.name}: {error.message}"
                    errors.append(text)
                    log.append(f"pageerror: {text}")

                page.on("pageerror", on_error)
                if url is not None:
                    await page.goto(url)
                yield page
                if errors and not allow_errors:
                    await shot(page, "failure")
                    pytest.fail(
                        "uncaught errors in the page:\n"
                        + "\n".join(errors)
                        + "\n-- console --\n"
                        + "\n".join(log[-40:]),
                        pytrace=False,
                    )
            finally:
                await browser.close()

    return open_


@pytest.fixture
def open_page(browser_page: OpenPage) -> OpenPage:
    """The same as ``browser_page``, under the name tests call it by."""
    return browser_page


# ── fake microphone ──────────────────────────────────────────────────────────

FakeMic = Callable[..., Path]


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where Piper speech is cached for this session."""
    return tmp_path_factory.mktemp("browser_speech")


@pytest.fixture
def fake_mic(tmp_path: Path, speech_cache: Path) -> FakeMic:
    """``fake_mic(500, "Hello.", 800, "Do you ship to Canada?", name="mic") -> Path`` (WAV).

    Parts (also accepted as one list): text, spoken by Piper; a number, milliseconds of silence;
    a float32 array, 16 kHz audio from tests/speech_corpus.py (noise, breathing, espeak_speech).
    """

    def make(*parts: str | float | corpus.Audio | Sequence[Any], name: str = "mic") -> Path:
        if len(parts) == 1 and isinstance(parts[0], list | tuple):
            parts = tuple(parts[0])
        pieces = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(corpus.piper_speech(part, cache_dir=speech_cache))
            elif isinstance(part, np.ndarray):
                pieces.append(part.astype(np.float32))
            elif isinstance(part, int | float) and part >= 0:
                pieces.append(corpus.pause(part))
            else:
                raise TypeError(f"fake_mic parts are text, milliseconds or audio: {part!r}")
        pieces.append(corpus.pause(MIC_TAIL_MS))
        audio = corpus.concat(*pieces)
        audio = soxr.resample(audio, corpus.RATE, MIC_RATE, quality="HQ").astype(np.float32)
        path = tmp_path / f"{name}.wav"
        corpus.write_wav(path, audio, rate=MIC_RATE)
        return path

    return make


# ── static origins ───────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StaticSite:
    directory: Path
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin


class _Handler(http.server.SimpleHTTPRequestHandler):
    cors = False
    extensions_map = {  # noqa: RUF012 - the stdlib's own class attribute
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".glb": "model/gltf-binary",
        ".vrm": "model/gltf-binary",
        ".mjs": "text/javascript",
        ".wav": "audio/wav",
    }

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows stderr of failing tests


ServeStatic = Callable[..., StaticSite]


@pytest.fixture(scope="module")
def serve_static() -> Iterator[ServeStatic]:
    """``serve_static(directory, *, cors=False) -> StaticSite``: a folder on its own origin."""
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def serve(directory: Path, *, cors: bool = False) -> StaticSite:
        handler = type("Handler", (_Handler,), {"cors": cors})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="static", daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return StaticSite(Path(directory), server.server_address[1])

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def second_origin(serve_static: ServeStatic) -> StaticSite:
    """frontend/demo/ on its own origin, the one the widget key lists (widget.html is there)."""
    return serve_static(DEMO)


@pytest.fixture(scope="module")
def third_origin(serve_static: ServeStatic) -> StaticSite:
    """frontend/demo/ on yet another origin, which no widget key lists."""
    return serve_static(DEMO)


# ── the avatar server with the built client ──────────────────────────────────


def build_frontend() -> None:
    """Install and build frontend/dist if anything changed (scripts/setup-frontend.sh)."""
    if shutil.which("node") is None:
        missing("Node.js", "the browser client is built with node; see scripts/setup-frontend.sh")
    done = subprocess.run(
        [str(ROOT / "scripts" / "setup-frontend.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not (FRONTEND / "dist" / "app.js").is_file():
        pytest.fail(f"frontend build failed:\n{done.stdout}\n{done.stderr}", pytrace=False)


def widget_env(origins: list[str], *, persona: str | None = None) -> dict[str, str]:
    """Server environment with the key ``WIDGET_KEY`` for ``origins`` and a fixed secret."""
    key: dict[str, Any] = {"origins": origins}
    if persona is not None:
        key["persona"] = persona
    return {
        "AVATAR_WIDGET__KEYS": json.dumps({WIDGET_KEY: key}),
        "AVATAR_WIDGET__TOKEN_SECRET": WIDGET_TOKEN_SECRET,
    }


@pytest.fixture(scope="module")
def frontend_server(start_server: StartServer, second_origin: StaticSite) -> ServerProcess:
    """``avatar-agent serve`` with the built client; ``pk_test`` is valid on ``second_origin``."""
    build_frontend()
    return start_server("browser", **widget_env([second_origin.origin]))


@pytest.fixture(scope="session")
def avatar_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated avatars, ``{"visemes": …/visemes.glb, "arkit": …/arkit.glb, "vrm": …/vrm.vrm}``
    in one folder (serve it with ``serve_static(folder, cors=True)`` for a cross-origin URL)."""
    folder = tmp_path_factory.mktemp("avatars")
    return {kind: avatar_fixtures.write_avatar(kind, folder) for kind in avatar_fixtures.AVATARS}
