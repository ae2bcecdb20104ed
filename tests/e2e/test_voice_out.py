"""Voice out over a real socket: the real LLM, the Piper worker process, timed segments, audio."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from server.ws_client import RealtimeClient
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = [pytest.mark.model, pytest.mark.speech]

RATE = 22050
FRAME_MS = 40


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server("speaker", AVATAR_LLM__MAX_TOKENS="60")


async def _reply(client: RealtimeClient, text: str) -> list[dict[str, Any]]:
    await client.send({"type": "input.text", "text": text})
    events = []
    while True:
        event = await client.recv(timeout=60)
        events.append(event)
        if event["type"] == "response.done":
            return events


async def test_a_text_turn_is_spoken_with_words_and_visemes_on_the_audio_clock(
    server: ServerProcess,
) -> None:
    client = RealtimeClient(server.url, audio_out=True)
    started = await client.connect()
    assert started["config"]["capabilities"]["audio_out"] is True
    assert started["config"]["audio_out"] == {
        "enabled": True,
        "encoding": "pcm16",
        "sample_rate": RATE,
        "channels": 1,
    }
    events = await _reply(client, "Hello! Who are you?")
    await client.close()

    segments = [e for e in events if e["type"] == "response.audio.segment"]
    done = events[-1]
    assert done["status"] == "completed"
    assert segments, "the reply was spoken"
    frames = [frame for _, frame in client.audio]
    assert {f.stream for f in frames} == {segments[0]["stream"]}
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert sum(f.samples for f in frames) == sum(s["samples"] for s in segments)
    pts = 0
    for segment in segments:
        assert segment["pts"] == pts, "segments follow each other on one audio clock"
        pts += segment["samples"]
        length_ms = segment["samples"] / RATE * 1000
        visemes = segment["visemes"]
        assert visemes[0]["start_ms"] == 0
        for a, b in itertools.pairwise(visemes):
            assert a["start_ms"] + a["duration_ms"] == b["start_ms"], "visemes tile the audio"
        assert abs(visemes[-1]["start_ms"] + visemes[-1]["duration_ms"] - length_ms) <= FRAME_MS
        assert all(0 <= v["id"] <= 14 for v in visemes)
        words = segment["words"]
        assert [w["text"] for w in words] == segment["text"].split()
        assert all(w["start_ms"] + w["duration_ms"] <= length_ms + FRAME_MS for w in words)
    spoken = " ".join(s["text"] for s in segments)
    assert spoken.split() == done["text"].split(), "everything said was in the reply"


async def test_events_and_audio_arrive_in_a_consistent_order(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_out=True)
    await client.connect()
    await client.send({"type": "input.text", "text": "Say something nice."})
    order: list[str] = []
    while True:
        before = len(client.audio)
        event = await client.recv(timeout=60)
        order += ["audio"] * (len(client.audio) - before)
        order.append(event["type"])
        if event["type"] == "response.done":
            break
    await client.close()
    spoken = [t for t in order if t in ("response.audio.segment", "audio", "response.done")]
    assert spoken[0] == "response.audio.segment", "a segment's timings come before its audio"
    assert spoken[-1] == "response.done", "done comes after the last audio frame"
    assert order.index("response.created") < order.index("response.audio.segment")


async def test_cancelling_mid_segment_stops_the_audio(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_out=True)
    await client.connect()
    await client.send({"type": "input.text", "text": "Tell me a long story about the sea."})
    created = await client.wait_for("response.created")
    while len(client.audio) < 5:
        await client.recv(timeout=30)
    await client.send({"type": "response.cancel"})
    done = await client.wait_for("response.done")
    frames_at_done = len(client.audio)
    await client.send({"type": "ping"})
    await client.wait_for("pong")
    await asyncio.sleep(0.5)
    await client.send({"type": "ping"})
    await client.wait_for("pong")
    await client.close()

    assert done["response_id"] == created["response_id"]
    assert done["status"] == "cancelled"
    assert len(client.audio) == frames_at_done, "no audio after the reply ended"
    sent_ms = sum(f.samples for _, f in client.audio) / RATE * 1000
    assert sent_ms < 2500, "audio went out paced, not the whole reply at once"


async def test_say_speaks_exact_text_and_times_its_expression(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_out=True)
    await client.connect()
    await client.send({"type": "response.say", "text": "Welcome back! [smile] How can I help?"})
    created = await client.wait_for("response.created")
    segments = []
    while True:
        event = await client.recv(timeout=30)
        if event["type"] == "response.audio.segment":
            segments.append(event)
        if event["type"] == "response.done":
            break
    await client.close()
    assert created["input_item_id"] is None
    assert " ".join(s["text"] for s in segments) == "Welcome back! How can I help?"
    tagged = next(s for s in segments if s["text"] == "How can I help?")
    assert [(x["name"], x["word_index"]) for x in tagged["expressions"]] == [("smile", 0)], (
        "the model's tag, on the word that follows it"
    )
    assert tagged["expressions"][0]["start_ms"] == tagged["words"][0]["start_ms"]
    untagged = next(s for s in segments if s["text"] == "Welcome back!")
    assert [x["name"] for x in untagged["expressions"]] == ["smile"], "the fallback's guess"


async def test_a_playback_report_in_ms_keeps_only_the_words_heard(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_out=True)
    await client.connect()
    await client.send(
        {"type": "response.say", "text": "We open at nine on Sundays and close at six."}
    )
    created = await client.wait_for("response.created")
    segment = await client.wait_for("response.audio.segment")
    await client.wait_for("response.done")
    words = segment["words"]
    third_word_end = words[2]["start_ms"] + words[2]["duration_ms"]
    await client.send(
        {
            "type": "playback.stopped",
            "response_id": created["response_id"],
            "played_ms": third_word_end + 5,
        }
    )
    truncated = await client.wait_for("response.truncated")
    await client.close()
    assert truncated["text"] == "We open at"
