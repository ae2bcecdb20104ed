"""The process's knowledge bases and the watcher that reloads what product teams edit.

One ``KnowledgeService`` per process owns the embedding model (loaded once, shared by every
session), the ``KnowledgeLibrary`` of indexes, and one background task that, every
``refresh_s``, re-indexes changed knowledge folders and re-reads changed persona files (so a new
version is used by new sessions without a restart; live sessions keep theirs).

Start-up does not wait for the model: ``start`` begins loading it and indexing the bases the
personas name in a worker thread, and a retrieval that arrives before that is done waits for it
(in its own worker thread, at most ``_READY_WAIT_S``; then the reply goes on without passages).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from agent.grounded import Retriever
from agent.grounding import PassageLike
from agent.knowledge import KnowledgeError, KnowledgeLibrary, MiniLMEmbedder
from agent.personas import PersonaError, PersonaLibrary
from server.metrics import Metrics
from server.settings import KnowledgeSettings

log = structlog.get_logger(__name__)
_READY_WAIT_S = 60.0


class _WaitingRetriever:
    """Searches one knowledge base once the service is ready (called in a worker thread)."""

    def __init__(self, service: KnowledgeService, name: str) -> None:
        self._service = service
        self._name = name

    def search(self, query: str, k: int = 4) -> Sequence[PassageLike]:
        library = self._service.wait_ready()
        if library is None:
            return ()
        started = time.perf_counter()
        try:
            found = library.get(self._name).search(query, k)
        except KnowledgeError as exc:
            log.warning("knowledge_search_failed", base=self._name, error=str(exc))
            return ()
        self._service.metrics.stage_latency.labels(stage="retrieval").observe(
            time.perf_counter() - started
        )
        return found


class KnowledgeService:
    def __init__(
        self,
        settings: KnowledgeSettings,
        root: Path,
        personas: PersonaLibrary,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._root = root
        self._personas = personas
        self.metrics = metrics
        self._library: KnowledgeLibrary | None = None
        self._ready = threading.Event()
        self._failed: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    @property
    def ready(self) -> bool:
        """The embedding model is loaded and the bases personas name are indexed (or loading
        failed: answers then go on without knowledge, which is logged, not a reason to refuse
        sessions). Always true when knowledge is disabled."""
        return self._ready.is_set()

    def start(self) -> None:
        """Begin loading the model and indexing (in the background); start the watcher."""
        if self.enabled:
            self._tasks.append(asyncio.create_task(self._load(), name="knowledge:load"))
        else:
            self._ready.set()
        if self._settings.refresh_s > 0:
            self._tasks.append(asyncio.create_task(self._watch(), name="knowledge:watch"))

    async def _load(self) -> None:
        started = time.perf_counter()
        try:
            library = await asyncio.to_thread(self._open)
        except Exception as exc:  # a broken model install must not take the server down
            self._failed = f"{type(exc).__name__}: {exc}"
            log.error("knowledge_unavailable", error=self._failed)
        else:
            self._library = library
            log.info(
                "knowledge_ready",
                bases=library.names(),
                seconds=round(time.perf_counter() - started, 2),
            )
        finally:
            self._ready.set()

    def _open(self) -> KnowledgeLibrary:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        embedder = MiniLMEmbedder(threads=self._settings.embed_threads)
        self._settings.index_dir.mkdir(parents=True, exist_ok=True)
        library = KnowledgeLibrary(self._root, self._settings.index_dir, embedder)
        for name in sorted(self.bases_in_use() & set(library.names())):
            report = library.get(name).last_report  # opening an index syncs it
            if report is not None:
                log.info("knowledge_indexed", base=name, **_report_fields(report))
        return library

    def bases_in_use(self) -> set[str]:
        """Knowledge bases named by the current persona files."""
        bases = set()
        for persona_id in self._personas.ids():
            with contextlib.suppress(PersonaError):
                knowledge = self._personas.get(persona_id).knowledge
                if knowledge is not None:
                    bases.add(knowledge.base)
        return bases

    def wait_ready(self) -> KnowledgeLibrary | None:
        """Block (a worker thread) until the model is loaded; None if it is unavailable."""
        self._ready.wait(_READY_WAIT_S)
        return self._library

    def retriever_for(self, name: str) -> Retriever | None:
        if not self.enabled or self._failed is not None:
            return None
        return _WaitingRetriever(self, name)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.refresh_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                log.exception("refresh_failed")

    def refresh(self) -> None:
        """Pick up edited persona files and changed knowledge folders (a worker thread)."""
        for persona_id in self._personas.ids():
            try:
                self._personas.get(persona_id)
            except PersonaError as exc:
                log.warning("persona_invalid", persona=persona_id, problems=str(exc))
        library = self._library
        if library is None:
            return
        for name, report in library.sync_changed().items():
            log.info("knowledge_reindexed", base=name, **_report_fields(report))

    def status(self) -> list[dict[str, Any]]:
        """One entry per knowledge base folder, for the admin API."""
        library = self._library
        if library is None:
            state = "disabled" if not self.enabled else (self._failed or "loading")
            return [{"name": n, "state": state} for n in sorted(self.bases_in_use())]
        out: list[dict[str, Any]] = []
        for name in library.names():
            try:
                stats = library.get(name).stats()
            except KnowledgeError as exc:
                out.append({"name": name, "state": "failed", "error": str(exc)})
                continue
            out.append({"name": name, "state": "ready", **_as_dict(stats)})
        return out

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._library is not None:
            self._library.close()


def _as_dict(value: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return dict(value) if isinstance(value, dict) else {"value": value}


def _report_fields(report: object) -> dict[str, Any]:
    fields = _as_dict(report)
    fields["failed"] = len(fields.get("failed") or ())
    return fields
