"""Loaders: one file in, a Document of Sections out. They know nothing of the index.

Every failure is a LoadError carrying a German reason that is shown to the user.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .normalize import is_heading_line, normalize_text, reflow_paragraphs

SUPPORTED = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")


class LoadError(Exception):
    """A file that cannot be ingested; ``str(err)`` is a German reason for the user."""


@dataclass
class Section:
    text: str
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None


@dataclass
class Document:
    title: str
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)


def load(path: Path) -> Document:
    """Load one file by its extension; raises LoadError with a German reason."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(
            f"Dateityp „{suffix or '(ohne Endung)'}“ wird nicht unterstützt "
            f"(möglich: {', '.join(SUPPORTED)})."
        )
    if path.stat().st_size == 0:
        raise LoadError("Die Datei ist leer.")
    doc = loader(path)
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise LoadError("Die Datei enthält keinen lesbaren Text.")
    return doc


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise LoadError("Die Datei enthält Binärdaten und ist keine Textdatei.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LoadError(
            f"Der Text ist nicht UTF-8-kodiert (ungültiges Byte an Position {err.start}); "
            "bitte als UTF-8 speichern."
        ) from None


# --- Markdown -----------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def parse_markdown(text: str, default_title: str) -> Document:
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        try:
            loaded = yaml.safe_load(m.group(1))
        except yaml.YAMLError as err:
            raise LoadError(f"Der YAML-Kopf (Front Matter) ist fehlerhaft: {err.problem or err}.") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise LoadError("Der YAML-Kopf (Front Matter) muss aus Schlüssel-Wert-Paaren bestehen.")
        meta = loaded or {}
        text = text[m.end():]
    text = normalize_text(text)
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []
    title = str(meta.get("titel") or meta.get("title") or "")
    in_code = False

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            sections.append(Section(body, [h for _, h in stack]))
        buf.clear()

    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        hm = None if in_code else _MD_HEADING.match(line)
        if hm:
            flush()
            level, heading = len(hm.group(1)), hm.group(2).strip()
            if level == 1 and not title:
                title = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        else:
            buf.append(line)
    flush()
    return Document(title or default_title, sections, meta)


def _load_markdown(path: Path) -> Document:
    return parse_markdown(_read_text(path), path.stem)


# --- plain text ---------------------------------------------------------------------------


def parse_plain(text: str, default_title: str) -> Document:
    paras = reflow_paragraphs(normalize_text(text))
    # running headers/footers repeat: a heading-like line seen 3+ times (digits ignored) is furniture
    key = lambda p: re.sub(r"\d+", "", p).strip().lower()  # noqa: E731
    furniture = {k for k, n in Counter(key(p) for p in paras if is_heading_line(p)).items() if n >= 3}
    sections: list[Section] = []
    heading: list[str] = []
    buf: list[str] = []
    prev_heading = False
    for p in paras:
        if is_heading_line(p):
            if key(p) in furniture or re.fullmatch(r"[\d\s]+", p):
                continue
            if buf:
                sections.append(Section("\n\n".join(buf), list(heading)))
                buf = []
            title = p.strip()
            heading = [f"{heading[-1]} {title}"] if prev_heading and heading else [title]
            prev_heading = True
            continue
        if re.fullmatch(r"(Seite\s*)?\d{1,4}", p) or re.match(r"^(Abbildung|Tabelle)\s+\d+\s*:?", p) and len(p) < 160:
            continue  # page numbers and figure captions without their figure
        prev_heading = False
        buf.append(p)
    if buf:
        sections.append(Section("\n\n".join(buf), list(heading)))
    return Document(default_title, sections)


def _load_text(path: Path) -> Document:
    return parse_plain(_read_text(path), path.stem)


# --- PDF ----------------------------------------------------------------------------------


def _load_pdf(path: Path) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise LoadError("Das PDF ist passwortgeschützt (verschlüsselt) und kann nicht gelesen werden.")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise LoadError(f"Das PDF ist beschädigt oder unvollständig ({type(err).__name__}).") from None
    except Exception as err:  # pypdf raises many internal types on broken files
        raise LoadError(f"Das PDF konnte nicht gelesen werden ({type(err).__name__}).") from None
    if not any(p.strip() for p in pages):
        raise LoadError(
            "Das PDF enthält keinen Text (vermutlich ein eingescannter Ausdruck); "
            "bitte eine PDF-Datei mit Textebene verwenden oder vorher eine Texterkennung (OCR) durchführen."
        )
    sections: list[Section] = []
    heading: list[str] = []
    for number, page_text in enumerate(pages, start=1):
        doc = parse_plain(page_text, title)
        for s in doc.sections:
            if s.heading_path:
                heading = s.heading_path
            sections.append(Section(s.text, list(heading), page=number))
    return Document(str(title), sections)


# --- DOCX ---------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:Heading|Überschrift|Titel|Title)\s*(\d*)$", re.I)


def _load_docx(path: Path) -> Document:
    if not zipfile.is_zipfile(path):
        raise LoadError("Die Datei ist keine gültige DOCX-Datei (kein Word-Dokument im ZIP-Format).")
    import docx

    try:
        d = docx.Document(str(path))
    except Exception as err:
        raise LoadError(f"Das Word-Dokument ist beschädigt ({type(err).__name__}).") from None
    title = d.core_properties.title or ""
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            sections.append(Section(normalize_text("\n\n".join(buf)), [h for _, h in stack]))
            buf.clear()

    for para in d.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        m = _HEADING_STYLE.match(para.style.name if para.style is not None else "")
        if m:
            flush()
            level = int(m.group(1) or 0)
            if level <= 1 and not title:
                title = text
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
        else:
            prefix = "- " if para.style is not None and "List" in para.style.name else ""
            buf.append(prefix + text)
    flush()
    for table in d.tables:
        rows = [" | ".join(c.text.strip() for c in row.cells) for row in table.rows]
        if rows:
            sections.append(Section(normalize_text("\n".join(rows)), [h for _, h in stack]))
    return Document(title or path.stem, sections)


# --- HTML ---------------------------------------------------------------------------------


def _load_html(path: Path) -> Document:
    import trafilatura

    html = _read_text(path)
    text = trafilatura.extract(
        html, output_format="markdown", include_formatting=True, include_links=False,
        include_images=False, include_comments=False, include_tables=True, favor_recall=True,
    )
    if not text or not text.strip():
        raise LoadError("Die HTML-Seite enthält keinen erkennbaren Haupttext.")
    meta = trafilatura.extract_metadata(html)
    doc = parse_markdown(text, path.stem)
    if meta is not None and meta.title:
        doc.title = meta.title
    return doc


_LOADERS = {
    ".md": _load_markdown, ".markdown": _load_markdown, ".txt": _load_text,
    ".pdf": _load_pdf, ".docx": _load_docx, ".html": _load_html, ".htm": _load_html,
}
