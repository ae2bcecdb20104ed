"""agent/knowledge/index.py with the hashing embedder: incremental sync, persistence,
rebuilds, failures, and searches that run while the index changes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agent.knowledge import (
    ChunkingParams,
    HashingEmbedder,
    KnowledgeError,
    KnowledgeIndex,
    KnowledgeStore,
    Passage,
    SyncReport,
)
from tests.agent.knowledge.conftest import CountingEmbedder, write_pdf

FILES = {
    "returns.md": "# Returns\n\nYou can return a robot within 45 days of delivery.\n\n"
    "## Refund timing\n\nRefunds are issued within 5 business days.\n",
    "battery.txt": "Battery\n\nDusty 3 runs for 140 minutes on one charge.\n",
    "hours.html": "<html><head><title>Opening hours</title></head><body><h1>Hours</h1>"
    "<p>Support is open Monday to Friday, 8 a.m. to 8 p.m.</p></body></html>",
    "faq/pads.md": "# Pads\n\nGlide pads are washable at 40 degrees, about 200 washes.\n",
}


def make_folder(root: Path, files: dict[str, str] = FILES) -> Path:
    folder = root / "kb"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def chunk_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path)


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index" / "kb.sqlite3"


def test_first_sync_adds_every_file_and_search_finds_them(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        report = index.sync()

        assert report.added == ("battery.txt", "faq/pads.md", "hours.html", "returns.md")
        assert (report.updated, report.removed, report.unchanged, report.failed) == ((), (), (), ())
        assert report.chunks_embedded == len(counting.texts) == 5
        assert report.changed and report.seconds >= 0
        top = index.search("how many minutes does the battery run", k=2)
        assert top[0].source == "battery.txt"
        assert top[0].chunk_id == "battery.txt#0"
        assert top[0].title == "Battery"
        assert "140 minutes" in top[0].text
        assert top[0].similarity > 0 and top[0].bm25 > 0 and top[0].score > 0
        stats = index.stats()
        assert (stats.name, stats.documents, stats.chunks) == ("kb", 4, 5)
        assert stats.model_id == "hashing-256"
        assert stats.index_bytes > 0 and stats.vector_bytes == 5 * 256 * 4


def test_a_second_sync_without_changes_embeds_nothing(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        counting.reset()

        report = index.sync()

    assert report == SyncReport(
        unchanged=("battery.txt", "faq/pads.md", "hours.html", "returns.md"),
        seconds=report.seconds,
    )
    assert not report.changed
    assert counting.texts == []


def test_modifying_one_file_re_embeds_only_its_chunks(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        counting.reset()
        (folder / "battery.txt").write_text("Battery\n\nDusty 3 now runs for 150 minutes.\n")

        report = index.sync()

        assert report.updated == ("battery.txt",)
        assert report.unchanged == ("faq/pads.md", "hours.html", "returns.md")
        assert report.chunks_embedded == 1
        assert counting.texts == ["Battery\n\nBattery\n\nDusty 3 now runs for 150 minutes."]
        assert "150 minutes" in index.search("battery minutes", k=1)[0].text


def test_removing_a_file_removes_its_chunks(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        (folder / "returns.md").unlink()
        counting.reset()

        report = index.sync()

        assert report.removed == ("returns.md",)
        assert report.chunks_embedded == 0 and counting.texts == []
        assert all(p.source != "returns.md" for p in index.search("return refund days", k=10))
        assert index.sources() == ("battery.txt", "faq/pads.md", "hours.html")
    assert chunk_count(index_path) == 3


def test_adding_a_file_embeds_only_it(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        counting.reset()
        (folder / "new.md").write_text("# Shipping\n\nFree shipping over $49.\n")

        report = index.sync()

        assert report.added == ("new.md",)
        assert len(counting.texts) == 1
        assert index.search("free shipping", k=1)[0].source == "new.md"


def test_reopening_loads_the_index_without_embedding_and_answers_the_same(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    queries = ["battery minutes", "refund business days", "opening hours monday", "pads washes"]
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        before = {q: index.search(q, k=3) for q in queries}

    reopened_embedder = CountingEmbedder()
    with KnowledgeIndex("kb", folder, index_path, reopened_embedder) as reopened:
        # Searchable at once, before any sync, and nothing was embedded but the queries.
        after = {q: reopened.search(q, k=3) for q in queries}
        assert reopened_embedder.texts == queries
        assert reopened.stats().chunks == 5
        reopened_embedder.reset()
        assert reopened.sync().unchanged == (
            "battery.txt",
            "faq/pads.md",
            "hours.html",
            "returns.md",
        )
        assert reopened_embedder.texts == []

    assert after == before


def test_a_new_embedder_model_re_embeds_everything(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()

    other = CountingEmbedder(HashingEmbedder(dim=128, model_id="hashing-v2"))
    with KnowledgeIndex("kb", folder, index_path, other) as index:
        assert index.stats().chunks == 0  # the old vectors are of another model: not searched
        assert index.search("battery", k=3) == []

        report = index.sync()

        assert report.updated == ("battery.txt", "faq/pads.md", "hours.html", "returns.md")
        assert report.added == () and report.unchanged == ()
        assert report.chunks_embedded == len(other.texts) == 5
        assert index.search("battery minutes", k=1)[0].source == "battery.txt"
        assert index.stats().model_id == "hashing-v2"


def test_new_chunking_parameters_re_embed_everything(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
    counting.reset()

    params = ChunkingParams(target_words=5, max_words=8, overlap_words=2)
    with KnowledgeIndex("kb", folder, index_path, counting, chunking=params) as index:
        report = index.sync()

    assert len(report.updated) == 4
    assert report.chunks_embedded == len(counting.texts) > 5


def test_a_corrupt_pdf_is_reported_and_the_other_files_are_indexed(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    write_pdf(folder / "manual.pdf", ["Replace the filter every 2 months."], "Manual")

    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        report = index.sync()

        assert [source for source, _ in report.failed] == ["broken.pdf"]
        assert report.failed[0][1].startswith("broken.pdf: not a readable PDF")
        assert "manual.pdf" in report.added and len(report.added) == 5
        assert index.search("filter months", k=1)[0].source == "manual.pdf"

        # Still failing next time (it is retried, and reported again), until it is fixed.
        assert [s for s, _ in index.sync().failed] == ["broken.pdf"]
        write_pdf(folder / "broken.pdf", ["Fixed now: the dock bag holds 2.5 litres."])
        fixed = index.sync()
        assert fixed.added == ("broken.pdf",) and fixed.failed == ()


def test_a_file_that_breaks_is_dropped_from_the_index(
    folder: Path, index_path: Path, counting: CountingEmbedder
) -> None:
    with KnowledgeIndex("kb", folder, index_path, counting) as index:
        index.sync()
        (folder / "battery.txt").write_bytes(b"\xff\xfe not utf-8")

        report = index.sync()

        assert report.failed == (("battery.txt", "battery.txt: not UTF-8 text (invalid start "
                                  "byte at byte 0)"),)  # fmt: skip
        assert "battery.txt" not in index.sources()


def test_a_damaged_index_file_is_rebuilt(folder: Path, index_path: Path) -> None:
    index_path.parent.mkdir(parents=True)
    index_path.write_bytes(b"this is not a database" * 100)

    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        assert len(index.sync().added) == 4


def test_an_index_file_of_another_schema_version_is_rebuilt(folder: Path, index_path: Path) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()
    with sqlite3.connect(index_path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")

    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        assert index.stats().chunks == 0
        assert len(index.sync().added) == 4


def test_an_index_file_that_cannot_be_created_raises(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()

    with pytest.raises(KnowledgeError, match="index file"):
        KnowledgeIndex("kb", folder, tmp_path / "taken", HashingEmbedder())


def test_a_missing_folder_is_an_error_not_an_empty_index(
    folder: Path, index_path: Path, tmp_path: Path
) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()
        index.folder = tmp_path / "elsewhere"

        with pytest.raises(KnowledgeError, match="no folder"):
            index.sync()
        assert index.stats().documents == 4


def test_sync_after_close_raises_but_search_still_answers(folder: Path, index_path: Path) -> None:
    index = KnowledgeIndex("kb", folder, index_path, HashingEmbedder())
    index.sync()
    index.close()
    index.close()

    with pytest.raises(KnowledgeError, match="closed"):
        index.sync()
    assert index.search("battery", k=1)


def test_bm25_and_dense_search_rank_by_their_own_scores(folder: Path, index_path: Path) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()

        keyword = index.bm25_search("refund business days", k=2)
        dense = index.dense_search("refund business days", k=2)

    assert keyword[0].source == dense[0].source == "returns.md"
    assert keyword[0].similarity == 0.0 and keyword[0].score == keyword[0].bm25 > 0
    assert dense[0].score == dense[0].similarity > dense[1].similarity


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_queries_and_k_zero_find_nothing(folder: Path, index_path: Path, query: str) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()

        assert index.search(query) == [] and index.dense_search(query) == []
        assert index.bm25_search(query) == []
        assert index.search("battery", k=0) == []


def test_an_index_before_its_first_sync_is_empty(folder: Path, index_path: Path) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        assert index.search("battery") == []
        assert index.stats().documents == 0


def test_the_index_satisfies_the_store_protocol(folder: Path, index_path: Path) -> None:
    store: KnowledgeStore = KnowledgeIndex("kb", folder, index_path, HashingEmbedder())
    store.close()


def test_searches_during_syncs_always_see_a_whole_index(tmp_path: Path) -> None:
    """Two versions of the knowledge base alternate; every search sees one of them entirely."""
    version_a = {f"doc{i}.md": f"# Topic {i}\n\nalpha {i} " + "filler " * 30 for i in range(12)}
    version_b = {f"doc{i}.md": f"# Topic {i}\n\nbeta {i} " + "padding " * 30 for i in range(12)}
    folder = make_folder(tmp_path, version_a)
    index = KnowledgeIndex("kb", folder, tmp_path / "kb.sqlite3", HashingEmbedder(), embed_batch=2)
    index.sync()
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()

    def search_forever() -> None:
        while not stop.is_set():
            try:
                results = index.search("alpha beta", k=12)
                words = {p.text.split()[3] for p in results}
                assert len(results) == 12, len(results)
                assert words in ({"alpha"}, {"beta"}), words
                seen.update(words)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=search_forever) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(6):
            version = version_b if round_ % 2 == 0 else version_a
            for name, text in version.items():
                (folder / name).write_text(text)
            assert len(index.sync().updated) == 12
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        index.close()

    assert not errors, errors[0]
    assert seen == {"alpha", "beta"}


def test_syncs_from_several_threads_run_one_at_a_time(folder: Path, index_path: Path) -> None:
    counting = CountingEmbedder()
    index = KnowledgeIndex("kb", folder, index_path, counting)
    reports: list[SyncReport] = []
    threads = [threading.Thread(target=lambda: reports.append(index.sync())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    index.close()

    assert sorted(len(r.added) for r in reports) == [0, 0, 0, 4]
    assert len(counting.texts) == 5


def test_passages_are_frozen(folder: Path, index_path: Path) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()
        passage: Passage = index.search("battery", k=1)[0]

    with pytest.raises(AttributeError):
        passage.score = 1.0  # type: ignore[misc]


def test_index_file_mtime_is_untouched_by_searches(folder: Path, index_path: Path) -> None:
    with KnowledgeIndex("kb", folder, index_path, HashingEmbedder()) as index:
        index.sync()
        before = os.stat(index_path).st_mtime_ns
        for _ in range(5):
            index.search("battery", k=2)
        assert os.stat(index_path).st_mtime_ns == before
