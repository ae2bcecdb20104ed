"""Sans-I/O wire codec: text frames in, validated client messages out; agent events to wire events.

``decode_client_text`` tells apart the ways a frame can be wrong, so each gets its own error code:
not JSON (``invalid_json``), JSON without a known ``type`` (``unknown_type``), or a known type whose
fields are wrong (``invalid_message``).
"""

from __future__ import annotations

import dataclasses
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
    except RecursionError:  # nesting deeper than the parser's stack
        raise ProtocolError(
            ErrorCode.INVALID_JSON, "frame is not valid JSON: nested too deeply"
        ) from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message must be a JSON object")
    event_id = raw.get("event_id")
    event_id = event_id if isinstance(event_id, str) and _echoable(event_id) else None
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


def _echoable(event_id: str) -> bool:
    """Whether an event id can be sent back in an error: short, and encodable as UTF-8 (JSON
    lets a client send a lone surrogate such as \\ud800, which no frame can carry)."""
    if len(event_id) > 64:
        return False
    try:
        event_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Agent events whose fields are exactly those of their wire event (besides seq and session_id).
_SAME_FIELDS: dict[type, type[wire.ServerEvent]] = {
    ev.TextDelta: wire.ResponseTextDelta,
    ev.ResponseCreated: wire.ResponseCreated,
    ev.InputCommitted: wire.InputCommitted,
    ev.SpeechStarted: wire.SpeechStarted,
    ev.SpeechStopped: wire.SpeechStopped,
    ev.TranscriptPartial: wire.TranscriptPartial,
    ev.TranscriptCompleted: wire.TranscriptCompleted,
    ev.TranscriptFailed: wire.TranscriptFailed,
    ev.ResponseTruncated: wire.ResponseTruncated,
}


def agent_event_to_wire(event: ev.AgentEvent, seq: int, session_id: str) -> wire.ServerEvent:
    """Turn an agent event into the wire event it is sent as."""
    if isinstance(event, ev.ResponseDone):
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
    if isinstance(event, ev.AudioSegment):
        return wire.AudioSegment(
            seq=seq,
            session_id=session_id,
            response_id=event.response_id,
            segment_id=event.segment_id,
            stream=event.stream,
            pts=event.pts,
            sample_rate=event.sample_rate,
            samples=event.samples,
            text=event.text,
            words=[
                wire.WordTime(text=w.text, start_ms=w.start_ms, duration_ms=w.duration_ms)
                for w in event.words
            ],
            visemes=[
                wire.VisemeTime(id=int(v.viseme), start_ms=v.start_ms, duration_ms=v.duration_ms)
                for v in event.visemes
            ],
            expressions=[
                wire.ExpressionTime(name=x.name, word_index=x.word_index, start_ms=x.start_ms)
                for x in event.expressions
            ],
        )
    if isinstance(event, ev.Citations):
        return wire.ResponseCitations(
            seq=seq,
            session_id=session_id,
            response_id=event.response_id,
            citations=[wire.Citation(**dataclasses.asdict(c)) for c in event.citations],
        )
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return _SAME_FIELDS[type(event)](seq=seq, session_id=session_id, **fields)
