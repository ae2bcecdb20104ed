"""A simulated audio player (pure: times are passed in), like the browser client's jitter buffer.

The browser's player worklet starts a stream once ``prebuffer_ms`` of audio are queued, plays
in real time, and when it runs dry outputs silence and waits for ``prebuffer_ms`` again (an
underrun). ``StreamPlayer`` follows the same rules on the arrival times of the frames, so an
eval or a benchmark knows when a reply started to be heard and how much of it had been played
at any moment, which is what ``playback.position`` and ``playback.stopped`` report.

In ``fast`` mode the player plays everything as soon as it arrives (a listener at infinite
speed): playback starts at the same moment, but the server is never held back by pacing, so
evals that only check text and timings finish sooner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The browser client's prebuffer (frontend/src/audio/player.worklet.js).
PREBUFFER_MS = 60.0


@dataclass
class StreamPlayer:
    """Playback of one reply's audio stream."""

    stream: int
    realtime: bool = True
    prebuffer_ms: float = PREBUFFER_MS
    received_ms: float = 0.0
    played: float = 0.0
    started_at: float | None = None
    """When playback first started (the prebuffer filled): the avatar's voice is heard."""
    underruns: int = 0
    ended: bool = False
    """No more audio will come (the reply is done)."""
    stopped: bool = False
    """The listener stopped playback (barge-in)."""
    _playing: bool = False
    _clock: float = 0.0
    _starved: bool = field(default=False, repr=False)

    def add(self, now: float, ms: float) -> None:
        """A frame of ``ms`` milliseconds arrived at ``now`` (seconds)."""
        self.advance(now)
        if self.stopped:
            return
        self.received_ms += ms
        self._maybe_start(now)

    def end(self, now: float) -> None:
        """The reply's audio is complete: play what is queued even if under the prebuffer."""
        self.advance(now)
        self.ended = True
        self._maybe_start(now)

    def stop(self, now: float) -> float:
        """Stop playing (barge-in); returns the milliseconds played."""
        self.advance(now)
        self.stopped = True
        self._playing = False
        return self.played

    def position(self, now: float) -> float:
        """Milliseconds of the stream played by ``now``."""
        self.advance(now)
        return self.played

    def finished(self, now: float) -> bool:
        """Everything has been played (or playback was stopped)."""
        self.advance(now)
        return self.stopped or (self.ended and self.played >= self.received_ms)

    def advance(self, now: float) -> None:
        if not self.realtime:
            if self._playing:
                self.played = self.received_ms
            self._clock = now
            return
        if self._playing:
            elapsed = max(0.0, now - self._clock) * 1000
            available = self.received_ms - self.played
            if elapsed >= available:
                self.played = self.received_ms
                self._playing = False
                self._starved = not self.ended
            else:
                self.played += elapsed
        self._clock = now

    def _maybe_start(self, now: float) -> None:
        if self._playing or self.stopped:
            return
        queued = self.received_ms - self.played
        if queued <= 0 or (queued < self.prebuffer_ms and not self.ended):
            return
        self._playing = True
        self._clock = now
        if self.started_at is None:
            self.started_at = now
        elif self._starved:
            self.underruns += 1
        self._starved = False
        if not self.realtime:
            self.played = self.received_ms
