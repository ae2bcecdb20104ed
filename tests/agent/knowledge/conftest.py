"""Shared fixtures: the demo knowledge base, a counting embedder, and the real model (once)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from agent.knowledge import Embedder, HashingEmbedder, MiniLMEmbedder

ROOT = Path(__file__).resolve().parents[3]
ACME = ROOT / "prompts" / "knowledge" / "acme"
LABELLED_SET = ROOT / "evals" / "knowledge" / "acme_retrieval.yaml"

# The model comes from a PyPI package; make sure nothing ever asks the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class CountingEmbedder:
    """Wraps an embedder and counts the texts it embeds (thread-safe)."""

    def __init__(self, inner: Embedder | None = None, model_id: str | None = None) -> None:
        self.inner = inner or HashingEmbedder()
        self._model_id = model_id or self.inner.model_id
        self.texts: list[str] = []
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        with self._lock:
            self.texts.extend(texts)
        return self.inner.embed(texts)

    def reset(self) -> None:
        with self._lock:
            self.texts.clear()


@pytest.fixture
def counting() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """all-MiniLM-L6-v2, loaded once for the whole test session."""
    return MiniLMEmbedder(threads=2)


def write_pdf(path: Path, pages: Sequence[str], title: str | None = None) -> Path:
    """A small text PDF made with fpdf2 (one string per page, Latin-1 text)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
