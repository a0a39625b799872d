"""Structure-aware chunking: sections (headings, pages) first, then paragraphs, then size with overlap."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .blocks import block_with
from .loaders import Document
from .screening import screen_chunks

HEADING_SEP = " › "
QUESTION_KIND = "frage"  # metadata `kind` of an authored question's chunk (corpus/README.md, `fragen`)


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]

    @property
    def index_text(self) -> str:
        """What search sees: title and heading path give the passage its context."""
        if self.metadata.get("kind") == QUESTION_KIND:  # an authored question: search sees the question
            return str(self.metadata.get("frage") or self.text)
        head = HEADING_SEP.join(x for x in (self.metadata.get("doc_title"), self.metadata.get("heading_path")) if x)
        return f"{head}\n{self.text}" if head else self.text


def _flat(value: Any) -> Any:
    """Chroma metadata takes str/int/float/bool or non-empty homogeneous lists of them."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        items = [str(v) if not isinstance(v, bool | int | float | str) else v for v in value if v is not None]
        if items and len({type(v) for v in items}) > 1:
            items = [str(v) for v in items]
        return items or None
    if value is None:
        return None
    return str(value)


NOT_METADATA = {"fragen"}  # front matter that becomes chunks of its own, not metadata of every passage


def document_metadata(doc: Document) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in doc.metadata.items():
        if key in NOT_METADATA:
            continue
        key = "doc_id" if key == "id" else str(key)
        flat = _flat(value)
        if flat is not None and flat != "":
            meta[key] = flat
    return meta


LONG_SECTION = 100_000  # characters; longer sections are cut into blocks before the recursive splitter


def _blocks(text: str) -> list[str]:
    """Cut a very long section into blocks the splitter handles in linear time.

    The recursive splitter falls back to single characters for text without separators
    (one 50 MB line became 50 million strings). Blocks end at a paragraph, line or space
    boundary where there is one, else hard at ``LONG_SECTION``; shorter sections pass unchanged.
    """
    if len(text) <= LONG_SECTION:
        return [text]
    blocks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + LONG_SECTION, len(text))
        if end < len(text):
            window = text[start + LONG_SECTION // 2:end]
            for sep in ("\n\n", "\n", ". ", " "):
                cut = window.rfind(sep)
                if cut >= 0:
                    end = start + LONG_SECTION // 2 + cut + len(sep)
                    break
        blocks.append(text[start:end])
        start = end
    return blocks


def _split(splitter: RecursiveCharacterTextSplitter, text: str, size: int) -> list[str]:
    """The splitter, except for long text without any separator: cut it by size directly."""
    if len(text) > 20 * size and not any(sep in text for sep in (" ", "\n")):
        return [text[i:i + size] for i in range(0, len(text), size)]
    return splitter.split_text(text)


def chunk_document(doc: Document, source: str, file_hash: str, chunk_size: int, overlap: int) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""], keep_separator="end",
    )
    base = document_metadata(doc)
    pieces: list[tuple[str, list[str], int | None]] = []
    for section in doc.sections:
        for block in _blocks(section.text):
            for text in _split(splitter, block, chunk_size):
                text = text.strip()
                if len(text) >= 2:
                    pieces.append((text, section.heading_path, section.page))
    # a heading path starting with the document title repeats it: drop that first element
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for index, (text, path, page) in enumerate(pieces):
        if path and path[0] == doc.title:
            path = path[1:]
        heading_path = HEADING_SEP.join(path)
        meta = dict(base)
        meta.update(
            source=source, doc_title=doc.title, heading_path=heading_path, section=path[-1] if path else "",
            file_hash=file_hash, chunk_index=index, n_chunks=len(pieces),
        )
        if page is not None:
            meta["page"] = page
        digest = hashlib.sha256(f"{source}\x00{heading_path}\x00{text}".encode()).hexdigest()[:24]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        chunks.append(Chunk(f"{digest}-{n}" if n else digest, text, meta))
    chunks += question_chunks(doc, base, source, file_hash)
    return screen_chunks(chunks)  # planted instructions and active markup never reach the index


def question_chunks(doc: Document, base: dict[str, Any], source: str, file_hash: str) -> list[Chunk]:
    """An authored question (front matter `fragen`) as a chunk: search sees the question (``index_text``), the
    answer shows the block of the course it points to (`abschnitt` + `beleg`). Asking in other words than the
    course uses is where retrieval is weakest; these questions are written the way people ask."""
    questions = doc.metadata.get("fragen") or []
    if not isinstance(questions, list):
        return []
    sections: dict[str, str] = {}
    for section in doc.sections:
        path = section.heading_path[1:] if section.heading_path and section.heading_path[0] == doc.title \
            else section.heading_path
        key = HEADING_SEP.join(path)
        sections[key] = sections.get(key, "") + "\n\n" + section.text
    out: list[Chunk] = []
    for q in questions:
        if not isinstance(q, dict) or not q.get("frage") or not q.get("abschnitt"):
            continue
        path = str(q["abschnitt"])
        block = block_with(sections.get(path, ""), str(q.get("beleg") or "")) if path in sections else None
        if block is None:
            continue  # the corpus test reports a question whose block cannot be found
        roles = q.get("rollen") or []
        meta = dict(base)
        meta.update(source=source, doc_title=doc.title, heading_path=path, section=path.split(HEADING_SEP)[-1],
                    file_hash=file_hash, kind=QUESTION_KIND, frage=" ".join(str(q["frage"]).split()),
                    chunk_index=-1)
        if roles:
            meta["frage_rollen"] = [str(r) for r in roles]
        digest = hashlib.sha256(f"{source}\x00frage\x00{meta['frage']}".encode()).hexdigest()[:24]
        out.append(Chunk(f"q-{digest}", block.text, meta))
    return out
