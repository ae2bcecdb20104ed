"""agent/knowledge/library.py: one index per folder, lazy opening, cheap change detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.knowledge import KnowledgeError, KnowledgeLibrary, UnknownKnowledgeBase
from agent.knowledge.library import folder_fingerprint
from tests.agent.knowledge.conftest import CountingEmbedder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "returns.md").write_text("# Returns\n\nWithin 45 days.\n")
    (root / "acme" / "battery.txt").write_text("Battery\n\n140 minutes per charge.\n")
    (root / "beta_2").mkdir()
    (root / "beta_2" / "hours.md").write_text("# Hours\n\nOpen 8 to 8.\n")
    (root / "Not-Valid").mkdir()
    (root / ".hidden").mkdir()
    (root / "README.md").write_text("# Knowledge bases\n")
    return root


@pytest.fixture
def library(root: Path, tmp_path: Path, counting: CountingEmbedder) -> KnowledgeLibrary:
    return KnowledgeLibrary(root, tmp_path / "indexes", counting)


def test_names_are_the_valid_sub_folders(library: KnowledgeLibrary) -> None:
    assert library.names() == ["acme", "beta_2"]


def test_a_missing_root_has_no_knowledge_bases(tmp_path: Path) -> None:
    assert KnowledgeLibrary(tmp_path / "none", tmp_path, CountingEmbedder()).names() == []


def test_get_opens_and_syncs_once(
    library: KnowledgeLibrary, counting: CountingEmbedder, tmp_path: Path
) -> None:
    index = library.get("acme")

    assert library.get("acme") is index
    assert len(counting.texts) == 2  # two files, one chunk each
    assert index.search("returns window", k=1)[0].source == "returns.md"
    assert (tmp_path / "indexes" / "acme.sqlite3").is_file()
    assert list(library.stats()) == ["acme"]


@pytest.mark.parametrize("name", ["missing", "Not-Valid", "../acme", "", "a" * 65])
def test_get_of_an_unknown_or_invalid_name_raises(library: KnowledgeLibrary, name: str) -> None:
    with pytest.raises(UnknownKnowledgeBase) as raised:
        library.get(name)

    assert isinstance(raised.value, KnowledgeError)
    assert isinstance(raised.value, LookupError)


def test_sync_changed_opens_every_base_then_does_nothing_until_a_file_changes(
    library: KnowledgeLibrary, root: Path, counting: CountingEmbedder
) -> None:
    first = library.sync_changed()
    assert sorted(first) == ["acme", "beta_2"]
    assert first["acme"].added == ("battery.txt", "returns.md")
    counting.reset()

    assert library.sync_changed() == {}
    assert counting.texts == []

    path = root / "acme" / "battery.txt"
    path.write_text("Battery\n\n150 minutes per charge.\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    changed = library.sync_changed()

    assert list(changed) == ["acme"]
    assert changed["acme"].updated == ("battery.txt",)
    assert len(counting.texts) == 1
    assert library.sync_changed() == {}


def test_a_touched_but_unchanged_file_syncs_without_embedding(
    library: KnowledgeLibrary, root: Path, counting: CountingEmbedder
) -> None:
    library.sync_changed()
    counting.reset()
    path = root / "acme" / "returns.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000))

    report = library.sync_changed()["acme"]

    assert report.unchanged == ("battery.txt", "returns.md") and not report.changed
    assert counting.texts == []


def test_new_and_removed_knowledge_bases_are_noticed(library: KnowledgeLibrary, root: Path) -> None:
    library.sync_changed()
    (root / "gamma").mkdir()
    (root / "gamma" / "a.md").write_text("# A\n\nText.\n")
    for path in (root / "beta_2").iterdir():
        path.unlink()
    (root / "beta_2").rmdir()

    reports = library.sync_changed()

    assert reports["gamma"].added == ("a.md",)
    assert reports["beta_2"].removed == ("hours.md",)
    assert library.names() == ["acme", "gamma"]
    with pytest.raises(UnknownKnowledgeBase):
        library.get("beta_2")


def test_a_base_that_cannot_be_indexed_does_not_stop_the_others(
    library: KnowledgeLibrary, tmp_path: Path
) -> None:
    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "acme.sqlite3").mkdir()  # a folder where the file should be

    with pytest.raises(KnowledgeError, match="acme"):
        library.sync_changed()

    assert library.get("beta_2").stats().documents == 1


def test_folder_fingerprint_tracks_names_sizes_and_times(root: Path) -> None:
    before = folder_fingerprint(root / "acme")
    (root / "acme" / "notes.docx").write_text("ignored: not a knowledge file")
    assert folder_fingerprint(root / "acme") == before

    (root / "acme" / "new.md").write_text("# New\n")
    assert folder_fingerprint(root / "acme") != before


def test_close_closes_every_index_and_get_reopens(library: KnowledgeLibrary) -> None:
    first = library.get("acme")
    library.close()

    with pytest.raises(KnowledgeError, match="closed"):
        first.sync()
    assert library.get("acme") is not first
