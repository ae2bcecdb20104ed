"""Voice in over a real socket: real speech (Piper), Silero VAD, Whisper tiny.en, the real LLM.

Audio is streamed in real time in 20 ms frames, as a microphone would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
import soxr

from agent.heard import heard_prefix
from server.ws_client import RealtimeClient
from speech.audio import float_to_pcm16
from tests import speech_corpus as corpus
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = [pytest.mark.model, pytest.mark.speech]

FRAME_MS = 20


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    # A short echo guard lets the barge-in test talk over the reply right after it starts.
    return start_server(
        "voice",
        AVATAR_LLM__MAX_TOKENS="300",
        AVATAR_LLM__IGNORE_EOS="true",  # replies last ~3 s, long enough to talk over
        AVATAR_VOICE__ECHO_GUARD_MS="100",
    )


def pcm(audio: np.ndarray) -> bytes:
    return float_to_pcm16(audio.astype(np.float32))


async def collect_until(
    client: RealtimeClient, done: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    """Receive events until ``done`` response.done events with status completed."""
    completed = 0
    events = []
    while completed < done:
        event = await client.recv(timeout=timeout)
        events.append(event)
        if event["type"] == "response.done" and event["status"] == "completed":
            completed += 1
    return events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


async def test_a_spoken_question_is_transcribed_and_answered(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    started = await client.connect()
    assert started["config"]["capabilities"]["audio_in"] is True
    assert started["config"]["audio_in"]["enabled"] is True
    question = corpus.with_padding(
        corpus.piper_speech("What time does the store open on Sunday?"), 0.5, 1.5
    )
    sender = asyncio.create_task(client.send_audio(pcm(question), frame_ms=FRAME_MS))
    events = await collect_until(client)
    await sender
    await client.close()

    types = [e["type"] for e in events]
    assert types.index("input_audio.speech_started") < types.index("input_audio.speech_stopped")
    assert types.index("input_audio.speech_stopped") < types.index(
        "input_audio.transcript.completed"
    )
    assert of_type(events, "input_audio.transcript.partial"), "partials while speaking"
    completed = of_type(events, "input_audio.transcript.completed")[0]
    assert completed["text"] == "What time does the store open on Sunday?"
    assert 400 <= completed["audio_start_ms"] <= 700, "speech began 500 ms into the stream"
    committed = of_type(events, "input.committed")[0]
    assert committed["source"] == "voice"
    assert committed["item_id"] == completed["item_id"]
    assert of_type(events, "response.created")[0]["input_item_id"] == committed["item_id"]


async def test_two_utterances_with_a_short_pause_form_one_turn(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    audio = corpus.with_padding(
        corpus.concat(
            corpus.piper_speech("I would like to change"),
            corpus.pause(350),
            corpus.piper_speech("my delivery address."),
        ),
        0.4,
        1.5,
    )
    sender = asyncio.create_task(client.send_audio(pcm(audio), frame_ms=FRAME_MS))
    events = await collect_until(client)
    await sender
    await client.close()

    committed = of_type(events, "input.committed")
    assert len({c["item_id"] for c in committed}) == 1, "one turn, one item"
    assert "delivery address" in committed[-1]["text"].lower()
    assert "change" in committed[-1]["text"].lower()
    completed_replies = [e for e in of_type(events, "response.done") if e["status"] == "completed"]
    assert len(completed_replies) == 1
    extended = [e for e in of_type(events, "response.done") if e["reason"] == "turn_extended"]
    if extended:  # the pause outlasted the end-of-turn wait, and the reply had not started
        assert committed[-1]["replaces"] is True
        assert all(e["text"] == "" for e in extended)


async def test_silence_noise_and_breathing_produce_no_turn(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    audio = corpus.concat(
        corpus.silence(1.0),
        corpus.white_noise(1.5, level=0.01),
        corpus.pink_noise(1.5, level=0.02),
        corpus.breathing(2.0),
        corpus.silence(1.0),
    )
    await client.send_audio(pcm(audio), frame_ms=FRAME_MS)
    await client.send({"type": "ping", "event_id": "after-noise"})
    events = []
    while True:
        event = await client.recv(timeout=10)
        events.append(event)
        if event["type"] == "pong":
            break
    await client.close()
    assert [e["type"] for e in events] == ["pong"], "no speech, no turn"


async def test_speech_during_a_reply_barges_in_and_history_keeps_what_was_sent(
    server: ServerProcess,
) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    speak = asyncio.Event()
    interruption = corpus.with_padding(corpus.piper_speech("Do you ship to Canada?"), 0.0, 1.5)

    async def microphone() -> None:
        # A live microphone: silence until the user decides to talk over the avatar.
        frame = pcm(corpus.silence(FRAME_MS / 1000))
        while not speak.is_set():
            await client.send_audio(frame, frame_ms=FRAME_MS)
        await client.send_audio(pcm(interruption), frame_ms=FRAME_MS)

    mic = asyncio.create_task(microphone())
    await asyncio.sleep(0.5)
    await client.send(
        {
            "type": "input.text",
            "text": "Tell me a very long story about a dragon, with many details.",
        }
    )
    created = await client.wait_for("response.created")
    await client.wait_for("response.text.delta")
    await asyncio.sleep(0.3)  # speech starting within the echo guard would be taken for echo
    speak.set()
    events = await collect_until(client)
    await mic
    await client.close()

    everything = client.events
    done = next(
        e
        for e in everything
        if e["type"] == "response.done" and e["response_id"] == created["response_id"]
    )
    timeline = [
        (e["seq"], e["type"], e.get("status"), e.get("audio_start_ms"))
        for e in everything
        if e["type"] != "response.text.delta"
    ]
    assert done["status"] == "cancelled", (timeline, done["usage"], done["timings"])
    assert done["reason"] == "barge_in"
    sent = "".join(
        e["delta"]
        for e in everything
        if e["type"] == "response.text.delta" and e["response_id"] == created["response_id"]
    )
    assert done["text"] == sent, "history keeps exactly what the user received"
    speech_started = next(e for e in everything if e["type"] == "input_audio.speech_started")
    assert speech_started["seq"] == done["seq"] + 1, "stopped in the frame that showed speech"
    transcript = of_type(events, "input_audio.transcript.completed")[0]
    assert "canada" in transcript["text"].lower()

    # The client's player had only got through the first 12 characters when it stopped.
    await client.resume()
    await client.send(
        {"type": "playback.stopped", "response_id": created["response_id"], "played_chars": 12}
    )
    truncated = await client.wait_for("response.truncated")
    assert truncated["text"] == heard_prefix(sent, 12)
    await client.send({"type": "playback.stopped", "response_id": "resp_nope", "played_chars": 1})
    error = await client.wait_for("error", raise_errors=False)
    assert error["code"] == "unknown_response"
    await client.close()


async def test_audio_at_48_khz_is_resampled(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    question = corpus.with_padding(corpus.piper_speech("How do I reset my password?"), 0.4, 1.5)
    at_48k = soxr.resample(question, 16000, 48000).astype(np.float32)
    sender = asyncio.create_task(client.send_audio(pcm(at_48k), 48000, frame_ms=FRAME_MS))
    events = await collect_until(client)
    await sender
    await client.close()
    completed = of_type(events, "input_audio.transcript.completed")[0]
    assert completed["text"] == "How do I reset my password?"


async def test_a_sample_rate_change_within_a_stream_is_refused(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    await client.send_audio(pcm(corpus.silence(0.04)), 16000, realtime=False)
    await client.send_audio(pcm(corpus.silence(0.04)), 24000, realtime=False)
    error = await client.wait_for("error", raise_errors=False)
    assert error["code"] == "invalid_audio_frame"
    assert "sample rate changed" in error["message"]
    await client.close()


async def test_typed_input_works_while_the_microphone_streams(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    stop = asyncio.Event()

    async def microphone() -> None:
        frame = pcm(corpus.silence(FRAME_MS / 1000))
        while not stop.is_set():
            await client.send_audio(frame, frame_ms=FRAME_MS)

    mic = asyncio.create_task(microphone())
    await asyncio.sleep(0.3)
    await client.send({"type": "input.text", "text": "Hello!"})
    committed = await client.wait_for("input.committed")
    done = await client.wait_for("response.done")
    stop.set()
    await mic
    await client.close()
    assert committed["source"] == "text"
    assert done["status"] == "completed"


async def test_the_persona_vocabulary_biases_recognition(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prompts = tmp_path_factory.mktemp("prompts")
    (prompts / "default.md").write_text(
        "---\nname: Ada\nvocabulary: [Zorblax]\n---\nYou sell gadgets. Answer briefly.\n"
    )
    server = start_server("vocabulary", AVATAR_PROMPTS_DIR=str(prompts))
    client = RealtimeClient(server.url, audio_in=True)
    await client.connect()
    # Without a hint, Whisper tiny.en hears "Zor Black's" (tests/speech/test_asr_model.py).
    question = corpus.with_padding(
        corpus.piper_speech("Do you sell the Zorblax in green?"), 0.4, 1.5
    )
    sender = asyncio.create_task(client.send_audio(pcm(question), frame_ms=FRAME_MS))
    events = await collect_until(client)
    await sender
    await client.close()
    completed = of_type(events, "input_audio.transcript.completed")[0]
    assert "Zorblax" in completed["text"]


async def test_playback_acks_put_voice_to_voice_latency_into_metrics(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, audio_in=True, audio_out=True)
    await client.connect()
    question = corpus.with_padding(
        corpus.piper_speech("Is there a discount for students?"), 0.4, 1.5
    )
    sender = asyncio.create_task(client.send_audio(pcm(question), frame_ms=FRAME_MS))
    created = await client.wait_for("response.created")
    while not client.audio:
        await client.recv(timeout=30)
    await client.send(
        {"type": "playback.position", "response_id": created["response_id"], "played_ms": 0}
    )
    await client.send({"type": "response.cancel"})  # this server's replies are long on purpose
    await client.wait_for("response.done")
    await sender
    await client.close()
    async with httpx.AsyncClient(base_url=server.http) as http:
        metrics = (await http.get("/metrics")).text
    count = next(
        line
        for line in metrics.splitlines()
        if line.startswith('avatar_stage_latency_seconds_count{stage="voice_to_voice"}')
    )
    assert float(count.split()[-1]) >= 1
    total = next(
        line
        for line in metrics.splitlines()
        if line.startswith('avatar_stage_latency_seconds_sum{stage="voice_to_voice"}')
    )
    assert 0.05 < float(total.split()[-1]) < 10, "a plausible end-of-speech to playback time"
