"""server/protocol/audio_frames.py: the 20-byte binary audio header."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.protocol.audio_frames import (
    FRAME_VERSION,
    HEADER_SIZE,
    SAMPLE_RATES,
    AudioFrame,
    AudioFrameError,
    FrameKind,
    decode_frame,
    encode_frame,
)

frames = st.builds(
    AudioFrame,
    kind=st.sampled_from(FrameKind),
    stream=st.integers(0, 2**16 - 1),
    seq=st.integers(0, 2**32 - 1),
    pts=st.integers(0, 2**64 - 1),
    sample_rate=st.sampled_from(sorted(SAMPLE_RATES)),
    pcm=st.binary(max_size=256).map(lambda b: b[: len(b) // 2 * 2]),
)


def _header(
    version: int = 1, kind: int = 1, stream: int = 0, seq: int = 0, pts: int = 0, rate: int = 16000
) -> bytes:
    return struct.pack("<BBHIQI", version, kind, stream, seq, pts, rate)


@given(frames)
def test_any_valid_frame_survives_encode_then_decode(frame: AudioFrame) -> None:
    data = encode_frame(frame)

    assert len(data) == HEADER_SIZE + len(frame.pcm)
    assert decode_frame(data) == frame


@given(frames)
def test_decoded_kind_is_the_enum_member(frame: AudioFrame) -> None:
    decoded = decode_frame(encode_frame(frame))

    assert type(decoded.kind) is FrameKind


def test_header_is_exactly_20_bytes() -> None:
    assert HEADER_SIZE == 20
    frame = AudioFrame(FrameKind.INPUT_AUDIO, 0, 0, 0, 16000, b"")
    assert len(encode_frame(frame)) == 20


def test_header_fields_are_little_endian_at_their_documented_offsets() -> None:
    frame = AudioFrame(
        kind=FrameKind.OUTPUT_AUDIO,
        stream=0x0102,
        seq=0x03040506,
        pts=0x0708090A0B0C0D0E,
        sample_rate=24000,
        pcm=b"\x01\x00\xff\x7f",
    )

    data = encode_frame(frame)

    assert data == bytes(
        [
            0x01,  # version
            0x02,  # kind: output audio
            0x02, 0x01,  # stream (uint16 LE)
            0x06, 0x05, 0x04, 0x03,  # seq (uint32 LE)
            0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07,  # pts (uint64 LE)
            0xC0, 0x5D, 0x00, 0x00,  # sample rate 24000 = 0x5DC0 (uint32 LE)
            0x01, 0x00, 0xFF, 0x7F,  # payload, untouched
        ]
    )  # fmt: skip


def test_samples_counts_16_bit_samples() -> None:
    frame = AudioFrame(FrameKind.INPUT_AUDIO, 0, 0, 0, 16000, b"\x00" * 320)

    assert frame.samples == 160


def test_header_without_payload_decodes_to_empty_pcm() -> None:
    frame = decode_frame(_header(kind=2, stream=7, seq=3, pts=480, rate=48000))

    assert frame == AudioFrame(FrameKind.OUTPUT_AUDIO, 7, 3, 480, 48000, b"")
    assert frame.samples == 0


@pytest.mark.parametrize("size", [0, 1, 19])
def test_frame_shorter_than_the_header_is_rejected(size: int) -> None:
    with pytest.raises(AudioFrameError, match=f"{size} bytes is shorter"):
        decode_frame(_header()[:size])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_header_version_is_rejected(version: int) -> None:
    assert version != FRAME_VERSION
    with pytest.raises(AudioFrameError, match=f"unsupported frame version {version}"):
        decode_frame(_header(version=version))


@pytest.mark.parametrize("kind", [0, 3, 255])
def test_unknown_frame_kind_is_rejected(kind: int) -> None:
    with pytest.raises(AudioFrameError, match=f"unknown frame kind {kind}"):
        decode_frame(_header(kind=kind))


@pytest.mark.parametrize("rate", [0, 11025, 16001, 96000, 2**32 - 1])
def test_unsupported_sample_rate_is_rejected(rate: int) -> None:
    with pytest.raises(AudioFrameError, match=f"unsupported sample rate {rate}"):
        decode_frame(_header(rate=rate))


@pytest.mark.parametrize("payload", [b"\x00", b"\x00\x01\x02"])
def test_odd_payload_length_is_rejected(payload: bytes) -> None:
    with pytest.raises(AudioFrameError, match="odd number of bytes"):
        decode_frame(_header() + payload)


def test_first_problem_is_reported_when_several_fields_are_bad() -> None:
    with pytest.raises(AudioFrameError, match="version"):
        decode_frame(_header(version=9, kind=9, rate=1) + b"\x00")


def test_audio_frame_error_is_a_value_error() -> None:
    assert issubclass(AudioFrameError, ValueError)
