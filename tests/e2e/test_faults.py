"""Faults against real processes: a server killed mid-conversation, Redis killed and restarted
(AOF), 10,000 malformed frames, and sockets refused for their origin or token.

docs/capacity.md states what each proof shows and its figures.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from benchmarks.capacity import IdleStats, ProcessProbe, open_idle
from server.protocol.audio_frames import AudioFrame, FrameKind, encode_frame
from server.protocol.messages import PROTOCOL_VERSION
from server.tokens import TokenClaims, sign_token
from server.ws_client import RealtimeClient, ServerError
from tests.e2e.conftest import ServerProcess, StartServer, free_port

pytestmark = pytest.mark.model

LEAN = {
    "AVATAR_VOICE__ENABLED": "false",
    "AVATAR_TTS__ENABLED": "false",
    "AVATAR_KNOWLEDGE__ENABLED": "false",
}
FAST_LEASE = {"AVATAR_SESSION__LEASE_TTL_S": "4", "AVATAR_SESSION__LEASE_WAIT_S": "6"}
Event = dict[str, Any]


# ── helpers ────────────────────────────────────────────────────────────────


def _seqs_are_complete(client: RealtimeClient) -> bool:
    """Session events (seq > 0) arrived once each, in order, with no gap."""
    seqs = [e["seq"] for e in client.events if e["seq"]]
    return seqs == list(range(1, len(seqs) + 1))


async def _answer_to(
    client: RealtimeClient, item_id: str, timeout: float = 60, *, retry_errors: bool = False
) -> Event:
    """Wait (resuming through drops) for the completed reply to the turn ``item_id``.

    Replies a crash cut (``failed``/``server_lost``) are skipped: the new owner answers again.
    ``error`` events raise ``ServerError``; with ``retry_errors``, retryable ones do not.
    """
    ours: set[str] = set()
    while True:
        event = await client.wait_for(
            "response.created", "response.done", "error", timeout=timeout, raise_errors=False
        )
        if event["type"] == "error":
            if not (retry_errors and event["retryable"]):
                raise ServerError(event)
        elif event["type"] == "response.created":
            if event["input_item_id"] == item_id:
                ours.add(event["response_id"])
        elif event["response_id"] in ours and event["status"] == "completed":
            return event


def _replies_per_turn(client: RealtimeClient) -> dict[str, list[tuple[str, str | None]]]:
    """For each committed turn: (status, reason) of every reply made to it, in order."""
    turn_of = {
        e["response_id"]: e["input_item_id"]
        for e in client.events
        if e["type"] == "response.created"
    }
    replies: dict[str, list[tuple[str, str | None]]] = {
        e["item_id"]: [] for e in client.events if e["type"] == "input.committed"
    }
    for done in (e for e in client.events if e["type"] == "response.done"):
        replies[turn_of[done["response_id"]]].append((done["status"], done.get("reason")))
    return replies


def _expected_history(client: RealtimeClient) -> list[tuple[str, str, str]]:
    """(item_id, role, text) the history must hold: every committed turn, each followed by the
    text of its completed reply (a reply ending with no text adds no item)."""
    turn_of = {
        e["response_id"]: e["input_item_id"]
        for e in client.events
        if e["type"] == "response.created"
    }
    answers = {
        turn_of[e["response_id"]]: e
        for e in client.events
        if e["type"] == "response.done" and e["status"] == "completed"
    }
    expected = []
    for turn in (e for e in client.events if e["type"] == "input.committed"):
        expected.append((turn["item_id"], "user", turn["text"]))
        answer = answers.get(turn["item_id"])
        if answer is not None and answer["text"]:
            expected.append((answer["response_id"], "assistant", answer["text"]))
    return expected


async def _history(client: RealtimeClient) -> list[tuple[str, str, str]]:
    items = await client.fetch_history()
    return [(h["item_id"], h["role"], h["text"]) for h in items]


# ── 1. a server process killed mid-conversation ────────────────────────────

TURNS = [
    "My name is Ada.",
    "Tell me a long story about a lighthouse keeper.",
    "What is my name?",
]
CRASH_TURN = 1
"""The turn every client has committed, and not yet seen answered, when the owner dies."""


@pytest.mark.timeout(240)
async def test_killing_the_owner_mid_conversation_loses_no_turn_of_any_client(
    start_server: StartServer,
) -> None:
    doomed = start_server("doomed", **FAST_LEASE, **LEAN, AVATAR_LLM__MAX_TOKENS="100")
    survivor = start_server("survivor", **FAST_LEASE, **LEAN, AVATAR_LLM__MAX_TOKENS="100")
    clients = [RealtimeClient(doomed.url) for _ in range(3)]
    committed: list[str] = []
    all_committed = asyncio.Event()
    killed = asyncio.Event()
    answered_again: list[float] = []

    async def converse(client: RealtimeClient) -> None:
        await client.connect()
        for i, text in enumerate(TURNS):
            if i != CRASH_TURN:
                reply = await client.ask(text)
                assert reply.status == "completed"
                continue
            await client.send({"type": "input.text", "text": text})
            turn = await client.wait_for("input.committed")
            committed.append(turn["item_id"])
            if len(committed) == len(clients):
                all_committed.set()
            await killed.wait()
            await _answer_to(client, turn["item_id"])
            answered_again.append(time.monotonic())

    talking = asyncio.gather(*(converse(c) for c in clients))
    ready = asyncio.ensure_future(all_committed.wait())
    await asyncio.wait({ready, talking}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if talking.done():
        await talking  # a client failed before the crash: show why
    assert ready.done(), "every client committed its turn"
    doomed.stop(signal.SIGKILL)
    for client in clients:  # what the load balancer does once the process is gone
        client.url = survivor.url
    started = time.monotonic()
    killed.set()
    await asyncio.wait_for(talking, 150)
    recovery_s = max(answered_again) - started

    cut = 0
    for client in clients:
        assert _seqs_are_complete(client), [(e["seq"], e["type"]) for e in client.events]
        assert [e["text"] for e in client.events if e["type"] == "input.committed"] == TURNS
        for item_id, replies in _replies_per_turn(client).items():
            completed = [r for r in replies if r[0] == "completed"]
            assert len(completed) == 1, (item_id, replies)
            assert all(r == ("failed", "server_lost") for r in replies if r[0] != "completed")
            cut += len(replies) - 1
        resumed = [e for e in client.events if e["type"] == "session.resumed"]
        assert resumed and resumed[-1]["server"]["instance"] == "survivor"
        expected = _expected_history(client)
        assert len([h for h in expected if h[1] == "assistant"]) >= len(TURNS) - 1
        assert await _history(client) == expected, "each turn once, then its one answer"
        await client.close()
    assert cut >= 1, "the kill landed while replies were in progress"
    print(f"owner killed: {cut} replies cut; every crash turn answered {recovery_s:.1f} s later")


# ── 2. Redis killed and restarted (AOF) ────────────────────────────────────


@dataclass
class PrivateRedis:
    """A redis-server of this test's own, appending every write to its AOF and fsyncing it
    before answering (``appendfsync always``); ``kill`` is SIGKILL, ``start`` reuses the port
    and the directory, so a restart reloads the AOF."""

    port: int
    directory: Path
    fsync: str = "always"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                self.fsync,
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    store = PrivateRedis(free_port(), tmp_path / "redis")
    store.directory.mkdir()
    store.start()
    yield store
    store.kill()


async def _readiness(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.http}/readyz")
    return response.status_code, response.json()


async def _until_ready(server: ServerProcess, want: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await _readiness(server)
        if status == want or time.monotonic() > deadline:
            assert status == want, body
            return body
        await asyncio.sleep(0.1)


async def _events_until_closed(client: RealtimeClient) -> tuple[list[Event], int | None]:
    events = []
    try:
        while True:
            events.append(await client.recv(timeout=15))
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None


OUTAGE_S = 5.0


@pytest.mark.timeout(180)
async def test_a_redis_crash_loses_no_acknowledged_turn_and_the_conversation_goes_on(
    start_server: StartServer, private_redis: PrivateRedis, server_prefix: str
) -> None:
    server = start_server(
        "aof",
        AVATAR_REDIS__URL=private_redis.url,
        **FAST_LEASE,
        **LEAN,
        AVATAR_LLM__MAX_TOKENS="120",
    )
    client = RealtimeClient(server.url)
    await client.connect()
    try:
        for text in ("My name is Ada.", "I live in Leeds."):
            assert (await client.ask(text)).status == "completed"
        await client.send(
            {"type": "input.text", "text": "Tell me a long story about a lighthouse."}
        )
        interrupted = await client.wait_for("input.committed")
        await client.wait_for("response.text.delta")
        acknowledged = _expected_history(client)  # 2 answered turns, then the committed one
        assert acknowledged[-1] == (interrupted["item_id"], "user", interrupted["text"])
        last_seq_seen = client.last_seq

        private_redis.kill()  # mid-reply
        down_at = time.monotonic()
        checks = (await _until_ready(server, 503))["checks"]
        assert checks["redis"] is False and checks["llm"] is True
        # The reply's next write fails, or else this message: either way the server hands the
        # session over (the socket may already be closed when the ping goes out).
        with contextlib.suppress(ConnectionClosed):
            await client.send_raw(json.dumps({"type": "ping"}))
        events, close_code = await _events_until_closed(client)
        errors = [e for e in events if e["type"] == "error"]
        assert [e["code"] for e in errors] == ["store_unavailable"]
        assert errors[0]["retryable"] is True
        closing = [e for e in events if e["type"] == "session.closing"]
        assert closing and closing[0]["reason"] == "store_unavailable" and closing[0]["resumable"]
        assert close_code == 1013
        newcomer = RealtimeClient(server.url)
        with pytest.raises(ServerError) as refused:
            await newcomer.connect()
        await newcomer.close()
        assert refused.value.code == "store_unavailable", "no new session while the store is down"

        while time.monotonic() - down_at < OUTAGE_S:  # down for longer than the lease lives
            assert (await _readiness(server))[0] == 503
            await asyncio.sleep(0.25)

        private_redis.start()  # the same port and directory: the AOF is replayed
        down_s = time.monotonic() - down_at
        stored = redis.Redis.from_url(private_redis.url, decode_responses=True)
        base = f"{server_prefix}session:{{{client.session_id}}}"
        kept = [json.loads(row) for row in stored.lrange(f"{base}:history", 0, -1)]
        assert [(h["item_id"], h["role"], h["text"]) for h in kept] == acknowledged
        [(top, _)] = stored.xrevrange(f"{base}:events", count=1)
        assert int(top.split("-")[0]) >= last_seq_seen, "every event the client got is in the log"
        stored.close()
        await _until_ready(server, 200)
        resumed = await client.resume()
        assert resumed["server"]["instance"] == "aof"
        answer = await _answer_to(client, interrupted["item_id"])
        assert answer["text"]
        assert ("failed", "server_lost") in _replies_per_turn(client)[interrupted["item_id"]]
        follow_up = await client.ask("What is my name?")
        assert follow_up.status == "completed"

        assert _seqs_are_complete(client)
        history = await _history(client)
        assert history[: len(acknowledged) - 1] == acknowledged[:-1], "acknowledged turns survive"
        assert acknowledged[-1] in history, "the committed turn survives, and is answered"
        assert history == _expected_history(client)
        await client.close()
        print(f"redis down {down_s:.1f} s; all {len(acknowledged)} acknowledged items kept")
    finally:  # a failed run must not leave sockets for a later test to trip over
        await client.close()


@pytest.mark.timeout(120)
async def test_a_reply_cut_by_a_failing_store_still_ends_and_its_turn_is_answered(
    start_server: StartServer, private_redis: PrivateRedis
) -> None:
    server = start_server(
        "refusing",
        AVATAR_REDIS__URL=private_redis.url,
        **FAST_LEASE,
        **LEAN,
        AVATAR_LLM__MAX_TOKENS="120",
    )
    store = redis.Redis.from_url(private_redis.url)
    client = RealtimeClient(server.url)
    try:
        await client.connect()
        await client.send({"type": "input.text", "text": "Tell me a long story about a ship."})
        turn = await client.wait_for("input.committed")
        await client.wait_for("response.text.delta")
        # Redis refuses every write for half a second ("OOM command not allowed"), as it does
        # while it is down, but without dropping connections; then it is fine again.
        store.config_set("maxmemory", "1")
        await asyncio.sleep(0.5)
        store.config_set("maxmemory", "0")
        # The server hands the session over: the client is told to resume ...
        events, close_code = await _events_until_closed(client)
        assert [e["code"] for e in events if e["type"] == "error"] == ["store_unavailable"]
        closing = [e for e in events if e["type"] == "session.closing"]
        assert closing and closing[0]["reason"] == "store_unavailable" and closing[0]["resumable"]
        assert close_code == 1013
        # ... and on resume the cut reply ends (server_lost) and the turn is answered again.
        await client.resume()
        answer = await asyncio.wait_for(_answer_to(client, turn["item_id"]), 60)
        assert answer["text"]
        replies = _replies_per_turn(client)[turn["item_id"]]
        assert replies[0] == ("failed", "server_lost") and replies[-1][0] == "completed"
        assert _seqs_are_complete(client)
        assert (await client.ask("And then?")).status == "completed"
    finally:
        store.close()
        await client.close()


@pytest.mark.timeout(120)
async def test_once_redis_is_back_no_command_fails_on_a_connection_from_before_the_restart(
    start_server: StartServer, private_redis: PrivateRedis
) -> None:
    server = start_server("stale", AVATAR_REDIS__URL=private_redis.url, **LEAN)
    stats = IdleStats()
    sessions = await open_idle(server.url, 40, stats)
    # 40 pings at once: the server's pool opens a connection for each command in flight.
    assert all(await asyncio.gather(*(s.answers_ping(15) for s in sessions)))
    private_redis.kill()
    private_redis.start()
    await _until_ready(server, 200)
    answered = await asyncio.gather(*(s.answers_ping(15) for s in sessions))
    for session in sessions:
        await session.close()
    assert not stats.errors, dict(stats.errors)  # store_unavailable
    assert all(answered)


# ── 3. 10,000 malformed frames ─────────────────────────────────────────────

FLOOD_FRAMES = 10_000
RECKLESS_FRAMES = 2_000
"""Of which this many come from a client that ignores the rate limit (cut off, reconnects)."""
FLOODERS = 10
TEXT_RATE = 18.0
"""Frames a second each flooder sends: just under the limits (20 text, 100 audio)."""
BINARY_RATE = 45.0
FLOOD_SERVER = {
    **LEAN,
    # The defaults, spelled out: the flooders pace themselves by them.
    "AVATAR_LIMITS__MESSAGES_PER_SECOND": "20",
    "AVATAR_LIMITS__MESSAGE_BURST": "40",
    "AVATAR_LIMITS__AUDIO_FRAMES_PER_SECOND": "100",
    "AVATAR_LIMITS__AUDIO_FRAME_BURST": "200",
    "AVATAR_LIMITS__MAX_VIOLATIONS": "50",
    "AVATAR_LIMITS__MAX_TEXT_FRAME_BYTES": "65536",
    "AVATAR_LIMITS__MAX_BINARY_FRAME_BYTES": "65536",
    "AVATAR_LIMITS__TRANSPORT_MAX_BYTES": "1048576",
    "AVATAR_LIMITS__MAX_INPUT_CHARS": "4000",
    "AVATAR_LLM__MAX_TOKENS": "60",
}
FLOOD_CODES = {
    "invalid_json",
    "invalid_message",
    "unknown_type",
    "frame_too_large",
    "input_too_long",
    "invalid_audio_frame",
    "audio_input_unavailable",
    "already_started",
    "no_active_response",
    "unknown_response",
    "handshake_required",
    "audio_before_handshake",
    "rate_limited",
}
_HEADER = struct.Struct("<BBHIQI")


def _bad_text(rng: random.Random) -> str:
    """A malformed or meaningless text frame (never one that starts a reply)."""
    pick = rng.randrange(16)
    if pick == 0:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 200)))
    if pick == 1:
        return '{"type": "input.text", "text": "cut off'
    if pick == 2:
        return rng.choice(["", "{", "}", "nul", "{'type': 'ping'}", "\x00", "[1,", "1e", "tru"])
    if pick == 3:
        return rng.choice(["null", "[1, 2, 3]", "42", '"ping"', "true", "{}"])
    if pick == 4:
        return json.dumps({"type": rng.choice([5, None, True, [], {}, 1.5])})
    if pick == 5:
        name = "".join(rng.choice("abcdefghij._") for _ in range(rng.randrange(1, 90)))
        return json.dumps({"type": name, "event_id": "x" * rng.randrange(0, 100)})
    if pick == 6:
        return json.dumps({"type": "input.text", "text": rng.choice([3, None, [], {"a": 1}])})
    if pick == 7:
        return json.dumps({"type": "input.text", "text": ""})
    if pick == 8:
        return json.dumps({"type": "ping", "extra": True, "event_id": "e1"})
    if pick == 9:
        return json.dumps({"type": "input.text", "text": "a" * 4001})
    if pick == 10:
        return "x" * (65536 + rng.randrange(1, 1000))
    if pick == 11:
        return json.dumps({"type": "session.start", "protocol_version": PROTOCOL_VERSION})
    if pick == 12:
        return json.dumps({"type": "response.cancel", "response_id": "resp_nope"})
    if pick == 13:
        return json.dumps(
            {"type": "playback.stopped", "response_id": "resp_nope", "played_chars": 3}
        )
    if pick == 14:
        return json.dumps({"type": "playback.position", "response_id": 1, "played_ms": -5})
    return json.dumps({"type": "session.resume", "session_id": 7})


def _bad_binary(rng: random.Random) -> bytes:
    """A binary frame with a bad header, random bytes, or audio nobody asked to send."""
    pick = rng.randrange(9)
    pcm = b"\x00\x00" * 160
    if pick == 0:
        return b""
    if pick == 1:
        return rng.randbytes(rng.randrange(1, 20))
    if pick == 2:
        return rng.randbytes(rng.randrange(20, 2048))
    if pick == 3:
        return _HEADER.pack(rng.choice([0, 2, 255]), 1, 1, 0, 0, 16000) + pcm
    if pick == 4:
        return _HEADER.pack(1, rng.choice([0, 2, 3, 200]), 1, 0, 0, 16000) + pcm
    if pick == 5:
        return _HEADER.pack(1, 1, 1, 0, 0, rng.choice([0, 1, 12345, 2**32 - 1])) + pcm
    if pick == 6:
        return _HEADER.pack(1, 1, 1, 0, 0, 16000) + b"\x00" * 321
    if pick == 7:
        return b"\x01\x01" + b"\x00" * (65536 + rng.randrange(1, 100))
    frame = AudioFrame(FrameKind.INPUT_AUDIO, 1, rng.randrange(1000), 0, 16000, pcm)
    return encode_frame(frame)


@dataclass
class Flood:
    """What the flooding sockets sent and what came back."""

    target: int
    sent: int = 0
    reckless_sent: int = 0
    connections: int = 0
    codes: collections.Counter[str] = field(default_factory=collections.Counter)
    close_codes: collections.Counter[int | None] = field(default_factory=collections.Counter)
    other_events: collections.Counter[str] = field(default_factory=collections.Counter)


class FloodSocket:
    """One flooding connection: a reader that counts what comes back, and the sends."""

    def __init__(self, ws: ClientConnection, flood: Flood) -> None:
        self.ws = ws
        self.flood = flood
        self.started = asyncio.Event()
        self.reader = asyncio.create_task(self._read(), name="flood-reader")

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                if event["type"] == "error":
                    self.flood.codes[event["code"]] += 1
                elif event["type"] == "session.started":
                    self.started.set()
                else:
                    self.flood.other_events[event["type"]] += 1
        except ConnectionClosed:
            pass
        self.flood.close_codes[self.ws.close_code] += 1

    async def send(self, frame: str | bytes, *, reckless: bool = False) -> None:
        await self.ws.send(frame)
        self.flood.sent += 1
        if reckless:
            self.flood.reckless_sent += 1

    async def start_session(self) -> None:
        await self.ws.send(json.dumps({"type": "session.start", "protocol_version": "1"}))
        await asyncio.wait_for(self.started.wait(), 30)

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def _flood_socket(url: str, flood: Flood) -> FloodSocket:
    ws = await websockets.connect(url, max_size=None, open_timeout=30)
    flood.connections += 1
    return FloodSocket(ws, flood)


async def _paced_flooder(url: str, flood: Flood, seed: int) -> None:
    """Bad frames at just under the allowed rates, before and after the handshake."""
    rng = random.Random(seed)
    limit = flood.target - RECKLESS_FRAMES
    sock = await _flood_socket(url, flood)
    for i in range(6):  # before the handshake (the buckets allow a burst)
        await sock.send(_bad_text(rng) if i % 2 else _bad_binary(rng))
    await sock.start_session()

    async def pace(make: Any, rate: float) -> None:
        while flood.sent - flood.reckless_sent < limit and sock.ws.close_code is None:
            await sock.send(make(rng))
            await asyncio.sleep(1 / rate)

    with contextlib.suppress(ConnectionClosed):
        await asyncio.gather(pace(_bad_text, TEXT_RATE), pace(_bad_binary, BINARY_RATE))
    await sock.close()


async def _reckless_flooder(url: str, flood: Flood) -> None:
    """Bad frames as fast as the socket takes them: rate limited, cut off with 4429, and back
    with a new socket, until its share is sent."""
    rng = random.Random(7)
    while flood.reckless_sent < RECKLESS_FRAMES:
        sock = await _flood_socket(url, flood)
        await sock.start_session()
        with contextlib.suppress(ConnectionClosed):
            for i in range(400):  # far more than the burst and the violations allowed
                frame = _bad_text(rng) if i % 3 else _bad_binary(rng)
                await sock.send(frame, reckless=True)
                if i % 50 == 49:
                    await asyncio.sleep(0)  # let the reader see the close
                if sock.ws.close_code is not None or flood.reckless_sent >= RECKLESS_FRAMES:
                    break
        await sock.close()


async def _ttft(client: RealtimeClient, text: str) -> float:
    reply = await client.ask(text, timeout=60)
    assert reply.status == "completed" and reply.first_delta_s is not None
    return reply.first_delta_s


@pytest.mark.timeout(240)
async def test_ten_thousand_malformed_frames_leave_the_server_and_other_sessions_unharmed(
    start_server: StartServer,
) -> None:
    server = start_server("flood", **FLOOD_SERVER)
    probe = ProcessProbe(server.proc.pid)
    good = RealtimeClient(server.url)
    await good.connect()
    await good.ask("Hello!")  # warm-up
    before = [await _ttft(good, f"What is {n} plus {n}?") for n in range(1, 6)]
    rss_before = probe.memory_mb()["rss_mb"]
    probe.cpu_since_mark()

    flood = Flood(FLOOD_FRAMES)
    readiness: list[int] = []
    flooding = asyncio.gather(
        *(_paced_flooder(server.url, flood, seed) for seed in range(FLOODERS)),
        _reckless_flooder(server.url, flood),
    )
    started = time.monotonic()
    during: list[float] = []
    n = 6
    async with httpx.AsyncClient() as http:
        while not flooding.done():
            readiness.append((await http.get(f"{server.http}/readyz")).status_code)
            during.append(await _ttft(good, f"What is {n} plus {n}?"))
            n += 1
        await flooding
        flood_s = time.monotonic() - started
        cpu = probe.cpu_since_mark()
        after = [await _ttft(good, f"What is {m} times two?") for m in range(1, 4)]
        readiness.append((await http.get(f"{server.http}/readyz")).status_code)
    rss_after = probe.memory_mb()["rss_mb"]
    fresh = RealtimeClient(server.url)
    await fresh.connect()
    assert (await fresh.ask("Are you still there?")).status == "completed"
    await fresh.close()
    await good.close()

    report = {
        "frames_sent": flood.sent,
        "by_the_reckless_client": flood.reckless_sent,
        "seconds": round(flood_s, 1),
        "connections": flood.connections,
        "error_codes": dict(flood.codes),
        "close_codes": dict(flood.close_codes),
        "ttft_ms_before": sorted(round(t * 1000) for t in before),
        "ttft_ms_during": sorted(round(t * 1000) for t in during),
        "ttft_ms_after": sorted(round(t * 1000) for t in after),
        "rss_mb": (rss_before, rss_after),
        **cpu,
    }
    print(json.dumps(report))
    assert server.proc.poll() is None, "the server is up"
    assert flood.sent >= FLOOD_FRAMES
    assert set(flood.codes) <= FLOOD_CODES, report
    assert "internal_error" not in flood.codes
    assert sum(flood.codes.values()) >= 0.75 * (flood.sent - flood.reckless_sent), report
    assert set(flood.close_codes) <= {1000, 4429, 1009}, report
    assert flood.close_codes[4429] >= 2, "the reckless client was cut off, and came back"
    assert set(readiness) == {200}
    assert len(during) >= 3
    median = sorted(during)[len(during) // 2]
    baseline = sorted(before)[len(before) // 2]
    assert median < max(4 * baseline, baseline + 1.0), report
    assert max(after) < max(4 * max(before), 2.0), report
    assert rss_after - rss_before < 100, report
    assert "message_failed" not in server.log()


@pytest.fixture(scope="module")
def lean_server(start_server: StartServer) -> ServerProcess:
    return start_server("lean", **LEAN)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("[" * 5000, id="nested-arrays"),
        pytest.param('{"a":' * 5000, id="nested-objects"),
    ],
)
async def test_deeply_nested_json_is_invalid_json_not_an_internal_error(
    lean_server: ServerProcess, frame: str
) -> None:
    server = lean_server
    client = RealtimeClient(server.url)
    await client.connect()
    await client.send_raw(frame)
    error = await client.wait_for("error", raise_errors=False, resumable=False)
    await client.close()
    assert error["code"] == "invalid_json"


@pytest.mark.parametrize("handshake", [False, True], ids=["before-handshake", "in-session"])
async def test_an_event_id_that_is_not_valid_unicode_gets_an_error_and_the_socket_stays(
    lean_server: ServerProcess, handshake: bool
) -> None:
    server = lean_server
    client = RealtimeClient(server.url)
    if handshake:
        await client.connect()
    else:
        await client._open()
    await client.send_raw('{"type": "dance", "event_id": "\\ud800"}')
    error = await client.wait_for("error", raise_errors=False, resumable=False, timeout=10)
    assert error["code"] == "unknown_type"
    await client.send_raw('{"type": "ping"}')
    await client.wait_for("pong", "error", resumable=False, timeout=10)
    await client.close()


# ── 4. origins and widget tokens refused at the upgrade ────────────────────

SECRET = "faults-widget-secret-0123456789abcdefghij"
WIDGET_ORIGIN = "http://127.0.0.1:8081"
LISTED = "https://listed.example"
"""In AVATAR_CONNECTION__ALLOWED_ORIGINS: admitted without a token."""
OTHER_KEY_ORIGIN = "http://127.0.0.1:8082"


@pytest.fixture(scope="module")
def widget_server(start_server: StartServer) -> ServerProcess:
    keys = {"pk_demo": {"origins": [WIDGET_ORIGIN]}, "pk_other": {"origins": [OTHER_KEY_ORIGIN]}}
    return start_server(
        "gate",
        AVATAR_WIDGET__KEYS=json.dumps(keys),
        AVATAR_WIDGET__TOKEN_SECRET=SECRET,
        AVATAR_WIDGET__TOKEN_TTL_S="10",
        AVATAR_CONNECTION__ALLOWED_ORIGINS=json.dumps([LISTED]),
        **LEAN,
    )


async def _issued(server: ServerProcess, key: str, origin: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.http}/v1/widget/token", json={"key": key}, headers={"Origin": origin}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def _upgrade_status(url: str, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else None
    try:
        ws = await websockets.connect(url, additional_headers=headers, open_timeout=10)
    except InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


async def test_a_token_is_refused_from_any_origin_but_its_own_even_a_listed_one(
    widget_server: ServerProcess,
) -> None:
    token = await _issued(widget_server, "pk_demo", WIDGET_ORIGIN)
    url = f"{widget_server.url}?token={token}"
    assert await _upgrade_status(url, WIDGET_ORIGIN) == 101
    for origin in (
        LISTED,  # admitted without a token, but this token names another origin
        OTHER_KEY_ORIGIN,  # has a key of its own
        "https://127.0.0.1:8081",  # same host and port, another scheme
        "http://127.0.0.1:8083",  # same host, another port
        "http://localhost:8081",  # the same machine by another name
        "null",  # sandboxed iframes and file:// pages
        f"http://127.0.0.1:{widget_server.port}",  # the server's own page
    ):
        assert await _upgrade_status(url, origin) == 403, origin
    assert await _upgrade_status(widget_server.url, LISTED) == 101, "no token: the list rules"
    for origin in ("null", "https://listed.example.evil", "http://listed.example"):
        assert await _upgrade_status(widget_server.url, origin) == 403, origin


@pytest.mark.timeout(90)
async def test_an_expired_token_is_refused_even_from_a_listed_origin_and_its_session_lives_on(
    widget_server: ServerProcess,
) -> None:
    token = await _issued(widget_server, "pk_demo", WIDGET_ORIGIN)
    now = int(time.time())
    listed_expired = sign_token(
        TokenClaims("pk_demo", LISTED, None, now - 60, now - 1, "jti-listed"), SECRET.encode()
    )
    assert await _upgrade_status(f"{widget_server.url}?token={listed_expired}", LISTED) == 403

    client = RealtimeClient(f"{widget_server.url}?token={token}", origin=WIDGET_ORIGIN)
    await client.connect()
    await asyncio.sleep(11)  # the token's 10 s lifetime passes while the socket is open
    assert (await client.ask("Still there?")).status == "completed", "the socket outlives it"
    await client.close()
    with pytest.raises(InvalidStatus) as refused:
        await client.resume()  # a reconnect with the expired token
    assert refused.value.response.status_code == 403
    fresh = await _issued(widget_server, "pk_demo", WIDGET_ORIGIN)
    client.url = f"{widget_server.url}?token={fresh}"
    resumed = await client.resume()
    assert resumed["replay"]["gap"] is False
    await client.close()
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{widget_server.http}/metrics")).text
    assert 'avatar_errors_total{code="token_expired"}' in metrics
