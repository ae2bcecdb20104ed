"""Sessions and their persona: the avatar in the handshake answers (also after a resume on
another process), a widget token's pinned persona, and playback underruns in the metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agent.llm.protocols import ChatMessage, GenerationParams
from server.app import effective_config_factory
from server.metrics import Metrics
from server.protocol import messages as wire
from server.protocol.errors import ErrorCode, ProtocolError
from server.session_manager import SessionManager
from server.session_runtime import SessionRuntime
from server.settings import Settings
from tests.agent.test_speech_out import ScriptedTTS
from tests.server.test_session_runtime import FakeOutbox, TimelineLLM, build_manager

ADA = """---
name: Ada
avatar: /avatars/ada.vrm
---
You are Ada.
"""
PLAIN = """---
name: Plain
---
You are plain.
"""


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    (tmp_path / "default.md").write_text(PLAIN)
    (tmp_path / "ada.md").write_text(ADA)
    return tmp_path


def _manager(
    redis_client: Redis, key_prefix: str, prompts: Path, metrics: Metrics | None = None
) -> SessionManager:
    llm = TimelineLLM(tokens=4, interval=0.001)
    tts = ScriptedTTS()
    return build_manager(
        redis_client,
        key_prefix,
        llm,
        prompts=prompts,
        metrics=metrics,
        tts=tts,
        config_for=effective_config_factory(Settings(), llm, False, tts.sample_rate),
    )


def _start(persona: str | None = None) -> wire.SessionStart:
    return wire.SessionStart(protocol_version="1", persona=persona, event_id="evt_1")


async def test_the_handshake_answer_carries_the_persona_avatar(
    redis_client: Redis, key_prefix: str, prompts: Path
) -> None:
    manager = _manager(redis_client, key_prefix, prompts)
    with_avatar, without = FakeOutbox(), FakeOutbox()

    await manager.start(_start("ada"), with_avatar)
    await manager.start(_start(), without)

    assert with_avatar.frames[0]["config"]["persona"]["avatar"] == {
        "url": "/avatars/ada.vrm",
        "format": "vrm",
    }
    assert without.frames[0]["config"]["persona"]["avatar"] is None
    await manager.shutdown()


async def test_a_session_resumed_on_another_process_keeps_its_avatar(
    redis_client: Redis, key_prefix: str, prompts: Path
) -> None:
    first = _manager(redis_client, key_prefix, prompts)
    outbox = FakeOutbox()
    runtime = await first.start(_start("ada"), outbox)
    started = outbox.frames[0]
    await first.shutdown()
    (prompts / "ada.md").write_text(ADA.replace("ada.vrm", "other.glb"))  # the file changed

    second = _manager(redis_client, key_prefix, prompts)
    again = FakeOutbox()
    await second.resume(
        wire.SessionResume(
            protocol_version="1",
            session_id=runtime.session_id,
            resume_token=started["resume_token"],
            last_seq=started["seq"],
        ),
        again,
    )

    resumed = again.frames[-1]
    assert resumed["type"] == "session.resumed"
    assert resumed["config"]["persona"] == started["config"]["persona"], "the pinned version"
    await second.shutdown()


async def test_a_pinned_persona_is_used_when_the_client_names_none(
    redis_client: Redis, key_prefix: str, prompts: Path
) -> None:
    manager = _manager(redis_client, key_prefix, prompts)
    for named in (None, "ada"):
        outbox = FakeOutbox()
        await manager.start(_start(named), outbox, persona_pin="ada")
        assert outbox.frames[0]["config"]["persona"]["id"] == "ada"
    await manager.shutdown()


@pytest.mark.parametrize("named", ["default", "no-such-persona"])
async def test_another_persona_than_the_pinned_one_is_not_allowed(
    redis_client: Redis, key_prefix: str, prompts: Path, named: str
) -> None:
    manager = _manager(redis_client, key_prefix, prompts)
    outbox = FakeOutbox()

    with pytest.raises(ProtocolError) as info:
        await manager.start(_start(named), outbox, persona_pin="ada")

    assert info.value.code is ErrorCode.PERSONA_NOT_ALLOWED
    assert info.value.event_id == "evt_1"
    assert not info.value.spec.retryable and info.value.spec.close_code is None
    assert outbox.frames == [] and manager.active == 0
    await manager.shutdown()


async def test_underrun_reports_add_their_increase_to_the_metric(
    redis_client: Redis, key_prefix: str, prompts: Path
) -> None:
    metrics = Metrics()
    manager = _manager(redis_client, key_prefix, prompts, metrics)
    outbox = FakeOutbox()
    runtime = await manager.start(_start(), outbox)
    runtime.audio_out = True

    def total() -> float:
        return metrics.registry.get_sample_value("avatar_playback_underruns_total") or 0.0

    async def reply() -> str:
        before = sum(f["type"] == "response.done" for f in outbox.frames)
        await runtime.submit_text("hello")
        for _ in range(500):
            done = [f for f in outbox.frames if f["type"] == "response.done"]
            if len(done) > before:
                return str(done[-1]["response_id"])
            await asyncio.sleep(0.01)
        raise AssertionError("no reply")

    first = await reply()
    assert any(f["type"] == "response.audio.segment" for f in outbox.frames)
    reports: list[tuple[str, int, float]] = [
        (first, 0, 0),
        (first, 2, 2),
        (first, 2, 2),  # a repeated count adds nothing
        (first, 1, 2),  # nor does a lower one
        (first, 5, 5),
        ("resp_made_up", 100, 5),  # a reply this session never spoke is ignored
    ]
    for response_id, underruns, expected in reports:
        runtime.playback_position(response_id, 1000, underruns)
        assert total() == expected, (response_id, underruns)

    second = await reply()
    runtime.playback_position(second, 500, 3)
    assert total() == 8, "a new reply counts from zero"
    runtime.playback_position(first, 2000, 6)
    assert total() == 9, "a late report of the earlier reply adds only its own increase"
    await manager.shutdown()


def test_playback_position_underruns_default_to_zero_and_cannot_be_negative() -> None:
    message = wire.client_message_adapter.validate_python(
        {"type": "playback.position", "response_id": "resp_1", "played_ms": 10}
    )
    assert isinstance(message, wire.PlaybackPosition) and message.underruns == 0
    with pytest.raises(ValueError, match="underruns"):
        wire.client_message_adapter.validate_python(
            {"type": "playback.position", "response_id": "r", "played_ms": 1, "underruns": -1}
        )


class PromptLLM(TimelineLLM):
    """Remembers the system prompt of every reply it is asked for."""

    def __init__(self) -> None:
        super().__init__(tokens=2, interval=0.001)
        self.prompts: list[str] = []

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        cache_key: str | None = None,
    ) -> AsyncGenerator[str, None]:
        self.prompts.append(messages[0].content)
        return super().stream(messages, params, cache_key=cache_key)


async def _ask(runtime: SessionRuntime, outbox: FakeOutbox, text: str) -> None:
    done_before = sum(f["type"] == "response.done" for f in outbox.frames)
    await runtime.submit_text(text)
    for _ in range(500):
        if sum(f["type"] == "response.done" for f in outbox.frames) > done_before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no response.done")


async def test_an_edited_persona_reaches_new_sessions_while_live_ones_keep_their_version(
    redis_client: Redis, key_prefix: str, prompts: Path
) -> None:
    llm = PromptLLM()
    first = build_manager(redis_client, key_prefix, llm, prompts=prompts)
    live_out = FakeOutbox()
    live = await first.start(_start("ada"), live_out)
    await _ask(live, live_out, "hello")
    old_version = live_out.frames[0]["config"]["persona"]["version"]

    (prompts / "ada.md").write_text(ADA.replace("You are Ada.", "You are Ada, version two."))
    await _ask(live, live_out, "again")
    new_out = FakeOutbox()
    fresh = await first.start(_start("ada"), new_out)
    await _ask(fresh, new_out, "hello")
    assert new_out.frames[0]["config"]["persona"]["version"] != old_version
    assert [p.startswith("You are Ada, version two.") for p in llm.prompts] == [
        False,
        False,
        True,
    ]

    # The live session moves to another process (this one stops): it keeps its version there.
    started = live_out.frames[0]
    await first.shutdown()
    second = build_manager(redis_client, key_prefix, llm, prompts=prompts)
    again = FakeOutbox()
    resumed = await second.resume(
        wire.SessionResume(
            protocol_version="1",
            session_id=live.session_id,
            resume_token=started["resume_token"],
            last_seq=max(f["seq"] for f in live_out.frames),
        ),
        again,
    )
    assert again.frames[-1]["config"]["persona"]["version"] == old_version
    await _ask(resumed, again, "still there?")
    assert llm.prompts[-1].startswith("You are Ada.")
    await second.shutdown()
