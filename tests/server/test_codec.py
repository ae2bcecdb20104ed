"""server/protocol/codec.py: client text frames in, agent events out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent import events as ev
from server.protocol import messages as wire
from server.protocol.codec import agent_event_to_wire, decode_client_text
from server.protocol.errors import ErrorCode, ProtocolError


def _decode_error(data: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_client_text(data)
    return info.value


# ── decode_client_text: errors ──────────────────────────────────────────────


@pytest.mark.parametrize(
    "data",
    [
        "",
        "not json",
        "{'type': 'ping'}",
        '{"type": "ping"',
        b'{"type": "ping", "event_id": "\xff\xfe\xfd"}',
        b"\xc3\x28",
    ],
    ids=["empty", "plain-text", "single-quotes", "truncated", "bad-utf8-inside", "bad-utf8"],
)
def test_frame_that_is_not_json_is_reported_as_invalid_json(data: str | bytes) -> None:
    err = _decode_error(data)

    assert err.code is ErrorCode.INVALID_JSON
    assert err.event_id is None


@pytest.mark.parametrize("data", ['[{"type": "ping"}]', '"ping"', "42", "null", "true"], ids=repr)
def test_json_that_is_not_an_object_is_reported_as_invalid_message(data: str) -> None:
    err = _decode_error(data)

    assert err.code is ErrorCode.INVALID_MESSAGE
    assert "object" in err.message


@pytest.mark.parametrize(
    "raw",
    [{"event_id": "e1"}, {"type": None, "event_id": "e1"}, {"type": 7, "event_id": "e1"}],
    ids=["missing", "null", "number"],
)
def test_message_without_string_type_is_invalid_and_echoes_event_id(raw: dict[str, Any]) -> None:
    err = _decode_error(json.dumps(raw))

    assert err.code is ErrorCode.INVALID_MESSAGE
    assert err.event_id == "e1"
    assert "type" in err.message


def test_unknown_type_is_reported_with_its_own_code_and_echoes_event_id() -> None:
    err = _decode_error(json.dumps({"type": "session.explode", "event_id": "abc"}))

    assert err.code is ErrorCode.UNKNOWN_TYPE
    assert err.event_id == "abc"
    assert "session.explode" in err.message


def test_unknown_type_name_is_shortened_in_the_message() -> None:
    err = _decode_error(json.dumps({"type": "x" * 500}))

    assert err.code is ErrorCode.UNKNOWN_TYPE
    assert "x" * 41 not in err.message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "input.text", "text": 123}, "text"),
        ({"type": "input.text", "text": ""}, "text"),
        ({"type": "input.text"}, "text"),
        ({"type": "session.start"}, "protocol_version"),
        ({"type": "session.start", "protocol_version": "1", "capabilities": "all"}, "capabilities"),
        (
            {"type": "session.resume", "protocol_version": "1", "session_id": "s", "last_seq": 0},
            "resume_token",
        ),
        (
            {
                "type": "session.resume",
                "protocol_version": "1",
                "session_id": "s",
                "resume_token": "t",
                "last_seq": -1,
            },
            "last_seq",
        ),
        ({"type": "response.cancel", "response_id": ["r"]}, "response_id"),
        ({"type": "ping", "extra": True}, "extra"),
        ({"type": "input.text", "text": "hi", "role": "system"}, "role"),
    ],
    ids=[
        "text-not-string",
        "text-empty",
        "text-missing",
        "start-missing-version",
        "start-capabilities-not-object",
        "resume-missing-token",
        "resume-negative-seq",
        "cancel-id-not-string",
        "ping-extra-field",
        "input-extra-field",
    ],
)
def test_known_type_with_wrong_fields_is_invalid_message_naming_the_field(
    raw: dict[str, Any], field: str
) -> None:
    raw = {**raw, "event_id": "ev-7"}

    err = _decode_error(json.dumps(raw))

    assert err.code is ErrorCode.INVALID_MESSAGE
    assert err.event_id == "ev-7"
    assert err.message.startswith(f"{raw['type']}: ")
    assert field in err.message


def test_event_id_of_64_characters_is_echoed() -> None:
    event_id = "e" * 64

    err = _decode_error(json.dumps({"type": "nope", "event_id": event_id}))

    assert err.event_id == event_id


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "nope", "event_id": "e" * 65},
        {"event_id": "e" * 65},
        {"type": "ping", "event_id": "e" * 65},
        {"type": "nope", "event_id": 12},
    ],
    ids=["unknown-type", "missing-type", "valid-type", "not-a-string"],
)
def test_event_id_that_is_too_long_or_not_a_string_is_dropped(raw: dict[str, Any]) -> None:
    err = _decode_error(json.dumps(raw))

    assert err.event_id is None


def test_error_without_event_id_carries_none() -> None:
    err = _decode_error(json.dumps({"type": "nope"}))

    assert err.event_id is None


# ── decode_client_text: valid messages ──────────────────────────────────────


def test_session_start_decodes_with_defaults() -> None:
    msg = decode_client_text('{"type": "session.start", "protocol_version": "1"}')

    assert msg == wire.SessionStart(protocol_version="1")
    assert msg.capabilities == wire.Capabilities(text=True)
    assert msg.persona is None


def test_session_start_decodes_every_field() -> None:
    raw = {
        "type": "session.start",
        "event_id": "e1",
        "protocol_version": "1",
        "capabilities": {"text": True, "audio_in": True, "audio_out": True, "visemes": True},
        "persona": "default",
        "client": {"name": "web", "version": "1.2.3"},
    }

    msg = decode_client_text(json.dumps(raw))

    assert isinstance(msg, wire.SessionStart)
    assert msg.model_dump() == raw


def test_session_resume_decodes() -> None:
    raw = {
        "type": "session.resume",
        "protocol_version": "1",
        "session_id": "sess_1",
        "resume_token": "tok",
        "last_seq": 12,
    }

    msg = decode_client_text(json.dumps(raw))

    assert isinstance(msg, wire.SessionResume)
    assert (msg.session_id, msg.resume_token, msg.last_seq) == ("sess_1", "tok", 12)


def test_input_text_decodes_from_bytes_too() -> None:
    msg = decode_client_text('{"type": "input.text", "text": "héllo", "event_id": "e"}'.encode())

    assert msg == wire.InputText(text="héllo", event_id="e")


@pytest.mark.parametrize("response_id", [None, "resp_1"])
def test_response_cancel_decodes_with_and_without_id(response_id: str | None) -> None:
    raw: dict[str, Any] = {"type": "response.cancel"}
    if response_id is not None:
        raw["response_id"] = response_id

    msg = decode_client_text(json.dumps(raw))

    assert msg == wire.ResponseCancel(response_id=response_id)


def test_ping_decodes() -> None:
    assert decode_client_text('{"type": "ping", "event_id": "p1"}') == wire.Ping(event_id="p1")


def test_every_client_message_type_is_decodable() -> None:
    minimal: dict[str, dict[str, Any]] = {
        "session.start": {"protocol_version": "1"},
        "session.resume": {
            "protocol_version": "1",
            "session_id": "s",
            "resume_token": "t",
            "last_seq": 0,
        },
        "input.text": {"text": "hi"},
        "response.cancel": {},
        "playback.stopped": {"response_id": "resp_1", "played_chars": 10},
        "playback.position": {"response_id": "resp_1", "played_ms": 500},
        "response.say": {"text": "Hello!"},
        "ping": {},
    }
    assert set(minimal) == set(wire.CLIENT_MESSAGE_TYPES)

    for kind, fields in minimal.items():
        msg = decode_client_text(json.dumps({"type": kind, **fields}))
        assert type(msg) is wire.CLIENT_MESSAGE_TYPES[kind]


# ── agent_event_to_wire ─────────────────────────────────────────────────────


def _roundtrip(event: wire.ServerEvent) -> wire.ServerEvent:
    """Each wire event must survive the server message adapter the frontend schema mirrors."""
    parsed = wire.server_message_adapter.validate_json(event.model_dump_json())
    assert parsed == event
    return event


def test_text_delta_becomes_response_text_delta() -> None:
    out = agent_event_to_wire(ev.TextDelta("resp_1", "Hel"), 5, "sess_1")

    assert out == wire.ResponseTextDelta(
        seq=5, session_id="sess_1", response_id="resp_1", delta="Hel"
    )
    _roundtrip(out)


def test_response_created_becomes_response_created() -> None:
    out = agent_event_to_wire(ev.ResponseCreated("resp_1", "item_1"), 3, "sess_1")

    assert out == wire.ResponseCreated(
        seq=3, session_id="sess_1", response_id="resp_1", input_item_id="item_1"
    )
    _roundtrip(out)


@pytest.mark.parametrize("source", ["text", "voice"])
def test_input_committed_becomes_input_committed(source: ev.InputSource) -> None:
    out = agent_event_to_wire(ev.InputCommitted("item_1", "hello", source), 1, "sess_1")

    assert out == wire.InputCommitted(
        seq=1, session_id="sess_1", item_id="item_1", text="hello", source=source
    )
    _roundtrip(out)


def test_completed_response_done_carries_usage_and_timings() -> None:
    done = ev.ResponseDone("resp_1", "completed", "Hi there.", 4, ev.ResponseTimings(12.5, 80.0))

    out = agent_event_to_wire(done, 9, "sess_1")

    assert out == wire.ResponseDone(
        seq=9,
        session_id="sess_1",
        response_id="resp_1",
        status="completed",
        text="Hi there.",
        reason=None,
        usage=wire.Usage(output_tokens=4),
        timings=wire.Timings(first_token_ms=12.5, total_ms=80.0),
    )
    _roundtrip(out)


def test_cancelled_response_done_keeps_reason_and_missing_first_token() -> None:
    done = ev.ResponseDone(
        "resp_1", "cancelled", "", 0, ev.ResponseTimings(None, 3.0), reason="interrupted"
    )

    out = agent_event_to_wire(done, 2, "sess_1")

    assert isinstance(out, wire.ResponseDone)
    assert (out.status, out.reason, out.text) == ("cancelled", "interrupted", "")
    assert out.timings.first_token_ms is None
    _roundtrip(out)


def test_failed_response_done_keeps_reason_but_not_the_internal_error_code() -> None:
    done = ev.ResponseDone(
        "resp_1",
        "failed",
        "Par",
        1,
        ev.ResponseTimings(1.0, 2.0),
        reason="boom",
        error_code="llm_failed",
    )

    out = agent_event_to_wire(done, 2, "sess_1")

    assert isinstance(out, wire.ResponseDone)
    assert (out.status, out.reason, out.text) == ("failed", "boom", "Par")
    assert "error_code" not in out.model_dump()
    _roundtrip(out)


@pytest.mark.parametrize(
    "fields",
    [{}, {"played_ms": 1, "played_chars": 1}],
)
def test_playback_stopped_needs_exactly_one_position(fields: dict[str, int]) -> None:
    raw = json.dumps({"type": "playback.stopped", "response_id": "r", **fields})
    with pytest.raises(ProtocolError) as info:
        decode_client_text(raw)
    assert info.value.code == "invalid_message"
