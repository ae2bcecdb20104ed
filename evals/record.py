"""What a client saw of a dialogue, as plain data (pure): events and audio frames with their
arrival times, and the replies and turns rebuilt from them.

Times are ``time.perf_counter()`` seconds at the client. Everything here is built from recorded
lists, so the checks in ``evals/checks.py`` run the same on a live session and in unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TimedEvent:
    at: float
    event: Event

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))


@dataclass(frozen=True, slots=True)
class Frame:
    """One output audio frame (its samples are not kept)."""

    at: float
    stream: int
    seq: int
    pts: int
    samples: int
    sample_rate: int

    @property
    def ms(self) -> float:
        return self.samples / self.sample_rate * 1000


@dataclass
class Reply:
    """One reply (``response.created`` … ``response.done``) as the client received it."""

    response_id: str
    input_item_id: str | None
    created_at: float
    status: str | None = None
    """``completed``, ``cancelled``, ``failed``; None while no ``response.done`` came."""
    reason: str | None = None
    text: str = ""
    """The text of ``response.done`` (the deltas so far while it has not come)."""
    first_text_at: float | None = None
    done_at: float | None = None
    segments: list[Event] = field(default_factory=list)
    citations: list[Event] | None = None
    """The ``response.citations`` list; None when no such event came."""
    truncated: str | None = None
    """The text history keeps after ``response.truncated``."""
    stream: int | None = None
    audio_ms: float = 0.0
    first_audio_at: float | None = None
    play_start_at: float | None = None
    """When the simulated player started (prebuffer filled)."""
    played_ms: float | None = None
    """What the client reported played when it stopped playback early (barge-in)."""
    underruns: int = 0
    history_text: str | None = None
    """This reply's text in the history snapshot fetched after the case, if one was."""

    @property
    def spoken_text(self) -> str:
        return " ".join(str(s.get("text", "")) for s in self.segments).strip()

    @property
    def expressions(self) -> list[str]:
        return [str(x.get("name")) for s in self.segments for x in s.get("expressions", [])]

    def words_heard(self, played_ms: float) -> list[str]:
        """The words whose audio ended by ``played_ms`` of the stream (the server's rule)."""
        heard = []
        for segment in self.segments:
            offset = segment.get("pts", 0) / (segment.get("sample_rate") or 22050) * 1000
            for word in segment.get("words", []):
                if offset + word["start_ms"] + word["duration_ms"] <= played_ms:
                    heard.append(str(word["text"]))
        return heard


def build_replies(events: Iterable[TimedEvent], frames: Sequence[Frame] = ()) -> dict[str, Reply]:
    """Every reply in ``events`` by response id, with its audio from ``frames``."""
    replies: dict[str, Reply] = {}
    deltas: dict[str, list[str]] = {}
    for item in events:
        event = item.event
        rid = event.get("response_id")
        kind = item.type
        if kind == "response.created" and isinstance(rid, str):
            replies[rid] = Reply(rid, event.get("input_item_id"), item.at)
            deltas[rid] = []
            continue
        reply = replies.get(rid) if isinstance(rid, str) else None
        if reply is None:
            continue
        if kind == "response.text.delta":
            if reply.first_text_at is None:
                reply.first_text_at = item.at
            deltas[reply.response_id].append(str(event.get("delta", "")))
            reply.text = "".join(deltas[reply.response_id])
        elif kind == "response.audio.segment":
            reply.segments.append(event)
            reply.stream = event.get("stream", reply.stream)
        elif kind == "response.citations":
            reply.citations = list(event.get("citations") or [])
        elif kind == "response.done":
            reply.status = event.get("status")
            reply.reason = event.get("reason")
            reply.text = str(event.get("text", reply.text))
            reply.done_at = item.at
        elif kind == "response.truncated":
            reply.truncated = str(event.get("text", ""))
    by_stream = {r.stream: r for r in replies.values() if r.stream is not None}
    for frame in frames:
        owner = by_stream.get(frame.stream)
        if owner is None:
            continue
        owner.audio_ms += frame.ms
        if owner.first_audio_at is None:
            owner.first_audio_at = frame.at
    return replies


TurnKind = Literal["text", "audio", "say"]


@dataclass
class TurnRecord:
    """One user turn and what followed it."""

    index: int
    kind: TurnKind
    user: str
    """What the user typed or said (for ``audio``: the file name)."""
    sent_at: float
    """When the typed text was sent, or the first frame of the speech."""
    speech_end_at: float | None = None
    """When the last sample of speech was sent (spoken turns)."""
    transcript: str | None = None
    """The user turn as the server committed it (the ASR's text for spoken turns)."""
    item_id: str | None = None
    events: list[TimedEvent] = field(default_factory=list)
    reply: Reply | None = None
    """The reply that answers this turn (the last one, after a turn extension)."""
    interruption: TurnRecord | None = None
    """The barge-in's own turn (``barge_in.say`` / ``text``) and its reply."""
    error: str | None = None

    @property
    def anchor_at(self) -> float:
        """What latencies are measured from: the end of speech, or the moment text was sent."""
        return self.speech_end_at if self.speech_end_at is not None else self.sent_at

    def stage_at(self, event_type: str, *, last: bool = False) -> float | None:
        """Arrival time of the first (or ``last``) event of ``event_type`` about this turn's
        item, up to its commit (the turn's own VAD, ASR and commit events)."""
        if self.item_id is None:
            return None
        commit = next(
            (
                e.at
                for e in reversed(self.events)
                if e.type == "input.committed" and e.event.get("item_id") == self.item_id
            ),
            None,
        )
        found = [
            e.at
            for e in self.events
            if e.type == event_type
            and e.event.get("item_id") == self.item_id
            and (commit is None or e.at <= commit)
        ]
        if not found:
            return None
        return found[-1] if last else found[0]

    def timings_ms(self) -> dict[str, float | None]:
        """Milliseconds from the anchor to each stage the client saw. ``speech_stopped`` is the
        last pause the VAD reported before the turn ended (earlier ones were pauses within it)."""
        reply = self.reply
        spoken = self.kind != "text"
        return {
            "speech_stopped": self._ms(
                self.stage_at("input_audio.speech_stopped", last=True) if spoken else None
            ),
            "transcript": self._ms(
                self.stage_at("input_audio.transcript.completed", last=True) if spoken else None
            ),
            "committed": self._ms(self.stage_at("input.committed", last=True)),
            "first_text": self._ms(reply.first_text_at if reply else None),
            "first_audio": self._ms(reply.first_audio_at if reply else None),
            "play_start": self._ms(reply.play_start_at if reply else None),
            "done": self._ms(reply.done_at if reply else None),
        }

    def _ms(self, at: float | None) -> float | None:
        return None if at is None else round((at - self.anchor_at) * 1000, 1)
