"""One knowledge base: its folder, indexed in SQLite, searched in memory (hybrid BM25 + dense).

The SQLite file holds the documents (with the sha256 of their bytes), their chunks with the
embeddings, and the embedder and chunking that built them. ``sync`` brings it up to date with
the folder, embedding only what changed; ``search`` never touches the file: it reads an
immutable in-memory snapshot (chunks, embedding matrix, BM25 index) that ``sync`` replaces in
one assignment, so searches from any number of threads see the old index or the new one, never a
mixture. Opening an existing file loads the snapshot without embedding anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from agent.knowledge.bm25 import BM25Index, tokenize
from agent.knowledge.chunking import Chunk, ChunkingParams, chunk_document, indexed_text
from agent.knowledge.documents import parse_document, read_file, scan_folder
from agent.knowledge.embedder import Embedder, Vectors
from agent.knowledge.errors import KnowledgeError

SCHEMA_VERSION = "1"
#: The constant of reciprocal rank fusion: a result at rank r (from 1) of a ranking adds
#: weight / (RRF_K + r) to its fused score.
RRF_K = 60
#: Weights of the two rankings in the fusion. BM25 counts half: on paraphrased questions (the
#: labelled set in evals/knowledge/) equal weights let passages that share common words with the
#: question outrank the one the embeddings found; at half weight BM25 still lifts exact codes and
#: names ("E4", "DB-3400") that embeddings rank low. Measured in benchmarks/retrieval.py.
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.5
#: Each ranking contributes its best max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k) to fusion.
MIN_CANDIDATES = 20
CANDIDATES_PER_RESULT = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    section INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks (source, ordinal);
"""


@dataclass(frozen=True, slots=True)
class Passage:
    """A search result. ``score`` ranks results (the fused score for hybrid search, else the
    method's own); ``similarity`` is the cosine of query and chunk (0.0 from ``bm25_search``,
    which embeds nothing); ``bm25`` is the chunk's BM25 score (0.0 when no query word matches).
    """

    chunk_id: str
    source: str
    title: str
    text: str
    score: float
    similarity: float
    bm25: float


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one ``sync`` did. Sources are paths relative to the knowledge base folder.

    ``failed`` files could not be read or parsed (message names the file and the reason); they
    are not in the index, even if an earlier version of them was.
    """

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the searchable content changed."""
        return bool(self.added or self.updated or self.removed or self.chunks_embedded)


@dataclass(frozen=True, slots=True)
class IndexStats:
    name: str
    documents: int
    chunks: int
    model_id: str
    #: Size of the SQLite file (and its write-ahead log) on disk.
    index_bytes: int
    #: Memory held by the embedding matrix of the snapshot.
    vector_bytes: int


@dataclass(frozen=True, slots=True)
class _Snapshot:
    chunks: tuple[Chunk, ...]
    matrix: Vectors
    bm25: BM25Index
    sources: tuple[str, ...]


def _empty_snapshot(dim: int) -> _Snapshot:
    return _Snapshot((), np.zeros((0, dim), dtype=np.float32), BM25Index([]), ())


@dataclass(frozen=True, slots=True)
class _Indexed:
    source: str
    sha256: str
    title: str
    chunks: list[Chunk]
    vectors: Vectors


