"""A text conversation over a real socket, with real Redis and the real embedded model."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from server.ws_client import RealtimeClient
from tests.conftest import REDIS_URL
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server("conv")


async def _history(prefix: str, session_id: str) -> list[dict[str, str]]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        rows = await client.lrange(f"{prefix}session:{{{session_id}}}:history", 0, -1)
    finally:
        await client.aclose()
    return [json.loads(r) for r in rows]


async def test_a_three_turn_conversation_streams_replies_and_keeps_history(
    server: ServerProcess, server_prefix: str
) -> None:
    client = RealtimeClient(server.url)
    started = await client.connect()
    assert started["seq"] == 1
    assert started["config"]["persona"]["id"] == "default"
    assert started["config"]["llm"].startswith("llama.cpp:")
    questions = ["Hello! What is your name?", "What colour is the sky?", "Thank you, goodbye."]
    replies = [await client.ask(q) for q in questions]
    await client.close()

    for reply in replies:
        assert reply.status == "completed"
        assert reply.text
        assert reply.deltas >= 1
        assert reply.first_delta_s is not None
    assert len({r.response_id for r in replies}) == 3
    seqs = [e["seq"] for e in client.events]
    assert seqs == list(range(1, len(seqs) + 1)), "seq must rise by one per event"
    assert all(e["session_id"] == client.session_id for e in client.events)

    types = [e["type"] for e in client.events]
    first_turn = types[types.index("input.committed") : types.index("response.done") + 1]
    assert first_turn[:2] == ["input.committed", "response.created"]
    assert set(first_turn[2:-1]) == {"response.text.delta"}

    for reply in replies:
        deltas = "".join(
            e["delta"]
            for e in client.events
            if e["type"] == "response.text.delta" and e["response_id"] == reply.response_id
        )
        assert reply.text == deltas.strip()

    history = await _history(server_prefix, client.session_id or "")
    assert [h["role"] for h in history] == ["user", "assistant"] * 3
    assert [h["text"] for h in history[::2]] == questions
    assert [h["text"] for h in history[1::2]] == [r.text for r in replies]


async def test_cancel_stops_the_reply_and_history_keeps_only_what_was_sent(
    server: ServerProcess, server_prefix: str
) -> None:
    client = RealtimeClient(server.url)
    await client.connect()
    await client.send({"type": "input.text", "text": "Tell me a very long story about a dragon."})
    created = await client.wait_for("response.created")
    await client.wait_for("response.text.delta")
    await client.send({"type": "response.cancel", "event_id": "c1"})
    done = await client.wait_for("response.done")
    await client.close()

    assert done["response_id"] == created["response_id"]
    assert done["status"] == "cancelled"
    assert done["reason"] == "client"
    sent = "".join(
        e["delta"]
        for e in client.events
        if e["type"] == "response.text.delta" and e["response_id"] == created["response_id"]
    )
    assert done["text"] == sent
    assert done["usage"]["output_tokens"] < 60
    history = await _history(server_prefix, client.session_id or "")
    assert history[-1] == {"item_id": history[-1]["item_id"], "role": "assistant", "text": sent}


async def test_new_input_interrupts_the_reply_in_progress(server: ServerProcess) -> None:
    client = RealtimeClient(server.url)
    await client.connect()
    await client.send({"type": "input.text", "text": "Describe the ocean in great detail."})
    first = await client.wait_for("response.created")
    await client.wait_for("response.text.delta")
    reply = await client.ask("Actually, just say hi.")
    await client.close()

    interrupted = next(
        e
        for e in client.events
        if e["type"] == "response.done" and e["response_id"] == first["response_id"]
    )
    assert interrupted["status"] == "cancelled"
    assert interrupted["reason"] == "interrupted"
    order = [
        e["type"]
        for e in client.events
        if e["type"] in ("response.done", "input.committed", "response.created")
    ]
    assert order == [
        "input.committed",
        "response.created",
        "response.done",
        "input.committed",
        "response.created",
        "response.done",
    ]
    assert reply.status == "completed"


async def test_ping_is_answered_with_pong_carrying_the_event_id(server: ServerProcess) -> None:
    client = RealtimeClient(server.url)
    await client.connect()
    await client.send({"type": "ping", "event_id": "hb-1"})
    pong = await client.wait_for("pong")
    await client.close()
    assert pong["event_id"] == "hb-1"
    assert pong["seq"] == 2


async def test_a_server_without_speech_models_is_ready_and_grants_text_only(
    start_server: StartServer,
) -> None:
    lean = start_server("text-only", AVATAR_VOICE__ENABLED="false", AVATAR_TTS__ENABLED="false")
    async with httpx.AsyncClient(base_url=lean.http) as http:
        ready = (await http.get("/readyz")).json()
    assert ready["ready"] is True
    client = RealtimeClient(lean.url, audio_in=True, audio_out=True)
    started = await client.connect()
    await client.close()
    assert started["config"]["capabilities"] == {
        "text": True,
        "audio_in": False,
        "audio_out": False,
        "visemes": False,
    }


async def test_probes_and_metrics_report_a_served_turn(server: ServerProcess) -> None:
    client = RealtimeClient(server.url)
    await client.connect()
    await client.ask("Hi!")
    async with httpx.AsyncClient(base_url=server.http) as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        metrics = (await http.get("/metrics")).text
    await client.close()

    assert health.json() == {"status": "ok"}
    assert ready.json() == {
        "ready": True,
        "checks": {
            "redis": True,
            "llm": True,
            "asr": True,
            "tts": True,
            "knowledge": True,
            "accepting": True,
        },
    }
    assert "avatar_active_sessions " in metrics
    assert "avatar_connections 1.0" in metrics
    assert 'avatar_turns_total{status="completed"}' in metrics
    assert 'avatar_stage_latency_seconds_bucket{le="0.5",stage="llm_first_token"}' in metrics
