"""The protocol's error codes: one table, documented in docs/protocol.md.

Each code says whether a retry can succeed and, for the codes that end the connection, which
WebSocket close code follows the ``error`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    FRAME_TOO_LARGE = "frame_too_large"
    HANDSHAKE_REQUIRED = "handshake_required"
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    AUDIO_BEFORE_HANDSHAKE = "audio_before_handshake"
    ALREADY_STARTED = "already_started"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_AUDIO_FRAME = "invalid_audio_frame"
    AUDIO_INPUT_UNAVAILABLE = "audio_input_unavailable"
    INPUT_TOO_LONG = "input_too_long"
    RATE_LIMITED = "rate_limited"
    PERSONA_NOT_FOUND = "persona_not_found"
    PERSONA_NOT_ALLOWED = "persona_not_allowed"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_DELETED = "session_deleted"
    RESUME_TOKEN_INVALID = "resume_token_invalid"
    RESUME_EXPIRED = "resume_expired"
    SESSION_BUSY = "session_busy"
    NO_ACTIVE_RESPONSE = "no_active_response"
    UNKNOWN_RESPONSE = "unknown_response"
    LLM_OVERLOADED = "llm_overloaded"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_FAILED = "llm_failed"
    TTS_FAILED = "tts_failed"
    LEASE_LOST = "lease_lost"
    IDLE_TIMEOUT = "idle_timeout"
    STORE_UNAVAILABLE = "store_unavailable"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    retryable: bool
    close_code: int | None
    meaning: str


# WebSocket close codes used by the server (4xxx are application codes).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN = 1013
CLOSE_BAD_HANDSHAKE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_IDLE = 4408
CLOSE_BUSY = 4409
CLOSE_LEASE_LOST = 4410
CLOSE_RATE_LIMITED = 4429

SPECS: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_JSON: ErrorSpec(False, None, "A text frame is not valid UTF-8 JSON."),
    ErrorCode.INVALID_MESSAGE: ErrorSpec(
        False, None, "JSON that does not match the message schema."
    ),
    ErrorCode.UNKNOWN_TYPE: ErrorSpec(False, None, "A message type this protocol version lacks."),
    ErrorCode.FRAME_TOO_LARGE: ErrorSpec(False, None, "A frame above the configured size limit."),
    ErrorCode.HANDSHAKE_REQUIRED: ErrorSpec(
        False, None, "A message other than session.start/resume before the handshake."
    ),
    ErrorCode.HANDSHAKE_TIMEOUT: ErrorSpec(True, CLOSE_BAD_HANDSHAKE, "No handshake in time."),
    ErrorCode.AUDIO_BEFORE_HANDSHAKE: ErrorSpec(
        False, None, "A binary frame before the handshake."
    ),
    ErrorCode.ALREADY_STARTED: ErrorSpec(False, None, "A second handshake on one socket."),
    ErrorCode.UNSUPPORTED_VERSION: ErrorSpec(
        False, CLOSE_BAD_HANDSHAKE, "The client's protocol_version is not served here."
    ),
    ErrorCode.INVALID_AUDIO_FRAME: ErrorSpec(False, None, "A binary frame with a bad header."),
    ErrorCode.AUDIO_INPUT_UNAVAILABLE: ErrorSpec(
        False, None, "Audio input was not granted for this session."
    ),
    ErrorCode.INPUT_TOO_LONG: ErrorSpec(False, None, "Text input above max_input_chars."),
    ErrorCode.RATE_LIMITED: ErrorSpec(True, None, "Messages arrive faster than allowed."),
    ErrorCode.PERSONA_NOT_FOUND: ErrorSpec(
        False, CLOSE_BAD_HANDSHAKE, "Unknown or invalid persona."
    ),
    ErrorCode.PERSONA_NOT_ALLOWED: ErrorSpec(
        False, None, "session.start names another persona than the widget token pins."
    ),
    ErrorCode.SESSION_NOT_FOUND: ErrorSpec(False, CLOSE_NOT_FOUND, "No such session (or expired)."),
    ErrorCode.SESSION_DELETED: ErrorSpec(
        False, CLOSE_NOT_FOUND, "The session was deleted (DELETE /v1/sessions/{id})."
    ),
    ErrorCode.RESUME_TOKEN_INVALID: ErrorSpec(False, CLOSE_UNAUTHORIZED, "Wrong resume token."),
    ErrorCode.RESUME_EXPIRED: ErrorSpec(False, CLOSE_NOT_FOUND, "The resume window has passed."),
    ErrorCode.SESSION_BUSY: ErrorSpec(
        True, CLOSE_BUSY, "Another socket drives this session; retry once it has gone."
    ),
    ErrorCode.NO_ACTIVE_RESPONSE: ErrorSpec(False, None, "response.cancel with no reply running."),
    ErrorCode.UNKNOWN_RESPONSE: ErrorSpec(
        False, None, "playback.stopped names a reply this session does not have."
    ),
    ErrorCode.LLM_OVERLOADED: ErrorSpec(True, None, "Too many replies queued for the model."),
    ErrorCode.LLM_UNAVAILABLE: ErrorSpec(True, None, "The model cannot be reached."),
    ErrorCode.LLM_FAILED: ErrorSpec(True, None, "The model failed while generating."),
    ErrorCode.TTS_FAILED: ErrorSpec(True, None, "Speech synthesis failed for a reply."),
    ErrorCode.LEASE_LOST: ErrorSpec(
        True, CLOSE_LEASE_LOST, "This process lost the session's writer lease; resume."
    ),
    ErrorCode.IDLE_TIMEOUT: ErrorSpec(True, CLOSE_IDLE, "No client message within idle_timeout_s."),
    ErrorCode.STORE_UNAVAILABLE: ErrorSpec(True, CLOSE_TRY_AGAIN, "Session storage unreachable."),
    ErrorCode.INTERNAL_ERROR: ErrorSpec(True, None, "A bug; the session continues."),
}


class ProtocolError(Exception):
    """Raised by protocol code; the connection turns it into an ``error`` event."""

    def __init__(self, code: ErrorCode, message: str, event_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id

    @property
    def spec(self) -> ErrorSpec:
        return SPECS[self.code]
