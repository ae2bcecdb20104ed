"""Voice turn-taking (pure, sans-I/O): when a user turn starts and ends, and when the user
interrupts the avatar.

Time is the audio clock: milliseconds of user audio received, so a test drives it exactly.
Inputs are VAD-level facts (speech started/stopped), the latest partial transcript, and the
avatar's reply state; outputs are turn-level decisions:

- ``TurnStarted``: the first speech of a new user turn.
- ``TurnEnded``: silence has lasted long enough; transcribe the turn and answer it. The wait
  adapts to the words so far: shorter after a question or exclamation ("…on Sunday?"), longer
  after a word that promises more ("…and", "um") or before any words are known.
- ``TurnExtended``: speech resumed after ``TurnEnded`` but before the reply started: the pending
  reply is dropped and the same turn goes on (a turn ends once, never twice, per reply).
- ``BargeIn``: speech started while the reply plays: stop the reply at once; a new turn starts.
  Speech within ``echo_guard_ms`` of the reply's start is taken for the avatar's own voice
  leaking into the microphone and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TurnStarted:
    start_ms: int


@dataclass(frozen=True, slots=True)
class TurnEnded:
    start_ms: int
    end_ms: int
    """Where the speech ended (the VAD's silence start), not when the wait ran out."""


@dataclass(frozen=True, slots=True)
class TurnExtended:
    start_ms: int


@dataclass(frozen=True, slots=True)
class BargeIn:
    at_ms: int


TurnDecision = TurnStarted | TurnEnded | TurnExtended | BargeIn


class Phase(StrEnum):
    IDLE = "idle"  # no user turn open, avatar silent
    USER_SPEAKING = "user_speaking"
    USER_PAUSED = "user_paused"  # silence inside a turn; end of turn pending
    AWAITING_REPLY = "awaiting_reply"  # turn ended; reply requested, not yet started
    AVATAR_SPEAKING = "avatar_speaking"


@dataclass(frozen=True, slots=True)
class TurnConfig:
    silence_ms: int = 500
    """Base wait after speech stops before the turn ends."""
    min_silence_ms: int = 250
    max_silence_ms: int = 1500
    finished_factor: float = 0.6
    """Wait multiplier when the words so far end a sentence."""
    unfinished_factor: float = 1.8
    """Wait multiplier when they end in a word that promises more, or no words are known yet."""
    echo_guard_ms: int = 300


_CONTINUATIONS = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "um",
        "uh",
        "er",
        "erm",
        "like",
        "the",
        "a",
        "an",
        "to",
        "of",
        "for",
        "with",
        "if",
        "that",
        "which",
        "when",
        "then",
        "my",
        "your",
        "our",
        "their",
        "is",
        "are",
        "was",
    ]
)
_WORD = re.compile(r"[a-z']+")


def silence_needed_ms(partial: str, config: TurnConfig) -> int:
    """How long a pause must last to end the turn, given the words heard so far."""
    text = partial.strip()
    words = _WORD.findall(text.lower())
    if not words or words[-1] in _CONTINUATIONS or text.endswith((",", "-", "…", "...")):
        factor = config.unfinished_factor
    elif text.endswith(("?", "!")):
        # Only these: Whisper also ends fragments with "." ("I would like to change."), so a
        # period alone does not show the user has finished.
        factor = config.finished_factor
    else:
        factor = 1.0
    wait = round(config.silence_ms * factor)
    return max(config.min_silence_ms, min(config.max_silence_ms, wait))


class VoiceTurnPolicy:
    def __init__(self, config: TurnConfig = TurnConfig()) -> None:
        self._config = config
        self.phase = Phase.IDLE
        self._turn_start = 0
        self._speech_end = 0
        self._reply_started_at = 0
        self._ignoring_echo = False
        self._partial = ""

    # ── VAD facts ──────────────────────────────────────────────────────────

    def speech_started(self, at_ms: int) -> TurnDecision | None:
        match self.phase:
            case Phase.IDLE:
                return self._open_turn(at_ms)
            case Phase.USER_PAUSED:
                self.phase = Phase.USER_SPEAKING
                return None
            case Phase.AWAITING_REPLY:
                self.phase = Phase.USER_SPEAKING
                return TurnExtended(self._turn_start)
            case Phase.AVATAR_SPEAKING:
                if at_ms - self._reply_started_at < self._config.echo_guard_ms:
                    self._ignoring_echo = True
                    return None
                self._open_turn(at_ms)
                return BargeIn(at_ms)
        return None  # USER_SPEAKING: the VAD never starts twice without a stop

    def speech_stopped(self, at_ms: int) -> TurnDecision | None:
        if self._ignoring_echo:
            self._ignoring_echo = False
            return None
        if self.phase is Phase.USER_SPEAKING:
            self.phase = Phase.USER_PAUSED
            self._speech_end = at_ms
        return None

    def partial(self, text: str) -> None:
        """The latest transcript of the turn so far (shapes the end-of-turn wait)."""
        self._partial = text

    def tick(self, now_ms: int) -> TurnDecision | None:
        """Audio time has reached ``now_ms``; ends the turn when the pause is long enough."""
        if self.phase is not Phase.USER_PAUSED:
            return None
        if now_ms - self._speech_end < silence_needed_ms(self._partial, self._config):
            return None
        self.phase = Phase.AWAITING_REPLY
        return TurnEnded(self._turn_start, self._speech_end)

    # ── the avatar's side ──────────────────────────────────────────────────

    def reply_started(self, at_ms: int) -> None:
        """The reply began reaching the user (first text or audio)."""
        if self.phase in (Phase.AWAITING_REPLY, Phase.IDLE):
            self.phase = Phase.AVATAR_SPEAKING
            self._reply_started_at = at_ms
            self._ignoring_echo = False

    def reply_finished(self) -> None:
        """The reply ended (played out, failed or cancelled)."""
        if self.phase in (Phase.AVATAR_SPEAKING, Phase.AWAITING_REPLY):
            self.phase = Phase.IDLE
            self._ignoring_echo = False

    def _open_turn(self, at_ms: int) -> TurnStarted:
        self.phase = Phase.USER_SPEAKING
        self._turn_start = at_ms
        self._partial = ""
        return TurnStarted(at_ms)
