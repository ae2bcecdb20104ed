"""Sans-I/O wire codec: text frames in, validated client messages out; agent events to wire events.

``decode_client_text`` tells apart the ways a frame can be wrong, so each gets its own error code:
not JSON (``invalid_json``), JSON without a known ``type`` (``unknown_type``), or a known type whose
fields are wrong (``invalid_message``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from agent import events as ev
from server.protocol import messages as wire
from server.protocol.errors import ErrorCode, ProtocolError


def decode_client_text(data: str | bytes) -> wire.ClientCommand:
    """Parse one client text frame; raises ``ProtocolError``."""
    try:
        raw: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message must be a JSON object")
    event_id = raw.get("event_id")
    event_id = event_id if isinstance(event_id, str) and len(event_id) <= 64 else None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message needs a string 'type'", event_id)
    model = wire.CLIENT_MESSAGE_TYPES.get(kind)
    if model is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", event_id)
    try:
        message = model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or kind}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{kind}: {problems}", event_id) from None
    assert isinstance(message, wire.ClientCommand)
    return message


def agent_event_to_wire(event: ev.AgentEvent, seq: int, session_id: str) -> wire.ServerEvent:
    """Turn an agent event into the wire event it is sent as."""
    match event:
        case ev.TextDelta(response_id, delta):
            return wire.ResponseTextDelta(
                seq=seq, session_id=session_id, response_id=response_id, delta=delta
            )
        case ev.ResponseCreated(response_id, input_item_id):
            return wire.ResponseCreated(
                seq=seq, session_id=session_id, response_id=response_id, input_item_id=input_item_id
            )
        case ev.InputCommitted(item_id, text, source, replaces):
            return wire.InputCommitted(
                seq=seq,
                session_id=session_id,
                item_id=item_id,
                text=text,
                source=source,
                replaces=replaces,
            )
        case ev.SpeechStarted(item_id, audio_ms):
            return wire.SpeechStarted(
                seq=seq, session_id=session_id, item_id=item_id, audio_start_ms=audio_ms
            )
        case ev.SpeechStopped(item_id, audio_ms):
            return wire.SpeechStopped(
                seq=seq, session_id=session_id, item_id=item_id, audio_end_ms=audio_ms
            )
        case ev.TranscriptPartial(item_id, stable, unstable):
            return wire.TranscriptPartial(
                seq=seq, session_id=session_id, item_id=item_id, stable=stable, unstable=unstable
            )
        case ev.ResponseTruncated(response_id, text):
            return wire.ResponseTruncated(
                seq=seq, session_id=session_id, response_id=response_id, text=text
            )
        case ev.TranscriptCompleted(item_id, text, start_ms, end_ms):
            return wire.TranscriptCompleted(
                seq=seq,
                session_id=session_id,
                item_id=item_id,
                text=text,
                audio_start_ms=start_ms,
                audio_end_ms=end_ms,
            )
        case ev.ResponseDone():
            return wire.ResponseDone(
                seq=seq,
                session_id=session_id,
                response_id=event.response_id,
                status=event.status,
                text=event.text,
                reason=event.reason,
                usage=wire.Usage(output_tokens=event.output_tokens),
                timings=wire.Timings(
                    first_token_ms=event.timings.first_token_ms, total_ms=event.timings.total_ms
                ),
            )
