"""Binary frames: a fixed 20-byte little-endian header followed by PCM16 mono samples.

    offset  size  field
    0       1     version      header version, 1
    1       1     kind         1 = input audio (client mic), 2 = output audio (server voice)
    2       2     stream       stream number (uint16): an input stream, or a response's audio stream
    4       4     seq          frame number within the stream (uint32), from 0
    8       8     pts          timestamp of the first sample, in samples since the stream began
    16      4     sample_rate  samples per second (uint32)
    20      ...   payload      signed 16-bit little-endian mono samples (even length)

Pure encode/decode; validation errors raise ``AudioFrameError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct("<BBHIQI")
HEADER_SIZE = HEADER.size
FRAME_VERSION = 1
SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 44100, 48000})


class FrameKind(IntEnum):
    INPUT_AUDIO = 1
    OUTPUT_AUDIO = 2


class AudioFrameError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AudioFrame:
    kind: FrameKind
    stream: int
    seq: int
    pts: int
    sample_rate: int
    pcm: bytes

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


def encode_frame(frame: AudioFrame) -> bytes:
    header = HEADER.pack(
        FRAME_VERSION, frame.kind, frame.stream, frame.seq, frame.pts, frame.sample_rate
    )
    return header + frame.pcm


def decode_frame(data: bytes) -> AudioFrame:
    """Parse a binary frame; raises ``AudioFrameError`` naming the first problem found."""
    if len(data) < HEADER_SIZE:
        raise AudioFrameError(f"frame of {len(data)} bytes is shorter than the 20-byte header")
    version, kind, stream, seq, pts, rate = HEADER.unpack_from(data)
    if version != FRAME_VERSION:
        raise AudioFrameError(f"unsupported frame version {version}")
    if kind not in FrameKind._value2member_map_:
        raise AudioFrameError(f"unknown frame kind {kind}")
    if rate not in SAMPLE_RATES:
        raise AudioFrameError(f"unsupported sample rate {rate}")
    pcm = data[HEADER_SIZE:]
    if len(pcm) % 2:
        raise AudioFrameError("PCM16 payload has an odd number of bytes")
    return AudioFrame(FrameKind(kind), stream, seq, pts, rate, pcm)
