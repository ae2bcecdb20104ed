"""Session runtime orchestration: real Redis, a scripted model on a timeline, a fake socket.

Invariants checked after cancels and interruptions landing at many points in time:
- the Redis log holds seqs 1..N with no gap or repeat, and the socket got exactly those events;
- each reply's done text equals the deltas sent for it (history never holds unsent words);
- history holds exactly the done texts of the replies that sent something;
- closing the session leaves no task behind.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from agent.grounded import RetrieverFor
from agent.llm.protocols import LLM, ChatMessage, GenerationParams
from agent.personas import Persona, PersonaLibrary
from agent.speech_out import TTS
from server.metrics import Metrics
from server.protocol import messages as wire
from server.redis_store import RedisSessionStore
from server.session_manager import ManagerConfig, SessionManager
from server.session_runtime import RuntimeConfig, SessionRuntime
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


class TimelineLLM:
    """Yields ``tokens`` words, one every ``interval`` seconds; records early closes."""

    name = "timeline"
    ready = True
    queue_depth = 0

    def __init__(self, tokens: int = 12, interval: float = 0.002) -> None:
        self.tokens = tokens
        self.interval = interval
        self.closed_early = 0

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        finished = False
        try:
            for i in range(self.tokens):
                await asyncio.sleep(self.interval)
                yield f" w{i}"
            finished = True
        finally:
            if not finished:
                self.closed_early += 1


class FakeOutbox:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.audio: list[bytes] = []
        self.closed: int | None = None

    def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))

    def send_bytes(self, data: bytes) -> None:
        self.audio.append(data)

    def close(self, code: int) -> None:
        self.closed = code


def _config_for(persona: Persona, _: wire.Capabilities) -> wire.EffectiveConfig:
    limits = wire.EffectiveLimits(
        max_text_frame_bytes=1,
        max_binary_frame_bytes=1,
        max_input_chars=1,
        messages_per_second=1,
        message_burst=1,
    )
    return wire.EffectiveConfig(
        persona=wire.PersonaInfo(id=persona.id, name=persona.name, version=persona.version),
        llm="timeline",
        capabilities=wire.Capabilities(),
        audio_in=wire.AudioFormat(enabled=False, sample_rate=16000),
        audio_out=wire.AudioFormat(enabled=False, sample_rate=22050),
        heartbeat_interval_s=15,
        idle_timeout_s=60,
        resume_ttl_s=60,
        limits=limits,
    )


def build_manager(
    client: Redis,
    prefix: str,
    llm: LLM,
    *,
    prompts: Path = ROOT / "prompts",
    metrics: Metrics | None = None,
    tts: TTS | None = None,
    retriever_for: RetrieverFor | None = None,
    config_for: Callable[[Persona, wire.Capabilities], wire.EffectiveConfig] = _config_for,
) -> SessionManager:
    """A manager on real Redis under ``prefix``, with the personas of ``prompts`` (and their
    knowledge bases in ``prompts/knowledge``)."""
    store = RedisSessionStore(
        client, prefix=prefix, idle_ttl_s=60, replay_max=10_000, history_max=500
    )
    return SessionManager(
        store=store,
        llm=llm,
        personas=PersonaLibrary(prompts, knowledge_dir=prompts / "knowledge"),
        metrics=metrics or Metrics(),
        tts=tts,
        retriever_for=retriever_for,
        config=ManagerConfig(
            instance="test",
            version="0",
            default_persona="default",
            resume_ttl_s=60,
            lease_wait_s=1,
            runtime=RuntimeConfig(lease_ms=5000, params=GenerationParams(), history_chars=2000),
            config_for=config_for,
        ),
    )


@pytest.fixture
def make_manager(redis_client: Redis, key_prefix: str) -> Any:
    return lambda llm: build_manager(redis_client, key_prefix, llm)


async def open_session(
    manager: SessionManager,
) -> tuple[FakeOutbox, SessionRuntime]:
    """A new session on ``manager``, attached to a fake socket."""
    outbox = FakeOutbox()
    runtime = await manager.start(wire.SessionStart(protocol_version="1"), outbox)
    return outbox, runtime


async def _eventually(condition: Callable[[], bool], what: str, timeout: float = 2.5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


async def _until_idle(runtime: SessionRuntime) -> None:
    await _eventually(
        lambda: runtime.state == "listening" and runtime._response is None, "the reply finished"
    )


async def _check_invariants(
    redis_client: Redis, key_prefix: str, runtime: SessionRuntime, outbox: FakeOutbox
) -> None:
    sid = runtime.session_id
    entries = await redis_client.xrange(f"{key_prefix}session:{{{sid}}}:events")
    logged = [json.loads(fields["e"]) for _, fields in entries]
    assert [e["seq"] for e in logged] == list(range(1, len(logged) + 1))
    assert outbox.frames == logged, "the socket got exactly the logged events, in order"

    done_texts = []
    for done in (e for e in logged if e["type"] == "response.done"):
        sent = "".join(
            e["delta"]
            for e in logged
            if e["type"] == "response.text.delta" and e["response_id"] == done["response_id"]
        )
        expected = sent.strip() if done["status"] == "completed" else sent
        assert done["text"] == expected
        if expected:
            done_texts.append(expected)
    rows = await redis_client.lrange(f"{key_prefix}session:{{{sid}}}:history", 0, -1)
    assistant = [json.loads(r)["text"] for r in rows if json.loads(r)["role"] == "assistant"]
    assert assistant == done_texts
    assert [h.text for h in runtime.history if h.role == "assistant"] == done_texts


@pytest.mark.parametrize("cancel_after", [0.0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.013])
async def test_a_cancel_at_any_moment_keeps_log_socket_and_history_consistent(
    make_manager: Any, redis_client: Redis, key_prefix: str, cancel_after: float
) -> None:
    llm = TimelineLLM(tokens=10, interval=0.001)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    for _ in range(3):
        await runtime.submit_text("tell me something")
        await asyncio.sleep(cancel_after)
        await runtime.cancel(None)
        await _until_idle(runtime)
    await _check_invariants(redis_client, key_prefix, runtime, outbox)
    await manager.shutdown()


async def test_a_storm_of_interruptions_completes_only_the_last_reply(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    llm = TimelineLLM(tokens=8, interval=0.002)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    for i in range(15):
        await runtime.submit_text(f"question {i}")
        await asyncio.sleep(0.001 * (i % 4))
    await _until_idle(runtime)

    await _check_invariants(redis_client, key_prefix, runtime, outbox)
    meta_key = f"{key_prefix}session:{{{runtime.session_id}}}"
    assert await redis_client.hget(meta_key, "state") == "listening"
    created = [f["response_id"] for f in outbox.frames if f["type"] == "response.created"]
    dones = [f for f in outbox.frames if f["type"] == "response.done"]
    assert [d["response_id"] for d in dones] == created, "each reply ends exactly once"
    committed = [f for f in outbox.frames if f["type"] == "input.committed"]
    assert len(committed) == 15
    assert dones[-1]["response_id"] == created[-1]
    assert all(d["status"] == "cancelled" and d["reason"] == "interrupted" for d in dones[:-1])
    assert dones[-1]["status"] == "completed"
    assert llm.closed_early >= 1, "interrupted replies stopped the model"
    await manager.shutdown()


async def test_closing_a_session_mid_reply_leaves_no_task_behind(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    before = {t for t in asyncio.all_tasks() if not t.done()}
    llm = TimelineLLM(tokens=1000, interval=0.001)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    await runtime.submit_text("go on forever")
    await asyncio.sleep(0.02)
    assert runtime.state == "speaking"
    meta_key = f"{key_prefix}session:{{{runtime.session_id}}}"
    assert await redis_client.hget(meta_key, "state") == "speaking", "Redis follows the state"
    await manager.shutdown()

    await asyncio.sleep(0)
    leftover = {t for t in asyncio.all_tasks() if not t.done()} - before
    assert leftover == set(), [t.get_name() for t in leftover]
    assert manager.active == 0
    assert llm.closed_early == 1
    lease = await redis_client.get(f"{key_prefix}session:{{{runtime.session_id}}}:lease")
    assert lease is None, "the lease is released so another process can resume at once"
    await _check_invariants(redis_client, key_prefix, runtime, outbox)


async def test_a_detached_session_finishes_its_reply_then_releases_the_lease(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    llm = TimelineLLM(tokens=20, interval=0.002)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    await runtime.submit_text("hello")
    await asyncio.sleep(0.01)
    runtime.detach(outbox)
    lease_key = f"{key_prefix}session:{{{runtime.session_id}}}:lease"
    assert await redis_client.get(lease_key) is not None, "held while the reply runs"
    await _eventually(lambda: manager.active == 0, "the runtime closed")
    assert await redis_client.get(lease_key) is None
    entries = await redis_client.xrange(f"{key_prefix}session:{{{runtime.session_id}}}:events")
    last = json.loads(entries[-1][1]["e"])
    assert last["type"] == "response.done"
    assert last["status"] == "completed", "the reply ran to its end into the log"
    await manager.shutdown()


async def test_a_stolen_lease_stops_the_runtime_and_tells_the_client(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    llm = TimelineLLM(tokens=500, interval=0.002)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    await runtime.submit_text("hello")
    await asyncio.sleep(0.01)
    lease_key = f"{key_prefix}session:{{{runtime.session_id}}}:lease"
    await redis_client.set(lease_key, "someone-else|a")  # another process took over
    await _eventually(lambda: outbox.closed is not None, "the socket was closed")
    assert outbox.closed == 4410
    notices = [f for f in outbox.frames if f["seq"] == 0]
    assert [n["type"] for n in notices] == ["error", "session.closing"]
    assert notices[0]["code"] == "lease_lost"
    await _eventually(lambda: manager.active == 0, "the runtime closed")
    assert await redis_client.get(lease_key) == "someone-else|a", "never released by a loser"
    await manager.shutdown()


async def test_a_playback_report_truncates_history_to_the_words_heard(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    manager = make_manager(TimelineLLM(tokens=6, interval=0.001))
    outbox, runtime = await open_session(manager)
    await runtime.submit_text("hi")
    await _until_idle(runtime)
    done = [f for f in outbox.frames if f["type"] == "response.done"][-1]
    assert done["text"] == "w0 w1 w2 w3 w4 w5"

    assert await runtime.truncate(done["response_id"], played_chars=7) is True
    assert outbox.frames[-1]["type"] == "response.truncated"
    assert outbox.frames[-1]["text"] == "w0 w1"
    rows = await redis_client.lrange(f"{key_prefix}session:{{{runtime.session_id}}}:history", 0, -1)
    assert json.loads(rows[-1]) == {
        "item_id": done["response_id"],
        "role": "assistant",
        "text": "w0 w1",
    }
    assert await runtime.truncate("resp_unknown", played_chars=3) is False
    await manager.shutdown()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cancel_after_ms=st.integers(0, 12),
    played_chars=st.integers(0, 80),
)
def test_history_never_holds_words_the_user_did_not_hear(
    cancel_after_ms: int, played_chars: int
) -> None:
    """Whatever moment the user barges in and however far playback got, the stored assistant
    turn is a prefix of what was sent, ends on a whole word, and is no longer than was played."""

    async def scenario() -> None:
        client = Redis.from_url(REDIS_URL, decode_responses=True)
        prefix = f"test:{secrets.token_hex(4)}:"
        manager = build_manager(client, prefix, TimelineLLM(tokens=12, interval=0.001))
        try:
            outbox, runtime = await open_session(manager)
            await runtime.submit_text("tell me")
            await asyncio.sleep(cancel_after_ms / 1000)
            await runtime.interrupt("barge_in")
            await _until_idle(runtime)
            done = [f for f in outbox.frames if f["type"] == "response.done"][-1]
            sent = "".join(
                f["delta"]
                for f in outbox.frames
                if f["type"] == "response.text.delta" and f["response_id"] == done["response_id"]
            )
            if sent:
                await runtime.truncate(done["response_id"], played_chars=played_chars)
            stored = [h for h in runtime.history if h.role == "assistant"]
            rows = await client.lrange(f"{prefix}session:{{{runtime.session_id}}}:history", 0, -1)
            redis_assistant = [json.loads(r) for r in rows if json.loads(r)["role"] == "assistant"]
            if not sent:
                assert stored == [] and redis_assistant == []
                return
            heard = stored[-1].text
            assert redis_assistant[-1]["text"] == heard
            assert sent.startswith(heard)
            assert len(heard) <= played_chars
            assert heard == "" or len(heard) == len(sent) or sent[len(heard)] == " "
        finally:
            await manager.shutdown()
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    asyncio.run(scenario())


def _resume_msg(sid: str, token: str) -> wire.SessionResume:
    return wire.SessionResume(protocol_version="1", session_id=sid, resume_token=token, last_seq=0)


@pytest.mark.parametrize("yields_before_resume", [0, 1, 2, 3, 5, 8, 20])
async def test_a_resume_racing_the_idle_close_gets_a_live_session(
    make_manager: Any, redis_client: Redis, key_prefix: str, yields_before_resume: int
) -> None:
    """The socket goes right after a reply and the client resumes at once, landing before,
    during or after the idle close: it always gets a session that holds the lease and answers."""
    llm = TimelineLLM(tokens=3, interval=0.001)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    token = next(f for f in outbox.frames if f["type"] == "session.started")["resume_token"]
    await runtime.submit_text("hello")
    await _until_idle(runtime)
    runtime.detach(outbox)  # schedules the idle close
    for _ in range(yields_before_resume):
        await asyncio.sleep(0)
    again = FakeOutbox()
    resumed = await manager.resume(_resume_msg(runtime.session_id, token), again)
    assert again.frames[-1]["type"] == "session.resumed"
    await resumed.submit_text("still there?")
    await _until_idle(resumed)
    types = [f["type"] for f in again.frames]
    assert "error" not in types, again.frames
    assert again.closed is None
    assert types[-1] == "response.done"
    lease = await redis_client.get(f"{key_prefix}session:{{{runtime.session_id}}}:lease")
    assert lease is not None, "the resumed runtime holds the lease"
    assert manager.active == 1
    await manager.shutdown()


async def test_a_failed_resume_leaves_no_runtime_holding_the_lease(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    llm = TimelineLLM(tokens=3, interval=0.001)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    token = next(f for f in outbox.frames if f["type"] == "session.started")["resume_token"]
    runtime.detach(outbox)
    await _eventually(lambda: manager.active == 0, "the idle runtime closed")

    class BrokenOutbox(FakeOutbox):
        def send_text(self, text: str) -> None:
            raise ConnectionResetError("socket gone mid-resume")

    with pytest.raises(ConnectionResetError):
        await manager.resume(_resume_msg(runtime.session_id, token), BrokenOutbox())
    await _eventually(lambda: manager.active == 0, "the unattached runtime closed")
    lease = await redis_client.get(f"{key_prefix}session:{{{runtime.session_id}}}:lease")
    assert lease is None
    await manager.shutdown()


async def test_a_reply_whose_write_fails_hands_the_session_over_and_its_turn_is_answered(
    make_manager: Any, redis_client: Redis, key_prefix: str
) -> None:
    """A store error mid-reply: the client is told to resume (store_unavailable, 1013); the
    resume ends the cut reply with server_lost and answers the committed turn again."""
    llm = TimelineLLM(tokens=30, interval=0.002)
    manager = make_manager(llm)
    outbox, runtime = await open_session(manager)
    token = next(f for f in outbox.frames if f["type"] == "session.started")["resume_token"]
    store = runtime._store
    append = store.append
    writes = 0

    async def failing_once(*args: Any, **kwargs: Any) -> None:
        nonlocal writes
        writes += 1
        if writes == 5:  # a text delta of the reply
            raise RedisConnectionError("Connection closed by server.")
        await append(*args, **kwargs)

    store.append = failing_once  # type: ignore[method-assign]
    await runtime.submit_text("tell me everything")
    await _eventually(lambda: outbox.closed is not None, "the socket was closed")
    assert outbox.closed == 1013
    notices = [f for f in outbox.frames if f["seq"] == 0]
    assert [n["type"] for n in notices] == ["error", "session.closing"]
    assert notices[0]["code"] == "store_unavailable" and notices[1]["resumable"] is True
    await _eventually(lambda: manager.active == 0, "the runtime closed")
    committed = next(f for f in outbox.frames if f["type"] == "input.committed")

    again = FakeOutbox()
    resumed = await manager.resume(_resume_msg(runtime.session_id, token), again)
    await _until_idle(resumed)
    dones = [f for f in again.frames if f["type"] == "response.done"]
    assert [(d["status"], d.get("reason")) for d in dones] == [
        ("failed", "server_lost"),
        ("completed", None),
    ]
    created = [f for f in again.frames if f["type"] == "response.created"]
    assert created[-1]["input_item_id"] == committed["item_id"]
    await manager.shutdown()
