"""The ingest run: incremental and idempotent, one report line per file.

Chroma is the only record of what was ingested: every passage carries its source,
the file's content hash and the number of passages the file produced. A file is
unchanged when all its passages carry the current hash and none is missing; that
also repairs a run interrupted half-way (kill -9): the next run re-ingests the file.
Writes go new-first, then old-minus-new, so a failure never loses the old passages.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .limits import IngestLimits, read_capped
from .loaders import SUPPORTED, LoadError, unsupported
from .worker import ParserWorker, parse_and_chunk, unexpected_reason

STATUSES = ("added", "updated", "unchanged", "removed", "failed")
STATUS_DE = {"added": "neu", "updated": "aktualisiert", "unchanged": "unverändert",
             "removed": "entfernt", "failed": "fehlgeschlagen"}
SKIP_NAMES = {"README.md", "readme.md"}


@dataclass
class FileResult:
    source: str
    status: str
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.results)
        return {s: c.get(s, 0) for s in STATUSES}

    @property
    def changed(self) -> bool:
        c = self.counts
        return bool(c["added"] or c["updated"] or c["removed"])

    def summary_de(self) -> str:
        return ", ".join(f"{STATUS_DE[s]}: {n}" for s, n in self.counts.items())


def source_key(path: Path) -> str:
    """Stable name of a file in the index: relative to the working directory when inside it.

    Folders are resolved, the file name is kept: a symbolic link is reported under its own
    name (a link to /dev/zero, or to itself, is named as the link, not as its target).
    """
    try:
        p = path.absolute().parent.resolve() / path.name if path.name else path.resolve()
    except (OSError, RuntimeError):  # a symlink loop among the folders
        p = Path(os.path.abspath(path))
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def discover(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> tuple[list[Path], list[Path]]:
    """Files to ingest and directory roots (whose vanished files are removed from the index).

    Hidden folders and ``exclude`` (the app's own data directory) are never walked into.
    """
    files: list[Path] = []
    roots: list[Path] = []
    skip = {p.resolve() for p in exclude}
    for path in paths:
        if path.is_dir():
            roots.append(path)
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_"))
                                     and (Path(dirpath) / d).resolve() not in skip)
                for name in sorted(filenames):
                    if name.startswith((".", "_", "~")) or name in SKIP_NAMES:
                        continue
                    files.append(Path(dirpath) / name)
        else:
            files.append(path)
    return files, roots


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def printable(name: str) -> str:
    """A file name that can be shown and stored: undecodable bytes become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def ingest(paths: Iterable[Path], index, chunk_size: int = 900, chunk_overlap: int = 150,
           on_file: Callable[[FileResult], None] | None = None,
           progress: Callable[[int, int], None] | None = None, exclude: Iterable[Path] = (),
           limits: IngestLimits | None = None, isolate: bool = True) -> IngestReport:
    """Ingest files and folders into ``index`` (a PassageIndex). Never raises for a bad file.

    Each file is read with the size limits of ``limits`` and, with ``isolate``, parsed in a
    worker process under a time and memory limit (see ``ingestion.worker``).
    """
    limits = limits or IngestLimits()
    with ParserWorker(limits) as worker:
        return _ingest(list(paths), index, chunk_size, chunk_overlap, on_file, progress, exclude, limits,
                       worker if isolate else None)


def _ingest(paths: list[Path], index, chunk_size: int, chunk_overlap: int,
            on_file: Callable[[FileResult], None] | None, progress: Callable[[int, int], None] | None,
            exclude: Iterable[Path], limits: IngestLimits, worker: ParserWorker | None) -> IngestReport:
    report = IngestReport()
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        report.results.append(FileResult(str(p), "failed", reason="Datei oder Ordner nicht gefunden."))
    files, roots = discover((p for p in paths if p.exists()), exclude)
    states = index.file_states()
    seen: set[str] = set()

    def done(result: FileResult) -> None:
        report.results.append(result)
        if on_file:
            on_file(result)

    for n, path in enumerate(files, 1):
        source = printable(str(path))
        try:
            source = source_key(path)
            if printable(source) != source:
                source = printable(source)
                raise LoadError("Der Dateiname ist nicht UTF-8-kodiert; bitte die Datei umbenennen.")
            seen.add(source)
            if path.suffix.lower() not in SUPPORTED:
                raise unsupported(path.suffix.lower())
            data = read_capped(path, limits)  # regular files only, at most max_file_mb
            fh = hashlib.sha256(data).hexdigest()[:32]  # same value as file_hash(path)
            st = states.get(source)
            if st and st["hashes"] == {fh} and st["expected"] == {st["count"]}:
                done(FileResult(source, "unchanged", st["count"]))
                continue
            if not data:
                raise LoadError("Die Datei ist leer.")
            if worker is not None:
                _, chunks = worker.parse(path.name, data, source, fh, chunk_size, chunk_overlap)
            else:
                chunks = parse_and_chunk(path.name, data, source, fh, chunk_size, chunk_overlap, limits)[1]
            del data
            old_ids = set(index.ids_of_source(source)) if st else set()
            index.upsert([c.id for c in chunks], [c.text for c in chunks], [c.index_text for c in chunks],
                         [c.metadata for c in chunks])
            index.delete_ids(sorted(old_ids - {c.id for c in chunks}))
            done(FileResult(source, "updated" if st else "added", len(chunks)))
        except LoadError as err:
            done(FileResult(source, "failed", reason=str(err)))
        except OSError as err:
            done(FileResult(source, "failed", reason=f"Die Datei konnte nicht gelesen werden ({type(err).__name__})."))
        except Exception as err:  # noqa: BLE001 - one bad file never ends the run; no file text in the reason
            done(FileResult(source, "failed", reason=unexpected_reason(err)))
        finally:
            if progress:
                progress(n, len(files))

    # files that vanished from an ingested folder are removed from the index
    root_keys = [source_key(r).rstrip("/") + "/" for r in roots]
    for source in sorted(states):
        if source in seen or not any(source.startswith(rk) for rk in root_keys):
            continue
        if not Path(source).exists():
            removed = index.delete_source(source)
            done(FileResult(source, "removed", removed))
    return report
