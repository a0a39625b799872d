"""Loaders: one file in, a Document of Sections out. They know nothing of the index.

Every failure is a LoadError carrying a German reason that is shown to the user.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from .frontmatter import validate_front_matter
from .limits import IngestLimits, LoadError, check_text_size, check_zip, read_capped, safe_yaml
from .normalize import is_heading_line, normalize_text, reflow_paragraphs

SUPPORTED = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")
__all__ = ["SUPPORTED", "Document", "IngestLimits", "LoadError", "Section", "load", "load_bytes",
           "parse_markdown", "parse_plain"]


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


def unsupported(suffix: str) -> LoadError:
    return LoadError(f"Dateityp „{suffix or '(ohne Endung)'}“ wird nicht unterstützt "
                     f"(möglich: {', '.join(SUPPORTED)}).")


def load(path: Path, limits: IngestLimits | None = None) -> Document:
    """Load one file by its extension; raises LoadError with a German reason.

    Only regular files are opened, at most ``limits.max_file_mb`` are read. This runs in the
    calling process; the ingest run parses in a worker process with a time and memory limit.
    """
    limits = limits or IngestLimits()
    if path.suffix.lower() not in _LOADERS:
        raise unsupported(path.suffix.lower())
    return load_bytes(path.name, read_capped(path, limits), limits)


def load_bytes(name: str, data: bytes, limits: IngestLimits | None = None) -> Document:
    """Parse the content of a file called ``name`` (the extension picks the loader)."""
    limits = limits or IngestLimits()
    suffix = Path(name).suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise unsupported(suffix)
    if not data:
        raise LoadError("Die Datei ist leer.")
    doc = loader(data, Path(name).stem, limits)
    # lone surrogates (from broken PDF strings) cannot be stored: replace them
    doc.title = _clean(str(doc.title))
    sections = [Section(_clean(s.text), [_clean(h) for h in s.heading_path], s.page)
                for s in doc.sections if s.text.strip()]
    # runs of thousands of characters without a space (base64 images, hex dumps, one giant "word") are not
    # text: they would only become passages of noise, each one embedded
    junk = any(_JUNK.search(s.text) for s in sections)
    doc.sections = [Section(_JUNK.sub(" ", s.text).strip(), s.heading_path, s.page) for s in sections] if junk \
        else sections
    doc.sections = [s for s in doc.sections if s.text]
    if not doc.sections:
        raise LoadError("Die Datei enthält keinen lesbaren Text" + (
            " (nur Zeichenfolgen ohne Leerzeichen, z. B. eingebettete Binärdaten)." if junk else "."))
    check_text_size(sum(len(s.text) for s in doc.sections), limits)
    return doc


_SURROGATES = re.compile("[\ud800-\udfff]")
_JUNK = re.compile(r"\S{2000,}")


def _clean(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _utf16_without_bom(raw: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: NUL bytes only in every other position."""
    head = raw[:4096]
    if len(raw) % 2 or len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= len(zeros) * 0.3 and other.count(0) == 0:
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                return None
    return None


def decode_text(raw: bytes, limits: IngestLimits) -> str:
    check_text_size(len(raw) // 4, limits)  # cheap early bound; exact after decoding
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                raise LoadError(f"Der Text ist nicht korrekt {codec.upper().replace('-SIG', '')}-kodiert; "
                                "bitte als UTF-8 speichern.") from None
            break
    else:
        if b"\x00" in raw[:4096]:
            text16 = _utf16_without_bom(raw)
            if text16 is None:
                raise LoadError("Die Datei enthält Binärdaten und ist keine Textdatei.")
            text = text16
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise LoadError(
                    f"Der Text ist nicht UTF-8-kodiert (ungültiges Byte an Position {err.start}); "
                    "bitte als UTF-8 speichern."
                ) from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise LoadError("Die Datei enthält Binärdaten und ist keine Textdatei.")
    check_text_size(len(text), limits)
    return text


# --- Markdown -----------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def parse_markdown(text: str, default_title: str, limits: IngestLimits | None = None,
                   front_matter: bool = True) -> Document:
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text) if front_matter else None
    if m:
        loaded = safe_yaml(m.group(1), limits or IngestLimits())
        if loaded is not None and not isinstance(loaded, dict):
            raise LoadError("Der YAML-Kopf (Front Matter) muss aus Schlüssel-Wert-Paaren bestehen.")
        meta = validate_front_matter(loaded or {})
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


def _load_markdown(data: bytes, stem: str, limits: IngestLimits) -> Document:
    return parse_markdown(decode_text(data, limits), stem, limits)


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


def _load_text(data: bytes, stem: str, limits: IngestLimits) -> Document:
    return parse_plain(decode_text(data, limits), stem)


# --- PDF ----------------------------------------------------------------------------------


log = logging.getLogger("lernbegleiter.ingest")


