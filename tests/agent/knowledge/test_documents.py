"""agent/knowledge/documents.py: each format, titles, the folder scan, and bad files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agent.knowledge import Document, KnowledgeError, load_document, parse_document, scan_folder
from agent.knowledge.documents import MAX_FILE_BYTES, title_from_source
from tests.agent.knowledge.conftest import ACME, ROOT, write_pdf


def test_markdown_keeps_headings_and_takes_the_first_h1_as_title() -> None:
    raw = b"---\nowner: support\n---\nIntro line.\n\n# Returns\n\n## Refund timing\n\nFive days.\n"

    doc = parse_document(raw, "help/returns.md")

    assert doc == Document(
        "help/returns.md", "Returns", "Intro line.\n\n# Returns\n\n## Refund timing\n\nFive days."
    )


def test_markdown_without_h1_is_titled_by_its_file_name() -> None:
    doc = parse_document(b"## Only a section\n\nText.\n", "refund_policy-v2.markdown")

    assert doc.title == "Refund policy v2"


def test_markdown_heading_inside_a_code_fence_is_not_the_title() -> None:
    doc = parse_document(b"```\n# not a title\n```\n\n# Real title\n", "x.md")

    assert doc.title == "Real title"


def test_text_title_is_the_first_short_line_else_the_file_name() -> None:
    assert parse_document(b"\n\nWarranty\n\nTwo years.\r\n", "w.txt").title == "Warranty"
    long_first_line = ("word " * 40).encode()
    assert parse_document(long_first_line, "long-text.txt").title == "Long text"


def test_text_with_a_byte_order_mark_and_crlf_is_normalised() -> None:
    doc = parse_document("\ufeffTitle\r\n\r\nBody\r\n".encode(), "t.txt")

    assert doc.text == "Title\n\nBody"


def test_html_drops_scripts_styles_and_chrome_and_turns_headings_into_sections() -> None:
    html = """<!doctype html><html><head><title> Shipping &amp; delivery </title>
    <style>p { color: red }</style><script>var secret = "tracking";</script></head>
    <body><header><a href="/">Logo text</a></header><nav>Home | Shop</nav>
    <main><h1>Shipping</h1><p>We ship   to the
    US.</p><h2>Express</h2><ul><li>Next day</li><li><p>$12.90</p></li></ul>
    <h3>Deep</h3><h4>Minor heading</h4><p>Line one<br>line two</p>
    <table><tr><td>a</td><td>b</td></tr></table><template><p>hidden</p></template></main>
    <footer>Copyright</footer></body></html>"""

    doc = parse_document(html.encode(), "ship.html")

    assert doc.title == "Shipping & delivery"
    assert doc.text == (
        "# Shipping\n\nWe ship to the US.\n\n## Express\n\n- Next day\n\n- $12.90\n\n"
        "### Deep\n\nMinor heading\n\nLine one\nline two\n\na b"
    )
    for hidden in ("color", "secret", "Logo", "Home", "Copyright", "hidden"):
        assert hidden not in doc.text


def test_html_pre_keeps_its_line_breaks() -> None:
    doc = parse_document(b"<p>Run:</p><pre>reset\n  --wifi</pre><p>Then\nwait.</p>", "p.html")

    assert doc.text == "Run:\n\nreset\n--wifi\n\nThen wait."


def test_html_without_title_element_is_titled_by_its_first_h1() -> None:
    doc = parse_document(b"<header><h1>Reviews</h1></header><p>Nice.</p>", "r.htm")

    assert doc.title == "Reviews"
    assert doc.text == "Nice."


def test_html_with_unclosed_paragraphs_keeps_them_apart() -> None:
    doc = parse_document(b"<p>One<p>Two<div>Three</div>", "p.html")

    assert doc.text == "One\n\nTwo\n\nThree"


def test_pdf_pages_are_joined_with_blank_lines_and_titled_from_metadata(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "guide.pdf", ["First page text.", "Second page text."], "Guide")

    doc = load_document(path, "manuals/guide.pdf")

    assert doc.source == "manuals/guide.pdf"
    assert doc.title == "Guide"
    assert doc.text == "First page text.\n\nSecond page text."


def test_pdf_without_title_metadata_is_titled_by_its_first_line(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "care.pdf", ["Care guide\nRinse the filter every two weeks."])

    assert load_document(path, "care.pdf").title == "Care guide"


def test_a_corrupt_pdf_raises_a_knowledge_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ngarbage\n")

    with pytest.raises(KnowledgeError, match=r"^manuals/broken\.pdf: "):
        load_document(path, "manuals/broken.pdf")


def test_a_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "blank.pdf", [""])

    with pytest.raises(KnowledgeError, match=r"blank\.pdf: the PDF has no extractable text"):
        load_document(path, "blank.pdf")


@pytest.mark.parametrize(
    ("raw", "source", "message"),
    [
        (b"\xff\xfe bad", "latin.md", "latin.md: not UTF-8"),
        (b"   \n\n", "empty.txt", "empty.txt: no text found"),
        (b"<script>only()</script>", "blank.html", "blank.html: no text found"),
        (b"data", "table.csv", "table.csv: unsupported file type '.csv'"),
    ],
)
def test_bad_files_raise_knowledge_errors_naming_them(
    raw: bytes, source: str, message: str
) -> None:
    with pytest.raises(KnowledgeError, match=message):
        parse_document(raw, source)


def test_unreadable_and_oversized_files_raise_knowledge_errors(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"gone\.md: cannot be read"):
        load_document(tmp_path / "gone.md", "gone.md")
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(KnowledgeError, match=r"big\.txt: .* more than"):
        load_document(big, "big.txt")


def test_scan_skips_hidden_and_unsupported_files_and_recurses(tmp_path: Path) -> None:
    for name in ["a.md", "B.TXT", "sub/c.html", "sub/deep/d.pdf", ".hidden.md", ".git/x.md",
                 "notes.docx", "sub/image.png"]:  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")

    found = scan_folder(tmp_path)

    assert [source for source, _ in found] == ["B.TXT", "a.md", "sub/c.html", "sub/deep/d.pdf"]
    assert all(path == tmp_path / source for source, path in found)
    assert scan_folder(tmp_path / "missing") == []


def test_title_from_source_reads_like_a_title() -> None:
    assert title_from_source("faq/getting_started-guide.md") == "Getting started guide"


def test_every_demo_document_loads_in_its_format_with_a_title() -> None:
    found = scan_folder(ACME)
    suffixes = sorted({path.suffix for _, path in found})

    documents = [load_document(path, source) for source, path in found]

    assert suffixes == [".html", ".md", ".pdf", ".txt"]
    assert 8 <= len(documents) <= 12
    for doc in documents:
        assert doc.title and doc.text
        assert 100 <= len(doc.text.split()) <= 400, doc.source


def test_the_demo_pdf_is_the_one_the_script_generates(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_demo_pdf", ROOT / "scripts/make_demo_pdf.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    script.build(tmp_path / "again.pdf")

    assert (tmp_path / "again.pdf").read_bytes() == (ACME / "dusty-3-maintenance.pdf").read_bytes()
