"""Recorded event lists, shaped like what a real server sends, for the pure eval checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.record import Frame, TimedEvent

RATE = 22050
T0 = 100.0
"""Client clock (perf_counter seconds) when the user's turn was sent."""


def word_times(text: str, start_ms: int = 50, per_word_ms: int = 300) -> list[dict[str, Any]]:
    return [
        {"text": w, "start_ms": start_ms + i * per_word_ms, "duration_ms": per_word_ms - 20}
        for i, w in enumerate(text.split())
    ]


def tiled_visemes(words: list[dict[str, Any]], length_ms: int) -> list[dict[str, Any]]:
    """Silence, then one voiced viseme per word and a short silence after it, to the end."""
    visemes: list[dict[str, Any]] = []
    at = 0
    for word in words:
        if word["start_ms"] > at:
            visemes.append({"id": 0, "start_ms": at, "duration_ms": word["start_ms"] - at})
        visemes.append({"id": 10, "start_ms": word["start_ms"], "duration_ms": word["duration_ms"]})
        at = word["start_ms"] + word["duration_ms"]
    visemes.append({"id": 0, "start_ms": at, "duration_ms": length_ms - at})
    return visemes


def segment(
    rid: str,
    text: str,
    *,
    segment_id: int = 0,
    pts: int = 0,
    expressions: Sequence[str] = (),
) -> dict[str, Any]:
    words = word_times(text)
    length_ms = words[-1]["start_ms"] + words[-1]["duration_ms"] + 100
    return {
        "type": "response.audio.segment",
        "seq": 0,
        "session_id": "sess_test",
        "response_id": rid,
        "segment_id": segment_id,
        "stream": 1,
        "pts": pts,
        "sample_rate": RATE,
        "samples": length_ms * RATE // 1000,
        "text": text,
        "words": words,
        "visemes": tiled_visemes(words, length_ms),
        "expressions": [
            {"name": n, "word_index": 0, "start_ms": words[0]["start_ms"]} for n in expressions
        ],
    }


def reply_events(
    text: str,
    *,
    rid: str = "resp_1",
    item: str = "item_1",
    first_text_ms: float = 300,
    spoken: bool = False,
    expressions: Sequence[str] = (),
    citations: list[dict[str, Any]] | None = None,
    status: str = "completed",
    source: str = "text",
) -> list[TimedEvent]:
    """input.committed … response.done for one reply, ``first_text_ms`` after T0."""
    at = T0 + first_text_ms / 1000
    events = [
        TimedEvent(
            T0 + 0.002,
            {"type": "input.committed", "item_id": item, "source": source, "text": "question"},
        ),
        TimedEvent(
            T0 + 0.003, {"type": "response.created", "response_id": rid, "input_item_id": item}
        ),
    ]
    for i, word in enumerate(text.split(" ")):
        delta = word if i == 0 else " " + word
        events.append(
            TimedEvent(
                at + i * 0.01, {"type": "response.text.delta", "response_id": rid, "delta": delta}
            )
        )
    end = at + 0.5
    if spoken:
        events.append(TimedEvent(at + 0.1, segment(rid, text, expressions=expressions)))
    if citations is not None:
        events.append(
            TimedEvent(
                end, {"type": "response.citations", "response_id": rid, "citations": citations}
            )
        )
    events.append(
        TimedEvent(
            end + 0.01,
            {
                "type": "response.done",
                "response_id": rid,
                "status": status,
                "text": text,
                "reason": None,
            },
        )
    )
    return events


def frames(at: float, count: int, ms: int = 40, stream: int = 1) -> list[Frame]:
    samples = RATE * ms // 1000
    return [Frame(at + i * 0.001, stream, i, i * samples, samples, RATE) for i in range(count)]


def citation(source: str, n: int = 1) -> dict[str, Any]:
    return {
        "id": f"S{n}",
        "chunk_id": f"{source}#0",
        "source": source,
        "title": source,
        "snippet": "…",
    }
