"""Resource limits for ingesting untrusted files, and the guarded primitives that enforce them.

Every refusal is a LoadError with a German reason; none quotes the file's content.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import zipfile
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

MB = 1024 * 1024


class LoadError(Exception):
    """A file that cannot be ingested; ``str(err)`` is a German reason for the user."""


@dataclass(frozen=True)
class IngestLimits:
    """Per-file limits. Defaults suit course documents; ``Settings`` carries the configured values."""

    max_file_mb: float = 50.0        # bytes on disk
    max_unpacked_mb: float = 200.0   # sum of uncompressed members of a DOCX (ZIP)
    max_text_mb: float = 3.0         # characters of text a file may yield (~4000 passages, ~6 min to embed)
    file_timeout_s: float = 120.0    # wall time to parse and chunk one file (in the worker process)
    max_memory_mb: float = 2048.0    # address space of the worker process that parses files
    max_front_matter_kb: float = 64.0
    max_zip_ratio: float = 100.0     # compression ratio of one ZIP member (bigger members only)
    max_pdf_pages: int = 5000        # a 1 KB PDF can claim 60 000 pages by reusing one page-tree node
    max_passages: int = 5000         # passages one file may yield (each is embedded, ~700 per minute on 2 cores)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Any) -> IngestLimits:
        """Limits from a Settings object; fields it does not have keep their defaults."""
        names = {"max_file_mb": "ingest_max_file_mb", "max_unpacked_mb": "ingest_max_unpacked_mb",
                 "max_text_mb": "ingest_max_text_mb", "file_timeout_s": "ingest_file_timeout_s",
                 "max_memory_mb": "ingest_max_memory_mb"}
        values = {k: float(getattr(settings, v)) for k, v in names.items() if getattr(settings, v, None) is not None}
        return cls(**values)


def _mb(value: float) -> str:
    return f"{value:g} MB"


# --- reading a file ------------------------------------------------------------------------

_OS_REASONS = {
    errno.ELOOP: "Die Verknüpfung (Symlink) verweist auf sich selbst oder im Kreis.",
    errno.ENOENT: "Die Datei ist nicht (mehr) vorhanden oder eine Verknüpfung ins Leere.",
    errno.EACCES: "Keine Leseberechtigung für die Datei.",
    errno.EPERM: "Keine Leseberechtigung für die Datei.",
    errno.ENAMETOOLONG: "Der Dateiname oder Pfad ist zu lang.",
    errno.EISDIR: "Das ist ein Ordner, keine Datei.",
}


def os_reason(err: OSError) -> str:
    return _OS_REASONS.get(err.errno or 0, f"Die Datei konnte nicht gelesen werden ({type(err).__name__}"
                                           f"{', ' + errno.errorcode.get(err.errno, '') if err.errno else ''}).")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "eine benannte Pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "eine Gerätedatei"
    if stat.S_ISSOCK(mode):
        return "ein Socket"
    if stat.S_ISDIR(mode):
        return "ein Ordner"
    return "keine normale Datei"


def read_capped(path: Path, limits: IngestLimits) -> bytes:
    """The bytes of a regular file, at most ``max_file_mb``; never blocks on pipes or devices.

    The path is checked before opening (FIFOs would block, /dev/zero never ends) and the
    opened descriptor again (the file may have been swapped in between).
    """
    cap = int(limits.max_file_mb * MB)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError(f"Das ist {_kind(st.st_mode)}, keine normale Datei; übersprungen.")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise LoadError(os_reason(err)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError(f"Das ist {_kind(st.st_mode)}, keine normale Datei; übersprungen.")
        if st.st_size > cap:
            raise LoadError(f"Die Datei ist zu groß ({st.st_size / MB:.1f} MB; höchstens {_mb(limits.max_file_mb)}).")
        parts: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, min(1 << 20, cap + 1 - total))
            if not block:
                break
            parts.append(block)
            total += len(block)
            if total > cap:  # the file grew while we read it
                raise LoadError(f"Die Datei ist zu groß (über {_mb(limits.max_file_mb)}).")
        return b"".join(parts)
    except OSError as err:
        raise LoadError(os_reason(err)) from None
    finally:
        os.close(fd)


def check_passages(n: int, limits: IngestLimits) -> None:
    if n > limits.max_passages:
        raise LoadError(f"Die Datei ergibt zu viele Passagen ({n}; höchstens {limits.max_passages}); "
                        "bitte in kleinere Dateien aufteilen.")


def check_text_size(n_chars: int, limits: IngestLimits) -> None:
    if n_chars > limits.max_text_mb * MB:
        raise LoadError(f"Die Datei enthält zu viel Text (über {_mb(limits.max_text_mb)}); "
                        "bitte in kleinere Dateien aufteilen.")


# --- ZIP containers (DOCX) -----------------------------------------------------------------


def check_zip(data: bytes, limits: IngestLimits) -> None:
    """Refuse ZIP bombs from the central directory, before anything is decompressed."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise LoadError("Die Datei ist keine gültige DOCX-Datei (kein Word-Dokument im ZIP-Format).") from None
    if len(infos) > 10_000:
        raise LoadError("Das Word-Dokument enthält ungewöhnlich viele Teile (mehr als 10 000); übersprungen.")
    total = sum(max(i.file_size, 0) for i in infos)
    if total > limits.max_unpacked_mb * MB:
        raise LoadError(f"Das Word-Dokument ist entpackt zu groß ({total / MB:.0f} MB; höchstens "
                        f"{_mb(limits.max_unpacked_mb)}) – vermutlich eine ZIP-Bombe.")
    for i in infos:
        if i.file_size > MB and i.file_size > limits.max_zip_ratio * max(i.compress_size, 1):
            raise LoadError("Das Word-Dokument enthält einen ungewöhnlich stark komprimierten Teil "
                            f"(Verhältnis über {limits.max_zip_ratio:g}:1) – vermutlich eine ZIP-Bombe.")


# --- YAML front matter ---------------------------------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (``*ref``): they make tiny YAML expand exponentially."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            raise LoadError("Der YAML-Kopf (Front Matter) enthält Verweise (Anker/Alias mit & und *); "
                            "diese sind nicht erlaubt.")
        return super().compose_node(parent, index)


def safe_yaml(text: str, limits: IngestLimits) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_front_matter_kb * 1024:
        raise LoadError(f"Der YAML-Kopf (Front Matter) ist zu groß (höchstens {limits.max_front_matter_kb:g} KB).")
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        # the parser's own words only; quoted pieces longer than a character or two may be the file's text
        problem = re.sub(r"'[^']{3,}'", "…", getattr(err, "problem", None) or "ungültige Syntax")
        mark = getattr(err, "problem_mark", None)
        where = f" (Zeile {mark.line + 1})" if mark is not None else ""
        # only the parser's own words: never quote the file
        raise LoadError(f"Der YAML-Kopf (Front Matter) ist fehlerhaft{where}: {problem}.") from None
    except RecursionError:
        raise LoadError("Der YAML-Kopf (Front Matter) ist zu tief verschachtelt.") from None
