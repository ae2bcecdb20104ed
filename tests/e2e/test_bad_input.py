"""Each kind of bad input gets its own error code (or a refused upgrade), never a crash, and
never disturbs another session."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol.audio_frames import AudioFrame, FrameKind, encode_frame
from server.protocol.messages import PROTOCOL_VERSION
from server.ws_client import RealtimeClient
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = pytest.mark.model

LIMITS = {
    "AVATAR_LIMITS__MAX_TEXT_FRAME_BYTES": "4096",
    "AVATAR_LIMITS__MAX_BINARY_FRAME_BYTES": "2048",
    "AVATAR_LIMITS__TRANSPORT_MAX_BYTES": "65536",
    "AVATAR_LIMITS__MAX_INPUT_CHARS": "300",
    "AVATAR_LIMITS__MESSAGES_PER_SECOND": "10",
    "AVATAR_LIMITS__MESSAGE_BURST": "20",
    "AVATAR_LIMITS__MAX_VIOLATIONS": "40",
    "AVATAR_CONNECTION__HANDSHAKE_TIMEOUT_S": "1",
    "AVATAR_CONNECTION__IDLE_TIMEOUT_S": "2.5",
    "AVATAR_CONNECTION__HEARTBEAT_INTERVAL_S": "1",
    "AVATAR_CONNECTION__ALLOWED_ORIGINS": '["https://shop.example"]',
}


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server("strict", **LIMITS)


async def _raw(server: ServerProcess) -> RealtimeClient:
    client = RealtimeClient(server.url)
    await client._open()
    return client


async def _started(server: ServerProcess) -> RealtimeClient:
    client = RealtimeClient(server.url)
    await client.connect()
    return client


async def _error_after(client: RealtimeClient, frame: str | bytes) -> dict[str, Any]:
    await client.send_raw(frame)
    return await client.wait_for("error", raise_errors=False, resumable=False)


async def _close_code(client: RealtimeClient) -> int | None:
    try:
        while True:
            await client.recv(timeout=10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    finally:
        await client.close()


def _pcm_frame(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "kind": FrameKind.INPUT_AUDIO,
        "stream": 1,
        "seq": 0,
        "pts": 0,
        "sample_rate": 16000,
        "pcm": b"\x00\x00" * 320,
    }
    return encode_frame(AudioFrame(**(fields | overrides)))


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2, 3]", "invalid_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "input.text", "text": "hi"}', "handshake_required"),
        ('{"type": "session.start"}', "invalid_message"),
        (_pcm_frame(), "audio_before_handshake"),
    ],
)
async def test_bad_frames_before_the_handshake_get_a_code_and_the_socket_stays_usable(
    server: ServerProcess, frame: str | bytes, code: str
) -> None:
    client = await _raw(server)
    error = await _error_after(client, frame)
    assert error["code"] == code
    assert error["seq"] == 0
    assert error["session_id"] is None
    await client.send({"type": "session.start", "protocol_version": PROTOCOL_VERSION})
    started = await client.wait_for("session.started", resumable=False)
    assert started["seq"] == 1
    await client.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("x" * 5000, "frame_too_large"),
        ('{"type": "input.text", "text": "' + "a" * 301 + '"}', "input_too_long"),
        ('{"type": "input.text", "text": ""}', "invalid_message"),
        ('{"type": "session.start", "protocol_version": "1"}', "already_started"),
        ('{"type": "response.cancel", "event_id": "e7"}', "no_active_response"),
        (_pcm_frame(sample_rate=12345), "invalid_audio_frame"),
        (b"\x01\x02", "invalid_audio_frame"),
        (_pcm_frame(kind=FrameKind.OUTPUT_AUDIO), "invalid_audio_frame"),
        (_pcm_frame(pcm=b"\x00" * 4000), "frame_too_large"),
        (_pcm_frame(), "audio_input_unavailable"),
    ],
)
async def test_bad_frames_in_a_session_get_a_code_and_the_session_goes_on(
    server: ServerProcess, frame: str | bytes, code: str
) -> None:
    client = await _started(server)
    error = await _error_after(client, frame)
    assert error["code"] == code
    assert error["seq"] == 2, "errors in a session are numbered events"
    if code == "no_active_response":
        assert error["event_id"] == "e7"
    reply = await client.ask("Hi")
    assert reply.status == "completed"
    await client.close()


async def test_an_unsupported_protocol_version_is_refused_with_close_4400(
    server: ServerProcess,
) -> None:
    client = await _raw(server)
    error = await _error_after(client, '{"type": "session.start", "protocol_version": "99"}')
    assert error["code"] == "unsupported_version"
    assert "1" in error["message"]
    assert await _close_code(client) == 4400


async def test_an_unknown_persona_is_refused(server: ServerProcess) -> None:
    client = await _raw(server)
    frame = json.dumps({"type": "session.start", "protocol_version": "1", "persona": "nobody"})
    error = await _error_after(client, frame)
    assert error["code"] == "persona_not_found"
    assert await _close_code(client) == 4400


async def test_a_frame_above_the_transport_cap_closes_the_socket_with_1009(
    server: ServerProcess,
) -> None:
    client = await _started(server)
    await client.send_raw("y" * 70000)
    assert await _close_code(client) == 1009


async def test_a_foreign_origin_is_refused_at_the_upgrade(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(server.url, additional_headers={"Origin": "https://evil.example"})
    assert info.value.response.status_code == 403
    allowed = RealtimeClient(server.url, origin="https://shop.example")
    await allowed.connect()
    await allowed.close()
    same_origin = RealtimeClient(server.url, origin=f"http://127.0.0.1:{server.port}")
    await same_origin.connect()
    await same_origin.close()


async def test_no_handshake_in_time_closes_the_socket(server: ServerProcess) -> None:
    client = await _raw(server)
    error = await client.wait_for("error", raise_errors=False, resumable=False)
    assert error["code"] == "handshake_timeout"
    assert await _close_code(client) == 4400


async def test_an_idle_socket_is_closed_but_its_session_can_resume(server: ServerProcess) -> None:
    client = RealtimeClient(server.url, heartbeat=False)
    await client.connect()
    error = await client.wait_for("error", raise_errors=False, resumable=False)
    closing = await client.wait_for("session.closing", resumable=False)
    assert error["code"] == "idle_timeout"
    assert closing["reason"] == "idle_timeout"
    assert closing["resumable"] is True
    assert await _close_code(client) == 4408
    resumed = await client.resume()
    assert resumed["replay"]["count"] == 0
    await client.close()


async def test_a_flood_is_rate_limited_then_cut_off_without_disturbing_another_session(
    server: ServerProcess,
) -> None:
    bystander = await _started(server)
    flooder = await _started(server)
    bystander_turn = asyncio.create_task(bystander.ask("What is two plus two?"))
    for _ in range(300):
        try:
            await flooder.send_raw('{"type": "ping"}')
        except ConnectionClosed:
            break
    codes = []
    close_code = None
    try:
        while True:
            event = await flooder.recv(timeout=10)
            if event["type"] == "error":
                codes.append(event["code"])
            if event["type"] == "session.closing":
                assert event["reason"] == "rate_limited"
    except ConnectionClosed as closed:
        close_code = closed.rcvd.code if closed.rcvd else None
    await flooder.close()

    assert "rate_limited" in codes
    assert codes.count("rate_limited") <= 3, "one rate_limited error a second, not one per frame"
    assert close_code == 4429
    reply = await bystander_turn
    assert reply.status == "completed"
    await bystander.close()


async def test_garbage_of_every_kind_leaves_the_server_healthy(server: ServerProcess) -> None:
    frames: list[str | bytes] = [
        "",
        "null",
        '{"type": 5}',
        '{"type": "input.text", "text": 3}',
        '{"type": "ping", "extra": true}',
        b"",
        b"\xff" * 30,
        "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    ]
    client = await _started(server)
    for frame in frames:
        error = await _error_after(client, frame)
        assert error["code"] in {"invalid_json", "invalid_message", "invalid_audio_frame"}
    reply = await client.ask("Are you still fine?")
    assert reply.status == "completed"
    await client.close()
