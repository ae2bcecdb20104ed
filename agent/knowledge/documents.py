"""Knowledge files → :class:`Document`: Markdown, plain text, HTML and PDF.

Every loader keeps the structure chunking uses: headings stay in the text as Markdown ``#``
lines (HTML ``h1``–``h3`` become ``#``–``###``), paragraphs are separated by blank lines.

A file that cannot be read or parsed raises :class:`KnowledgeError` naming it; the index reports
it as failed and carries on with the other files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from agent.knowledge.errors import KnowledgeError

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
#: Larger files are refused: a knowledge file is a page of help, not a data dump.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: A first line longer than this is not taken as a title.
MAX_TITLE_CHARS = 100

_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Document:
    """One knowledge file as text.

    ``source`` is the file's path relative to the knowledge base folder, with ``/`` separators;
    it identifies the document in the index and in citations.
    """

    source: str
    title: str
    text: str


def scan_folder(folder: Path) -> list[tuple[str, Path]]:
    """``(source, path)`` of every knowledge file under ``folder``, sorted by source.

    Skips hidden files and folders (names starting with ``.``), files with other suffixes and
    anything that is not a regular file. A missing folder has no files.
    """
    if not folder.is_dir():
        return []
    found: list[tuple[str, Path]] = []
    for path in _walk(folder):
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def _walk(folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry)
        elif entry.is_file():
            yield entry


def load_document(path: Path, source: str) -> Document:
    """Read and parse one knowledge file (format chosen by suffix).

    Raises :class:`KnowledgeError` naming ``source`` if the file cannot be read, is too large, is
    not UTF-8 (text formats), cannot be parsed, or holds no text.
    """
    return parse_document(read_file(path, source), source)


def read_file(path: Path, source: str) -> bytes:
    """The bytes of a knowledge file; :class:`KnowledgeError` if unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise KnowledgeError(f"{source}: {size} bytes, more than the {MAX_FILE_BYTES} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"{source}: cannot be read ({exc.strerror or exc})") from None


def parse_document(data: bytes, source: str) -> Document:
    """Parse a knowledge file's bytes; the suffix of ``source`` picks the format."""
    suffix = Path(source).suffix.lower()
    if suffix in PDF_SUFFIXES:
        document = parse_pdf(data, source)
    elif suffix in HTML_SUFFIXES:
        document = parse_html(_decode(data, source), source)
    elif suffix in MARKDOWN_SUFFIXES:
        document = parse_markdown(_decode(data, source), source)
    elif suffix in TEXT_SUFFIXES:
        document = parse_text(_decode(data, source), source)
    else:
        raise KnowledgeError(f"{source}: unsupported file type {suffix or '(none)'!r}")
    if not document.text.strip():
        raise KnowledgeError(f"{source}: no text found")
    return document


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def title_from_source(source: str) -> str:
    """A title made from the file name: ``returns-and-refunds.md`` → ``Returns and refunds``."""
    stem = Path(source).stem.replace("_", " ").replace("-", " ").strip()
    stem = " ".join(stem.split())
    return stem[:1].upper() + stem[1:] if stem else source


def _short_line(text: str) -> str | None:
    """The first non-empty line, if it is short enough to be a title."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= MAX_TITLE_CHARS else None
    return None


def parse_markdown(text: str, source: str) -> Document:
    """Markdown as it is (headings kept); the title is the first ``# `` heading or the name.

    YAML front matter (between ``---`` lines at the very top) is dropped.
    """
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end >= 0:
            text = text[end + 5 :]
    title = None
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _MD_HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2).strip()
            break
    return Document(source, title or title_from_source(source), text.strip("\n"))


def parse_text(text: str, source: str) -> Document:
    """Plain text; the title is the first non-empty line when it is short, else the name."""
    return Document(source, _short_line(text) or title_from_source(source), text.strip("\n"))


# ── HTML ────────────────────────────────────────────────────────────────────

#: Elements whose content is never knowledge: code, styling, site navigation and chrome.
SKIPPED_ELEMENTS = frozenset(
    {"script", "style", "nav", "header", "footer", "template", "noscript", "svg"}
)
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "form", "h4", "h5", "h6", "hr", "li", "main", "ol",
        "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_HEADINGS = {"h1": "# ", "h2": "## ", "h3": "### "}
_CELLS = frozenset({"td", "th"})


class _HtmlText(HTMLParser):
    """Collects paragraphs of visible text; ``h1``–``h3`` become Markdown headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self._skip_depth = 0
        self._current: list[str] = []
        self._prefix = ""
        self._in_title = False
        self._title_parts: list[str] = []
        self._h1_parts: list[str] | None = None
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._skip_depth:
            self._in_title = True
        if tag in SKIPPED_ELEMENTS:
            self._skip_depth += 1
        if tag == "h1" and self.first_h1 is None:
            self._h1_parts = []
        if self._skip_depth:
            return
        if tag == "pre":
            self._pre_depth += 1
        if tag in _HEADINGS:
            self._flush()
            self._prefix = _HEADINGS[tag]
        elif tag in _BLOCK_ELEMENTS:
            self._flush()
            if tag == "li":
                self._prefix = "- "
        elif tag == "br":
            self._current.append("\n")
        elif tag in _CELLS:
            self._current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            if self.title is None:
                self.title = " ".join("".join(self._title_parts).split()) or None
        if tag == "h1" and self._h1_parts is not None:
            self.first_h1 = " ".join("".join(self._h1_parts).split()) or None
            self._h1_parts = None
        if tag in SKIPPED_ELEMENTS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _HEADINGS or tag in _BLOCK_ELEMENTS:
            self._flush()
            self._prefix = ""

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
            return
        if self._h1_parts is not None:
            self._h1_parts.append(data)
        if not self._skip_depth:
            # Source line breaks are spaces in HTML, except inside <pre>; <br> adds "\n".
            self._current.append(data if self._pre_depth else _WHITESPACE.sub(" ", data))

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        """End the paragraph collected so far; an empty one keeps its prefix (``<li><p>``)."""
        lines = [_SPACES.sub(" ", line).strip() for line in "".join(self._current).split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            if self._prefix.startswith("#"):
                text = " ".join(text.split())
            self.paragraphs.append(self._prefix + text)
            self._prefix = ""
        self._current = []


def parse_html(text: str, source: str) -> Document:
    """Visible text of an HTML page as paragraphs; title from ``<title>`` or the first ``<h1>``.

    Scripts, styles, templates and the page's ``nav``, ``header`` and ``footer`` are dropped.
    """
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # html.parser is lenient; this is a safety net
        raise KnowledgeError(f"{source}: HTML cannot be parsed ({exc})") from None
    title = parser.title or parser.first_h1 or title_from_source(source)
    return Document(source, title, "\n\n".join(parser.paragraphs))


# ── PDF ─────────────────────────────────────────────────────────────────────


def parse_pdf(data: bytes, source: str) -> Document:
    """Text of each page (pypdf), pages separated by blank lines.

    The title is the document's ``/Title`` metadata, else its first short line, else the name.
    """
    try:
        import pypdf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise KnowledgeError(
            f"{source}: reading PDF files needs 'pypdf' (pip install pypdf)"
        ) from exc
    # pypdf raises many exception types on damaged files (its own, ValueError, KeyError,
    # struct.error, ...): any of them means this one file is unusable, never the whole index.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise KnowledgeError(f"{source}: the PDF is encrypted")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        metadata = reader.metadata
        meta_title = metadata.title if metadata is not None else None
    except KnowledgeError:
        raise
    except Exception as exc:
        raise KnowledgeError(
            f"{source}: not a readable PDF ({type(exc).__name__}: {exc})"
        ) from None
    text = "\n\n".join(page for page in pages if page)
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    if not text.strip():
        raise KnowledgeError(f"{source}: the PDF has no extractable text (scanned pages need OCR)")
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else None
    return Document(source, title or _short_line(text) or title_from_source(source), text)
