"""A Python client of protocol v1, used by ``avatar-agent chat``, the benchmark and the tests.

It keeps the session across dropped sockets: on a disconnect it reconnects with
``session.resume`` (retrying while the server answers ``session_busy``), drops events it has
already seen by ``seq``, and carries on with what was replayed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol.audio_frames import AudioFrame, FrameKind, decode_frame, encode_frame
from server.protocol.messages import PROTOCOL_VERSION

Event = dict[str, Any]


class ServerError(RuntimeError):
    def __init__(self, event: Event) -> None:
        super().__init__(f"{event.get('code')}: {event.get('message')}")
        self.event = event
        self.code: str = event.get("code", "")


@dataclass
class Reply:
    response_id: str
    text: str
    status: str
    deltas: int
    first_delta_s: float | None
    """Seconds from sending the input to the first text delta, measured here at the client."""
    done: Event = field(default_factory=dict)


class RealtimeClient:
    def __init__(
        self,
        url: str,
        *,
        persona: str | None = None,
        origin: str | None = None,
        api_key: str | None = None,
        on_delta: Callable[[str], None] | None = None,
        max_resume_wait_s: float = 30.0,
        heartbeat: bool = True,
        audio_in: bool = False,
        audio_out: bool = False,
        on_audio: Callable[[float, AudioFrame], None] | None = None,
    ) -> None:
        self.url = url
        self.persona = persona
        self.origin = origin
        self.api_key = api_key
        """Sent as ``Authorization: Bearer`` on every upgrade (server-to-server clients)."""
        self.on_delta = on_delta
        self.max_resume_wait_s = max_resume_wait_s
        self.heartbeat = heartbeat
        self.capabilities = {"text": True, "audio_in": audio_in, "audio_out": audio_out}
        self.audio: list[tuple[float, AudioFrame]] = []
        """Output audio frames received, with their arrival time (perf_counter)."""
        self.on_audio = on_audio
        """Called with (arrival time, frame) for each output audio frame, as it arrives."""
        self._audio_seq = 0
        self._audio_pts = 0
        self.session_id: str | None = None
        self.resume_token: str | None = None
        self.last_seq = 0
        self.events: list[Event] = []
        self._moving = False
        """A resumable session.closing arrived: the next send resumes first."""
        """Every event received, in order, without duplicates."""
        self.started: Event | None = None
        self._ws: ClientConnection | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._replayed: collections.deque[Event] = collections.deque()
        """Events replayed before session.resumed, kept for the next reads."""

    # ── connection ─────────────────────────────────────────────────────────

    async def connect(self) -> Event:
        """Open a socket and start a new session; returns ``session.started``."""
        await self._open()
        await self.send(
            {
                "type": "session.start",
                "protocol_version": PROTOCOL_VERSION,
                "capabilities": self.capabilities,
                **({"persona": self.persona} if self.persona else {}),
            }
        )
        event = await self.wait_for("session.started")
        self.started = event
        self.session_id = event["session_id"]
        self.resume_token = event["resume_token"]
        self._start_heartbeat(event["config"]["heartbeat_interval_s"])
        return event

    async def resume(self) -> Event:
        """Reconnect to the current session; retries while it is busy. Returns session.resumed."""
        deadline = time.monotonic() + self.max_resume_wait_s
        self._moving = False
        while True:
            await self.close()
            try:
                await self._open()
            except InvalidStatus as exc:  # e.g. 503 from a process that is draining
                if exc.response.status_code != 503 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            await self.send(
                {
                    "type": "session.resume",
                    "protocol_version": PROTOCOL_VERSION,
                    "session_id": self.session_id,
                    "resume_token": self.resume_token,
                    "capabilities": self.capabilities,
                    "last_seq": self.last_seq,
                }
            )
            try:
                event = await self._await_resumed()
            except ServerError as exc:
                if exc.code != "session_busy" or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(min(2.0, (exc.event.get("retry_after_ms") or 500) / 1000))
                continue
            except TimeoutError:
                raise
            except (ConnectionClosed, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            self.resume_token = event["resume_token"]
            self._start_heartbeat(event["config"]["heartbeat_interval_s"])
            return event

    async def fetch_history(self, beyond: int = 1000) -> list[Event]:
        """The conversation as the server's history keeps it (``{item_id, role, text}``).

        Reconnects claiming a ``last_seq`` beyond the server's log, which the server answers
        with the history in ``session.resumed`` (docs/protocol.md, "Gaps"); numbering goes on
        after the claimed seq. Call it while no reply runs: events in flight are not replayed.
        """
        self.last_seq += beyond
        event = await self.resume()
        return list(event.get("history") or [])

    async def _await_resumed(self) -> Event:
        """Read up to session.resumed; the missed events replayed before it are kept."""
        replayed: list[Event] = []
        while True:
            event = await self.recv(timeout=15)
            if event["type"] == "session.resumed":
                self._replayed.extend(replayed)
                return event
            if event["type"] == "error":
                raise ServerError(event)
            replayed.append(event)

    async def _open(self) -> None:
        headers = {"Origin": self.origin} if self.origin else {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        self._ws = await websockets.connect(
            self.url, additional_headers=headers, max_size=4 * 1024 * 1024, open_timeout=10
        )

    def _start_heartbeat(self, interval_s: float) -> None:
        """Ping every ``interval_s`` so an idle but living client is not timed out."""
        if self.heartbeat and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.create_task(self._beat(interval_s), name="ws-heartbeat")

    async def _beat(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if self._ws is not None:
                with contextlib.suppress(ConnectionClosed, OSError):
                    await self._ws.send(json.dumps({"type": "ping"}))

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def drop(self) -> None:
        """Abort the TCP connection without a closing handshake (a network failure)."""
        if self._ws is not None:
            self._ws.transport.abort()
            await self._ws.wait_closed()
            self._ws = None

    # ── messages ───────────────────────────────────────────────────────────

    def _socket(self) -> ClientConnection:
        if self._ws is None:
            raise ConnectionError("not connected")
        return self._ws

    async def send(self, message: Event) -> None:
        """Send a message; after a resumable ``session.closing`` (the server is draining or
        lost the lease), resume first, so the message reaches the session's new home."""
        if self._moving:
            await self.resume()
        await self._socket().send(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        await self._socket().send(data)

    async def send_audio(
        self, pcm16: bytes, sample_rate: int = 16000, *, frame_ms: int = 20, realtime: bool = True
    ) -> None:
        """Stream PCM16 mono audio as binary frames of ``frame_ms``, paced like a microphone."""
        step = sample_rate * frame_ms // 1000 * 2
        started = time.perf_counter()
        for offset in range(0, len(pcm16), step):
            chunk = pcm16[offset : offset + step]
            frame = AudioFrame(
                FrameKind.INPUT_AUDIO, 1, self._audio_seq, self._audio_pts, sample_rate, chunk
            )
            await self.send_raw(encode_frame(frame))
            self._audio_seq += 1
            self._audio_pts += len(chunk) // 2
            if realtime:
                due = started + (offset + len(chunk)) / 2 / sample_rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

    async def recv(self, timeout: float = 60.0) -> Event:
        """Next new event (duplicates by seq are skipped). Raises ``ConnectionClosed``."""
        if self._replayed:
            return self._replayed.popleft()
        ws = self._socket()
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            if isinstance(raw, bytes):
                arrived = (time.perf_counter(), decode_frame(raw))
                self.audio.append(arrived)
                if self.on_audio is not None:
                    self.on_audio(*arrived)
                continue
            event: Event = json.loads(raw)
            seq = event.get("seq", 0)
            if seq and seq <= self.last_seq:
                continue
            if seq:
                self.last_seq = seq
            if event.get("type") == "session.closing" and event.get("resumable"):
                self._moving = True
            self.events.append(event)
            return event

    async def wait_for(
        self, *types: str, resumable: bool = True, timeout: float = 60.0, raise_errors: bool = True
    ) -> Event:
        """Receive until an event of one of ``types``; ``error`` events raise ``ServerError``.

        With ``resumable``, a dropped socket is resumed transparently and waiting goes on.
        """
        while True:
            try:
                event = await self.recv(timeout)
            except TimeoutError:
                raise  # the server is silent, not gone: resuming would hide that
            except (ConnectionClosed, OSError):
                if not resumable or self.session_id is None:
                    raise
                await self.resume()
                continue
            if event["type"] in types:
                return event
            if event["type"] == "error" and raise_errors:
                raise ServerError(event)
            if event["type"] == "response.text.delta" and self.on_delta:
                self.on_delta(event["delta"])

    async def ask(self, text: str, timeout: float = 120.0) -> Reply:
        """Send a typed turn and wait for its reply to finish (resuming if the socket drops)."""
        sent = time.perf_counter()
        try:
            await self.send({"type": "input.text", "text": text})
        except (ConnectionClosed, ConnectionError):  # dropped (or idle-closed) while we waited
            await self.resume()
            sent = time.perf_counter()
            await self.send({"type": "input.text", "text": text})
        committed = await self.wait_for("input.committed", timeout=timeout)
        first: float | None = None
        deltas = 0
        response_id: str | None = None
        while True:
            event = await self.wait_for(
                "response.created", "response.text.delta", "response.done", timeout=timeout
            )
            if event["type"] == "response.created":
                if event["input_item_id"] == committed["item_id"]:
                    response_id = event["response_id"]
            elif event.get("response_id") != response_id:
                continue
            elif event["type"] == "response.text.delta":
                deltas += 1
                if first is None:
                    first = time.perf_counter() - sent
                if self.on_delta:
                    self.on_delta(event["delta"])
            else:
                if event["status"] == "failed" and event.get("reason") == "server_lost":
                    response_id = None  # the new owner answers again; wait for that reply
                    continue
                return Reply(
                    response_id or "", event["text"], event["status"], deltas, first, event
                )