class _ToDebug(logging.Handler):
    """Re-logs a parser library's records (e.g. pypdf's "EOF marker not found") on our logger at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("%s: %s", record.name, record.getMessage())


@contextlib.contextmanager
def library_messages_to_debug(*names: str):
    """While parsing, a library's warnings go to the debug log only: the user sees our German reason,
    not the library's English message before it."""
    handler = _ToDebug()
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg.propagate, lg.handlers[:]) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [handler], False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for lg, (propagate, handlers) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
        for w in caught:
            log.debug("%s: %s", w.category.__name__, w.message)


_PDF_LOCKED = "Das PDF ist passwortgeschützt (verschlüsselt) und kann nicht gelesen werden."


def _load_pdf(data: bytes, stem: str, limits: IngestLimits) -> Document:
    with library_messages_to_debug("pypdf"):
        return _read_pdf(data, stem, limits)


def _read_pdf(data: bytes, stem: str, limits: IngestLimits) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError, WrongPasswordError

    if b"%PDF" not in data[:1024]:
        raise LoadError("Die Datei ist kein PDF (die Kennung %PDF fehlt am Anfang).")
    try:
        reader = PdfReader(BytesIO(data))  # an encrypted file is tried with the empty user password
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (DependencyError, MemoryError, RecursionError):
                raise
            except Exception:
                ok = 0
            if not ok:
                raise LoadError(_PDF_LOCKED)
        if len(reader.pages) > limits.max_pdf_pages:
            raise LoadError(f"Das PDF hat zu viele Seiten ({len(reader.pages)}; höchstens {limits.max_pdf_pages}).")
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            check_text_size(chars, limits)
        title = (reader.metadata.title if reader.metadata else None) or stem
    except LoadError:
        raise
    except DependencyError:
        raise LoadError("Das PDF ist verschlüsselt; zum Entschlüsseln fehlt das Python-Paket „cryptography“ "
                        "(bitte die Installation mit `pip install -e .` wiederholen).") from None
    except (FileNotDecryptedError, WrongPasswordError):
        raise LoadError(_PDF_LOCKED) from None
    except LimitReachedError:
        raise LoadError("Das PDF überschreitet eine Sicherheitsgrenze des PDF-Lesers (zu viele Seiten oder zu große "
                        "Datenströme) – vermutlich absichtlich aufgebläht.") from None
    except (MemoryError, RecursionError):
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


def _out_of_memory(err: Exception) -> bool:
    """libxml2 reports a failed allocation as a syntax error (ERR_NO_MEMORY)."""
    log = str(getattr(err, "error_log", "") or "")
    return "NO_MEMORY" in log or "memory allocation failed" in f"{err} {log}".lower()


def _load_docx(data: bytes, stem: str, limits: IngestLimits) -> Document:
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE compound file
        raise LoadError("Das Word-Dokument ist verschlüsselt (passwortgeschützt) oder im alten .doc-Format; "
                        "bitte ohne Kennwort als .docx speichern.")
    check_zip(data, limits)  # before anything is decompressed
    import docx

    try:
        d = docx.Document(BytesIO(data))
    except (MemoryError, RecursionError):
        raise
    except Exception as err:
        if _out_of_memory(err):  # libxml2 under the worker's memory cap
            raise MemoryError from None
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
    return Document(title or stem, sections)


# --- HTML ---------------------------------------------------------------------------------


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{1,40})""", re.I)


def _decode_html(data: bytes, limits: IngestLimits) -> str:
    """UTF-8 (or a BOM), else the charset the page declares in a <meta> tag."""
    try:
        return decode_text(data, limits)
    except LoadError:
        m = _META_CHARSET.search(data[:4096])
        if not m:
            raise
        try:
            codec = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            raise LoadError(f"Die HTML-Seite nennt eine unbekannte Zeichenkodierung "
                            f"„{m.group(1).decode('ascii', 'replace')}“.") from None
        if codec.startswith("utf-8"):
            raise
        text = data.decode(codec, errors="replace")
        if "\x00" in text:
            raise LoadError("Die Datei enthält Binärdaten und ist keine Textdatei.") from None
        check_text_size(len(text), limits)
        return text


def _load_html(data: bytes, stem: str, limits: IngestLimits) -> Document:
    import trafilatura

    html = _decode_html(data, limits)
    text = trafilatura.extract(
        html, output_format="markdown", include_formatting=True, include_links=False,
        include_images=False, include_comments=False, include_tables=True, favor_recall=True,
    )
    if not text or not text.strip():
        raise LoadError("Die HTML-Seite enthält keinen erkennbaren Haupttext.")
    meta = trafilatura.extract_metadata(html)
    doc = parse_markdown(text, stem, limits, front_matter=False)  # page text never sets metadata
    if meta is not None and meta.title:
        doc.title = meta.title
    return doc


_LOADERS = {
    ".md": _load_markdown, ".markdown": _load_markdown, ".txt": _load_text,
    ".pdf": _load_pdf, ".docx": _load_docx, ".html": _load_html, ".htm": _load_html,
}