class KnowledgeIndex:
    """The index of one knowledge base folder, persisted in ``index_path`` (SQLite).

    ``sync`` is serialised (one at a time); ``search``, ``bm25_search``, ``dense_search`` and
    ``stats`` may run in any thread at any time, during a sync too. The constructor opens (or
    creates) the file and loads what it holds if it was built with the same embedder model and
    chunking; otherwise the index is empty until the first ``sync``, which rebuilds it.
    """

    def __init__(
        self,
        name: str,
        folder: Path,
        index_path: Path,
        embedder: Embedder,
        *,
        chunking: ChunkingParams | None = None,
        embed_batch: int = 16,
        dense_weight: float = DENSE_WEIGHT,
        bm25_weight: float = BM25_WEIGHT,
    ) -> None:
        self.name = name
        self.folder = folder
        self.index_path = index_path
        self._embedder = embedder
        self._chunking = chunking or ChunkingParams()
        # Small batches: a query's embedding waits for at most one batch of a running sync.
        self._embed_batch = embed_batch
        self._dense_weight = dense_weight
        self._bm25_weight = bm25_weight
        self._sync_lock = threading.Lock()
        self._closed = False
        self._db = self._open()
        self._snapshot = _empty_snapshot(embedder.dim)
        if self._compatible():
            self._snapshot = self._load_snapshot()
        self.last_report: SyncReport | None = None

    # ── the file ────────────────────────────────────────────────────────────

    def _open(self) -> sqlite3.Connection:
        """Open the file; one that is damaged or of another schema is rebuilt (it is a cache).

        Raises :class:`KnowledgeError` if it cannot be opened or created at all.
        """
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not self.index_path.is_file():
                raise KnowledgeError(f"index file {self.index_path}: {exc}") from None
        except OSError as exc:
            raise KnowledgeError(f"index file {self.index_path}: {exc}") from None
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.index_path}{suffix}").unlink(missing_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            raise KnowledgeError(f"index file {self.index_path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            if self._meta(db).get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
                db.executescript("DROP TABLE meta; DROP TABLE documents; DROP TABLE chunks;")
                db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
            )
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _meta(db: sqlite3.Connection) -> dict[str, str]:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())

    def _wanted_meta(self) -> dict[str, str]:
        return {
            "model_id": self._embedder.model_id,
            "dim": str(self._embedder.dim),
            "chunking": self._chunking.fingerprint,
        }

    def _compatible(self) -> bool:
        meta = self._meta(self._db)
        return all(meta.get(key) == value for key, value in self._wanted_meta().items())

    def _load_snapshot(self) -> _Snapshot:
        rows = self._db.execute(
            "SELECT id, source, ordinal, section, title, text, start_char, end_char, embedding "
            "FROM chunks ORDER BY source, ordinal"
        ).fetchall()
        dim = self._embedder.dim
        if not rows:
            return _empty_snapshot(dim)
        chunks = tuple(Chunk(*row[:8]) for row in rows)
        blob = b"".join(row[8] for row in rows)
        matrix = np.frombuffer(blob, dtype="<f4").astype(np.float32).reshape(len(rows), dim)
        bm25 = BM25Index([tokenize(indexed_text(chunk)) for chunk in chunks])
        sources = tuple(sorted({chunk.source for chunk in chunks}))
        return _Snapshot(chunks, matrix, bm25, sources)

    # ── sync ────────────────────────────────────────────────────────────────

    def sync(self) -> SyncReport:
        """Bring the index up to date with the folder; blocks (embedding takes time).

        Re-chunks and re-embeds only files whose bytes changed, drops removed files, and rebuilds
        everything when the embedder's ``model_id`` or the chunking changed. Bad files are
        reported in ``failed`` and skipped. Raises :class:`KnowledgeError` if the folder is
        missing, the index is closed, or the file cannot be written.
        """
        with self._sync_lock:
            if self._closed:
                raise KnowledgeError(f"knowledge base {self.name!r}: the index is closed")
            if not self.folder.is_dir():
                raise KnowledgeError(f"knowledge base {self.name!r}: no folder {self.folder}")
            started = time.perf_counter()
            try:
                report = self._sync(started)
            except sqlite3.Error as exc:
                raise KnowledgeError(f"index file {self.index_path}: {exc}") from None
            self.last_report = report
            return report

    def _sync(self, started: float) -> SyncReport:
        rebuild = not self._compatible()
        known = dict(self._db.execute("SELECT source, sha256 FROM documents").fetchall())
        stored = {} if rebuild else known
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        failed: list[tuple[str, str]] = []
        indexed: list[_Indexed] = []
        files = scan_folder(self.folder)
        for source, path in files:
            try:
                data = read_file(path, source)
                digest = hashlib.sha256(data).hexdigest()
                if stored.get(source) == digest:
                    unchanged.append(source)
                    continue
                document = parse_document(data, source)
                chunks = chunk_document(document, self._chunking)
                vectors = self._embed([indexed_text(chunk) for chunk in chunks])
            except KnowledgeError as exc:
                failed.append((source, str(exc)))
                continue
            (updated if source in known else added).append(source)
            indexed.append(_Indexed(source, digest, document.title, chunks, vectors))
        present = {source for source, _ in files}
        removed = sorted(source for source in known if source not in present)
        dropped = removed + [source for source, _ in failed if source in known]
        if rebuild or indexed or dropped:
            self._write(rebuild, indexed, dropped)
            self._snapshot = self._load_snapshot()
        return SyncReport(
            added=tuple(added),
            updated=tuple(updated),
            removed=tuple(removed),
            unchanged=tuple(unchanged),
            failed=tuple(failed),
            chunks_embedded=sum(len(item.chunks) for item in indexed),
            seconds=time.perf_counter() - started,
        )

    def _embed(self, texts: Sequence[str]) -> Vectors:
        dim = self._embedder.dim
        parts = [
            self._embedder.embed(texts[i : i + self._embed_batch])
            for i in range(0, len(texts), self._embed_batch)
        ]
        vectors = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
        if vectors.shape != (len(texts), dim):
            raise KnowledgeError(
                f"embedder {self._embedder.model_id} returned shape {vectors.shape}, "
                f"expected {(len(texts), dim)}"
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _write(self, rebuild: bool, indexed: Iterable[_Indexed], dropped: Iterable[str]) -> None:
        """One transaction: the file changes completely or not at all."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if rebuild:
                db.execute("DELETE FROM chunks")
                db.execute("DELETE FROM documents")
                db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    self._wanted_meta().items(),
                )
            now = time.time()
            for item in indexed:
                self._delete(item.source)
                db.execute(
                    "INSERT INTO documents (source, sha256, title, chunk_count, indexed_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (item.source, item.sha256, item.title, len(item.chunks), now),
                )
                db.executemany(
                    "INSERT INTO chunks (id, source, ordinal, section, title, text, start_char, "
                    "end_char, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (c.id, c.source, c.ordinal, c.section, c.title, c.text, c.start, c.end,
                         vector.astype("<f4").tobytes())
                        for c, vector in zip(item.chunks, item.vectors, strict=True)
                    ],
                )  # fmt: skip
            for source in dropped:
                self._delete(source)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _delete(self, source: str) -> None:
        self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self._db.execute("DELETE FROM documents WHERE source = ?", (source,))

    # ── search ──────────────────────────────────────────────────────────────

    def search(self, query: str, k: int = 4) -> list[Passage]:
        """The ``k`` best passages for ``query``: the best ``max(20, 4k)`` of the BM25 and of the
        dense ranking fused by weighted reciprocal rank fusion. Blocks while the query is
        embedded. An empty query or index gives no passages."""
        snapshot = self._snapshot
        if k <= 0 or not snapshot.chunks or not query.strip():
            return []
        candidates = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k)
        similarities = snapshot.matrix @ self._query_vector(query)
        bm25 = snapshot.bm25.scores(tokenize(query))
        fused: dict[int, float] = {}
        dense_ranking = _best(similarities, candidates)
        bm25_ranking = sorted(bm25, key=lambda i: (-bm25[i], i))[:candidates]
        for weight, ranking in (
            (self._dense_weight, dense_ranking),
            (self._bm25_weight, bm25_ranking),
        ):
            for rank, index in enumerate(ranking, start=1):
                fused[index] = fused.get(index, 0.0) + weight / (RRF_K + rank)
        best = sorted(fused, key=lambda i: (-fused[i], -similarities[i], i))[:k]
        return [
            _passage(snapshot.chunks[i], fused[i], float(similarities[i]), bm25.get(i, 0.0))
            for i in best
        ]

    def dense_search(self, query: str, k: int = 4) -> list[Passage]:
        """The ``k`` chunks most similar to ``query`` by cosine of embeddings."""
        snapshot = self._snapshot
        if k <= 0 or not snapshot.chunks or not query.strip():
            return []
        similarities = snapshot.matrix @ self._query_vector(query)
        bm25 = snapshot.bm25.scores(tokenize(query))
        return [
            _passage(snapshot.chunks[i], float(similarities[i]), float(similarities[i]),
                     bm25.get(i, 0.0))
            for i in _best(similarities, k)
        ]  # fmt: skip

    def bm25_search(self, query: str, k: int = 4) -> list[Passage]:
        """The ``k`` best chunks for ``query`` by BM25 alone (no embedding: ``similarity`` 0)."""
        snapshot = self._snapshot
        if k <= 0 or not snapshot.chunks:
            return []
        return [
            _passage(snapshot.chunks[i], score, 0.0, score)
            for i, score in snapshot.bm25.top_k(query, k)
        ]

    def _query_vector(self, query: str) -> Vectors:
        vector: Vectors = self._embedder.embed([query])[0]
        return vector

    # ── the rest ────────────────────────────────────────────────────────────

    def sources(self) -> tuple[str, ...]:
        """The sources of the documents searchable now."""
        return self._snapshot.sources

    def stats(self) -> IndexStats:
        snapshot = self._snapshot
        index_bytes = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                index_bytes += Path(f"{self.index_path}{suffix}").stat().st_size
        return IndexStats(
            name=self.name,
            documents=len(snapshot.sources),
            chunks=len(snapshot.chunks),
            model_id=self._embedder.model_id,
            index_bytes=index_bytes,
            vector_bytes=snapshot.matrix.nbytes,
        )

    def close(self) -> None:
        """Close the file (waiting for a running sync). Searches keep answering from memory."""
        with self._sync_lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _best(similarities: Vectors, k: int) -> list[int]:
    """Indexes of the ``k`` highest values, best first (ties: lower index first)."""
    order = np.argsort(-similarities, kind="stable")[:k]
    return [int(i) for i in order]


def _passage(chunk: Chunk, score: float, similarity: float, bm25: float) -> Passage:
    return Passage(chunk.id, chunk.source, chunk.title, chunk.text, score, similarity, bm25)
