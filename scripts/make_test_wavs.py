"""Write speech WAVs for the voice latency benchmark, with a manifest of where the speech is.

    .venv/bin/python scripts/make_test_wavs.py [FOLDER]     (default: benchmarks/wavs/)

Each file is 16-bit mono PCM at 16 kHz: one utterance with 0.5 s of silence before and 1.0 s
after, or two utterances of one turn separated by a 400 ms pause. ``manifest.json`` lists, per
file, the reference text and the speech start and end in seconds (sample-exact: the synthetic
speech is trimmed to its audible part; see tests/speech_corpus.py). Synthesis is deterministic,
so the files are identical from run to run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import speech_corpus as corpus  # noqa: E402

BEFORE_S = 0.5
AFTER_S = 1.0
PAUSE_MS = 400

# (file stem, voice, names of the utterances said in that order with PAUSE_MS between them)
FILES: list[tuple[str, str, list[str]]] = [
    ("store_hours", "piper", ["store_hours"]),
    ("delivery_address", "piper", ["delivery_address"]),
    ("jacket_price", "piper", ["jacket_price"]),
    ("cancel_subscription", "piper", ["cancel_subscription"]),
    ("password_reset_espeak", "espeak", ["password_reset"]),
    ("order_late_then_person", "piper", ["order_late", "real_person"]),
]


def build(stem: str, voice: str, names: list[str]) -> tuple[corpus.Audio, dict[str, Any]]:
    """The audio of one file and its manifest entry."""
    by_name = {u.name: u for u in corpus.UTTERANCES}
    parts = [corpus.silence(BEFORE_S)]
    segments: list[dict[str, Any]] = []
    position = len(parts[0])
    for index, name in enumerate(names):
        if index:
            parts.append(corpus.pause(PAUSE_MS))
            position += len(parts[-1])
        speech = corpus.speech(voice, by_name[name].text)
        segments.append(
            {
                "text": by_name[name].text,
                "start_s": position / corpus.RATE,
                "end_s": (position + len(speech)) / corpus.RATE,
            }
        )
        parts.append(speech)
        position += len(speech)
    parts.append(corpus.silence(AFTER_S))
    audio = corpus.concat(*parts)
    entry = {
        "file": f"{stem}.wav",
        "voice": voice,
        "text": " ".join(s["text"] for s in segments),
        "speech_start_s": segments[0]["start_s"],
        "speech_end_s": segments[-1]["end_s"],
        "duration_s": len(audio) / corpus.RATE,
        "segments": segments,
    }
    return audio, entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=ROOT / "benchmarks" / "wavs",
        help="where to write the WAVs and manifest.json (default: benchmarks/wavs/)",
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)

    entries = []
    for stem, voice, names in FILES:
        audio, entry = build(stem, voice, names)
        corpus.write_wav(folder / entry["file"], audio)
        entries.append(entry)
        print(
            f"{entry['file']:28} {entry['duration_s']:5.2f} s  speech "
            f"{entry['speech_start_s']:.3f}-{entry['speech_end_s']:.3f} s  {entry['text']!r}"
        )
    manifest = {"sample_rate": corpus.RATE, "files": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(entries)} files and manifest.json to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
