"""One session driven like the browser client, over the real protocol, with everything timed.

``LiveSession`` wraps ``RealtimeClient``: a reader task records every event with its arrival
time; a ``Microphone`` streams 20 ms frames in real time (silence, or the speech it is given);
a simulated player (``evals/playback.py``) plays the avatar's audio with the browser's 60 ms
prebuffer and reports ``playback.position`` like the browser does (when it starts, every
250 ms, on an underrun, at the end). Evals and the waterfall benchmark both build on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from websockets.exceptions import ConnectionClosed

from evals.playback import StreamPlayer
from evals.record import Event, Frame, Reply, TimedEvent, build_replies
from server.protocol.audio_frames import AudioFrame, FrameKind, encode_frame
from server.ws_client import RealtimeClient

T = TypeVar("T")

MIC_RATE = 16000
MIC_FRAME_MS = 20
REPORT_EVERY_MS = 250
"""How often the browser client reports its playback position (frontend/src/ui/app.js)."""
FAST_REPORT_EVERY_MS = 100


class SessionLost(RuntimeError):
    """The socket closed (or the server went silent) while the session was waited on."""


@dataclass
class Utterance:
    """Speech handed to the microphone; ``started`` resolves with the time of its first sample."""

    pcm: bytes
    started: asyncio.Future[float]
    finished: asyncio.Future[float]
    stream_ms: float = 0.0
    """Where it begins on the microphone's stream (the server's input audio clock)."""


class Microphone:
    """Streams 16 kHz PCM16 in 20 ms frames in real time: queued speech, else silence.

    Like a real microphone, frame k (audio from k·20 ms to (k+1)·20 ms after the start) is sent
    when its last sample has been captured, at start + (k+1)·20 ms. An utterance begins on a
    frame boundary; its ``started`` time is when its first sample was "captured", so the end of
    its speech is ``started + speech_end_s``.
    """

    def __init__(self) -> None:
        self._queue: collections.deque[Utterance] = collections.deque()
        self._step = MIC_RATE * MIC_FRAME_MS // 1000 * 2
        self._silence = bytes(self._step)
        self.frames_sent = 0

    def speak(self, pcm16: bytes) -> Utterance:
        loop = asyncio.get_running_loop()
        utterance = Utterance(pcm16, loop.create_future(), loop.create_future())
        self._queue.append(utterance)
        return utterance

    async def run(self, send_frame: Callable[[bytes], Awaitable[None]]) -> None:
        """Stream until cancelled; ``send_frame`` is awaited with each encoded frame."""
        started = time.perf_counter()
        current: Utterance | None = None
        offset = 0
        seq = 0
        while True:
            frame_start = started + seq * MIC_FRAME_MS / 1000
            if current is None and self._queue:
                current, offset = self._queue.popleft(), 0
                current.stream_ms = seq * MIC_FRAME_MS
                current.started.set_result(frame_start)
            if current is not None:
                chunk = current.pcm[offset : offset + self._step]
                offset += self._step
                if offset >= len(current.pcm):
                    current.finished.set_result(frame_start + len(chunk) / 2 / MIC_RATE)
                    current = None
                chunk = chunk.ljust(self._step, b"\0")
            else:
                chunk = self._silence
            due = frame_start + MIC_FRAME_MS / 1000
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            frame = AudioFrame(
                FrameKind.INPUT_AUDIO, 1, seq, seq * self._step // 2, MIC_RATE, chunk
            )
            await send_frame(encode_frame(frame))
            seq += 1
            self.frames_sent = seq


@dataclass
class _Reports:
    last_at: float = 0.0
    started: bool = False
    underruns: int = 0
    done: bool = False


@dataclass
class LiveSession:
    url: str
    persona: str | None = None
    origin: str | None = None
    audio_in: bool = False
    audio_out: bool = False
    realtime_playback: bool = True
    """Play replies in real time (like a listener); False: as fast as they arrive."""
    events: list[TimedEvent] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    players: dict[int, StreamPlayer] = field(default_factory=dict)
    started: Event | None = None
    lost: str | None = None

    def __post_init__(self) -> None:
        self.client = RealtimeClient(
            self.url,
            persona=self.persona,
            origin=self.origin,
            audio_in=self.audio_in,
            audio_out=self.audio_out,
            on_audio=self._on_audio,
        )
        self.mic = Microphone()
        self._send_lock = asyncio.Lock()
        self._pulse = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stream_reply: dict[int, str] = {}
        self._reports: dict[int, _Reports] = {}
        self.first_report_at: dict[str, float] = {}
        """When the first ``playback.position`` of each reply was sent (its play start)."""

    # ── lifecycle ──────────────────────────────────────────────────────────

    async def start(self) -> Event:
        """Open the socket, start the session and the reader, microphone and player tasks."""
        self.started = await self.client.connect()
        self._tasks.append(asyncio.create_task(self._read(), name="eval-reader"))
        if self.audio_in:
            self._tasks.append(asyncio.create_task(self._microphone(), name="eval-mic"))
        if self.audio_out:
            self._tasks.append(asyncio.create_task(self._report(), name="eval-player"))
        return self.started

    @property
    def granted(self) -> dict[str, bool]:
        caps: dict[str, bool] = (self.started or {}).get("config", {}).get("capabilities", {})
        return caps

    async def stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        await self.stop_tasks()
        with contextlib.suppress(ConnectionClosed, OSError):
            await self.client.close()

    async def fetch_history(self) -> list[Event]:
        """Stop streaming and reading, then fetch the server's history of this session."""
        await self.stop_tasks()
        return await self.client.fetch_history()

    # ── sending ────────────────────────────────────────────────────────────

    async def send(self, message: Event) -> float:
        """Send a control message; returns when it went out (perf_counter)."""
        async with self._send_lock:
            await self.client.send(message)
            return time.perf_counter()

    async def _send_frame(self, data: bytes) -> None:
        async with self._send_lock:
            await self.client.send_raw(data)

    async def _microphone(self) -> None:
        await self.mic.run(self._send_frame)

    # ── receiving ──────────────────────────────────────────────────────────

    async def _read(self) -> None:
        try:
            while True:
                event = await self.client.recv(timeout=3600)
                now = time.perf_counter()
                self.events.append(TimedEvent(now, event))
                self._on_event(now, event)
                self._notify()
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            self.lost = f"the socket closed ({exc})"
            self._notify()

    def _on_event(self, now: float, event: Event) -> None:
        kind = event.get("type")
        if kind == "response.audio.segment":
            self._stream_reply[int(event["stream"])] = str(event["response_id"])
        elif kind == "response.done":
            for stream, rid in self._stream_reply.items():
                if rid == event.get("response_id") and stream in self.players:
                    self.players[stream].end(now)

    def _on_audio(self, at: float, frame: AudioFrame) -> None:
        self.frames.append(
            Frame(at, frame.stream, frame.seq, frame.pts, frame.samples, frame.sample_rate)
        )
        player = self.players.get(frame.stream)
        if player is None:
            for other in self.players.values():
                if not other.finished(at):
                    other.stop(at)  # the browser plays one reply at a time
            player = StreamPlayer(frame.stream, realtime=self.realtime_playback)
            self.players[frame.stream] = player
        player.add(at, frame.samples / frame.sample_rate * 1000)
        self._notify()

    def _notify(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    # ── the simulated player's reports ─────────────────────────────────────

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            for stream, player in list(self.players.items()):
                state = self._reports.setdefault(stream, _Reports())
                rid = self._stream_reply.get(stream)
                if state.done or rid is None or player.started_at is None or player.stopped:
                    continue
                every = (REPORT_EVERY_MS if player.realtime else FAST_REPORT_EVERY_MS) / 1000
                position = player.position(now)
                finished = player.finished(now)
                due = (
                    not state.started
                    or player.underruns != state.underruns
                    or finished
                    or now - state.last_at >= every
                )
                if not due:
                    continue
                played = 0.0 if not state.started else position
                if not state.started:
                    self.first_report_at[rid] = now
                state.started, state.last_at, state.underruns = True, now, player.underruns
                state.done = finished
                await self.send(
                    {
                        "type": "playback.position",
                        "response_id": rid,
                        "played_ms": round(played),
                        "underruns": player.underruns,
                    }
                )
            self._notify()

    def stop_playback(self, response_id: str) -> float | None:
        """Stop playing ``response_id`` now (barge-in); the milliseconds played, or None."""
        now = time.perf_counter()
        for stream, rid in self._stream_reply.items():
            if rid == response_id and stream in self.players:
                return self.players[stream].stop(now)
        return None

    def player_of(self, response_id: str) -> StreamPlayer | None:
        for stream, rid in self._stream_reply.items():
            if rid == response_id:
                return self.players.get(stream)
        return None

    # ── waiting ────────────────────────────────────────────────────────────

    def find(self, pred: Callable[[TimedEvent], bool], since: int = 0) -> TimedEvent | None:
        return next((e for e in self.events[since:] if pred(e)), None)

    async def wait_for(
        self,
        check: Callable[[], T | None],
        timeout: float,
        *,
        what: str = "an event",
        poll_s: float | None = None,
    ) -> T:
        """Wait until ``check()`` returns something not None; raises ``TimeoutError`` or
        ``SessionLost``. ``poll_s`` re-checks on a clock too (for time-based conditions)."""
        deadline = time.perf_counter() + timeout
        while True:
            found = check()
            if found is not None:
                return found
            if self.lost is not None:
                raise SessionLost(f"{self.lost} while waiting for {what}")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"no {what} within {timeout:.0f} s")
            pulse = self._pulse
            wait = remaining if poll_s is None else min(remaining, poll_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pulse.wait(), wait)

    async def wait_event(
        self, pred: Callable[[TimedEvent], bool], since: int, timeout: float, what: str
    ) -> TimedEvent:
        return await self.wait_for(lambda: self.find(pred, since), timeout, what=what)

    def answer(
        self, since: int, source: str, *, created_only: bool = False
    ) -> tuple[str, str, TimedEvent] | None:
        """(item id, response id, ``input.committed``) of the reply to the latest ``source``
        turn (``text`` or ``voice``) committed after event ``since``, once that reply is done
        (or, with ``created_only``, created). A reply ended by a turn extension does not count:
        the turn goes on, and the reply to its new commit does."""
        events = self.events[since:]
        commits = [
            e for e in events if e.type == "input.committed" and e.event.get("source") == source
        ]
        if not commits:
            return None
        commit = commits[-1]
        item = str(commit.event["item_id"])
        created = [
            str(e.event["response_id"])
            for e in events
            if e.type == "response.created" and e.event.get("input_item_id") == item
        ]
        for rid in reversed(created):
            if created_only:
                return item, rid, commit
            done = next(
                (e for e in events if e.type == "response.done" and e.event["response_id"] == rid),
                None,
            )
            if done is not None and done.event.get("reason") != "turn_extended":
                return item, rid, commit
        return None

    # ── results ────────────────────────────────────────────────────────────

    def replies(self) -> dict[str, Reply]:
        """Every reply so far, with what the simulated player did with its audio."""
        replies = build_replies(self.events, self.frames)
        for reply in replies.values():
            player = self.players.get(reply.stream) if reply.stream is not None else None
            if player is not None:
                reply.play_start_at = player.started_at
                reply.underruns = player.underruns
        return replies
