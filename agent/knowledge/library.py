"""All knowledge bases of a folder: one sub-folder, one :class:`KnowledgeIndex`, one file.

``prompts/knowledge/acme/`` is the knowledge base ``acme``, indexed in
``<index_dir>/acme.sqlite3``. Names follow ``^[a-z0-9][a-z0-9_-]{0,63}$``; other sub-folders
and files directly in the root (such as its README.md) are ignored.

The owner (the server) calls :meth:`KnowledgeLibrary.sync_changed` every few seconds from a
background thread: it compares a cheap fingerprint of each folder (file names, sizes and
modification times) with the one of the last sync and syncs only folders that changed.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from agent.knowledge.chunking import ChunkingParams
from agent.knowledge.documents import scan_folder
from agent.knowledge.embedder import Embedder
from agent.knowledge.errors import KnowledgeError, UnknownKnowledgeBase
from agent.knowledge.index import IndexStats, KnowledgeIndex, SyncReport

KNOWLEDGE_BASE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Fingerprint = tuple[tuple[str, int, int], ...]


def folder_fingerprint(folder: Path) -> Fingerprint:
    """``(source, size, mtime_ns)`` of each knowledge file: changes when any file does."""
    entries = []
    for source, path in scan_folder(folder):
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((source, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class KnowledgeLibrary:
    """The knowledge bases under ``root``, their indexes in ``index_dir``.

    Thread-safe. ``get`` of an open knowledge base returns at once; the first ``get`` of one
    opens its index and syncs it (blocking; the server can instead call ``sync_changed`` at
    start-up, which opens every knowledge base).
    """

    def __init__(
        self,
        root: Path,
        index_dir: Path,
        embedder: Embedder,
        *,
        chunking: ChunkingParams | None = None,
    ) -> None:
        self.root = root
        self.index_dir = index_dir
        self._embedder = embedder
        self._chunking = chunking
        self._indexes: dict[str, KnowledgeIndex] = {}
        self._fingerprints: dict[str, Fingerprint] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Names of the knowledge bases (valid sub-folder names), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and KNOWLEDGE_BASE_NAME.match(p.name)
        )

    def get(self, name: str) -> KnowledgeIndex:
        """The index of knowledge base ``name``, opened and synced on first use.

        Raises :class:`UnknownKnowledgeBase` (a :class:`KnowledgeError` and ``LookupError``) if
        there is no such folder or the name is invalid.
        """
        index = self._indexes.get(name)
        if index is not None:
            return index
        if not KNOWLEDGE_BASE_NAME.match(name):
            raise UnknownKnowledgeBase(f"{name!r} is not a knowledge base name (a-z, 0-9, _ and -)")
        with self._lock:
            if name not in self._indexes:
                if not (self.root / name).is_dir():
                    raise UnknownKnowledgeBase(f"no knowledge base {name!r} in {self.root}")
                self._open(name)
            return self._indexes[name]

    def _open(self, name: str) -> SyncReport:
        """Open and sync knowledge base ``name`` (the caller holds the lock)."""
        folder = self.root / name
        fingerprint = folder_fingerprint(folder)
        index = KnowledgeIndex(
            name,
            folder,
            self.index_dir / f"{name}.sqlite3",
            self._embedder,
            chunking=self._chunking,
        )
        try:
            report = index.sync()
        except BaseException:
            index.close()
            raise
        self._indexes[name] = index
        self._fingerprints[name] = fingerprint
        return report

    def sync_changed(self) -> dict[str, SyncReport]:
        """Sync each knowledge base whose folder changed since its last sync; cheap otherwise.

        Opens new knowledge bases, and closes those whose folder is gone (reported with all their
        documents removed; the index file stays, so a folder put back is not re-embedded).
        Returns the reports of those it synced. A knowledge base whose index cannot be written
        does not stop the others: the errors are raised together afterwards as one
        :class:`KnowledgeError`.
        """
        reports: dict[str, SyncReport] = {}
        errors: list[str] = []
        with self._lock:
            names = self.names()
            for name in sorted(set(self._indexes) - set(names)):
                index = self._indexes.pop(name)
                self._fingerprints.pop(name, None)
                reports[name] = SyncReport(removed=index.sources())
                index.close()
            for name in names:
                try:
                    if name not in self._indexes:
                        reports[name] = self._open(name)
                        continue
                    fingerprint = folder_fingerprint(self.root / name)
                    if fingerprint != self._fingerprints.get(name):
                        reports[name] = self._indexes[name].sync()
                        self._fingerprints[name] = fingerprint
                except KnowledgeError as exc:
                    errors.append(str(exc))
        if errors:
            raise KnowledgeError("; ".join(errors))
        return reports

    def stats(self) -> dict[str, IndexStats]:
        """Statistics of the open knowledge bases."""
        return {name: index.stats() for name, index in sorted(self._indexes.items())}

    def close(self) -> None:
        """Close every index; a later ``get`` opens them again."""
        with self._lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()
            self._fingerprints.clear()
