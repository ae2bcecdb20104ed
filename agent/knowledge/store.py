"""The interface the agent needs from a knowledge base, whatever holds it.

:class:`~agent.knowledge.index.KnowledgeIndex` (SQLite file + in-memory search, per process)
satisfies it. Many machines serving one knowledge base would share a store instead of each
keeping a copy; the same four methods map onto one as follows:

* **Redis (RediSearch)**: one hash per chunk (``kb:{name}:chunk:{id}`` with source, title, text
  and the embedding as a FLOAT32 blob) under an ``FT.CREATE ... ON HASH`` index with a ``TEXT``
  field (BM25 full-text) and a ``VECTOR HNSW ... DISTANCE_METRIC COSINE`` field; a hash per
  document holds its sha256. ``search`` runs ``FT.SEARCH`` twice (a text query and a
  ``KNN``) — or one hybrid query where supported — and fuses the two rankings as here.
* **PostgreSQL**: a ``chunks`` table with a ``vector(384)`` column (pgvector, HNSW index,
  ``<=>`` cosine distance) and a ``tsvector`` column (GIN index, ``ts_rank_cd``); one SQL
  statement with two CTEs ranks both ways and fuses them.

In both, ``sync`` runs in one process at a time (a lock key or an advisory lock), writes a
document's chunks in one transaction (``MULTI``/``EXEC`` or ``BEGIN``/``COMMIT``), and other
processes only search; the embedder's model id and the chunking are stored with the index, and a
change rebuilds it, as here.
"""

from __future__ import annotations

from typing import Protocol

from agent.knowledge.index import IndexStats, Passage, SyncReport


class KnowledgeStore(Protocol):
    """A searchable knowledge base. ``search`` is thread-safe and may run during ``sync``."""

    def sync(self) -> SyncReport:
        """Bring the store up to date with its source documents (blocks)."""
        ...

    def search(self, query: str, k: int = 4) -> list[Passage]:
        """The ``k`` passages that best answer ``query``, best first."""
        ...

    def stats(self) -> IndexStats: ...

    def close(self) -> None: ...
