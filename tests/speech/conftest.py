"""Generated test speech, synthesised once per test session (tests/speech_corpus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import speech_corpus as corpus


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where synthesised speech is cached for this session."""
    return tmp_path_factory.mktemp("speech_corpus")


@pytest.fixture(scope="session")
def say(corpus_dir: Path) -> corpus.Speaker:
    """``say(voice, text)``: ``text`` spoken by the test voice ``voice``, cached for the session."""
    return corpus.Speaker(corpus_dir)
