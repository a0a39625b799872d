"""Structure-aware chunking: sections (headings, pages) first, then paragraphs, then size with overlap."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .loaders import Document

HEADING_SEP = " › "


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]

    @property
    def index_text(self) -> str:
        """What search sees: title and heading path give the passage its context."""
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


def document_metadata(doc: Document) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in doc.metadata.items():
        key = "doc_id" if key == "id" else str(key)
        flat = _flat(value)
        if flat is not None and flat != "":
            meta[key] = flat
    return meta


def chunk_document(doc: Document, source: str, file_hash: str, chunk_size: int, overlap: int) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""], keep_separator="end",
    )
    base = document_metadata(doc)
    pieces: list[tuple[str, list[str], int | None]] = []
    for section in doc.sections:
        for text in splitter.split_text(section.text):
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
    return chunks
