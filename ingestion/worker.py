"""Parse and chunk files in a separate process, with a wall-time limit and a memory limit.

A file crafted to exhaust a parser (a PDF page-tree bomb, megabytes of XML, pathological
HTML) must neither hang the ingest run nor take the machine's memory with it. The ingest
run therefore sends each file's bytes to one long-lived worker process
(``python -m ingestion.worker``), which parses and chunks it and answers with the chunks
as JSON. The worker's address space is capped (RLIMIT_AS); when a file takes longer than
the time limit the worker is killed and a fresh one started for the next file.

Protocol (pipes): worker writes ``ready``; then per file the parent writes one JSON header
line and ``size`` raw bytes, the worker answers one JSON line (ASCII, so no raw newlines).
Nothing of a file's content is ever written to a log; the worker's stderr is discarded.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .limits import MB, IngestLimits, LoadError, check_passages

READY = b"ready\n"
STARTUP_TIMEOUT_S = 120.0  # importing the parsers on a busy machine; not charged to any file


def memory_reason(limits: IngestLimits) -> str:
    return (f"Beim Lesen der Datei wurde die Speichergrenze ({limits.max_memory_mb:g} MB) erreicht; "
            "die Datei ist zu groß oder absichtlich aufgebläht.")


def unexpected_reason(err: BaseException) -> str:
    if isinstance(err, RecursionError):
        return "Die Datei ist zu tief verschachtelt und kann nicht gelesen werden."
    return f"Unerwarteter Fehler beim Lesen ({type(err).__name__})."


def parse_and_chunk(name: str, data: bytes, source: str, file_hash: str, chunk_size: int, chunk_overlap: int,
                    limits: IngestLimits) -> tuple[str, list[Any]]:
    """Load and chunk in the current process (the worker calls this)."""
    from .chunking import chunk_document
    from .loaders import load_bytes

    doc = load_bytes(name, data, limits)
    check_passages(len(doc.sections), limits)  # cheap bound before chunking
    chunks = chunk_document(doc, source, file_hash, chunk_size, chunk_overlap)
    check_passages(len(chunks), limits)
    return doc.title, chunks


# --- the worker process --------------------------------------------------------------------


def _serve(limits: IngestLimits) -> None:
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    stdin = sys.stdin.buffer
    # import the parsers before the memory cap, then allow their footprint plus the limit's headroom
    import docx  # noqa: F401
    import pypdf  # noqa: F401
    import trafilatura  # noqa: F401

    from . import chunking, loaders  # noqa: F401

    _cap_memory(limits)
    proto_out.write(READY)
    proto_out.flush()
    while True:
        header = stdin.readline()
        if not header:
            return
        req = json.loads(header)
        data = stdin.read(req["size"])
        fatal = False
        try:
            title, chunks = parse_and_chunk(req["name"], data, req["source"], req["file_hash"], req["chunk_size"],
                                            req["chunk_overlap"], limits)
            reply: dict[str, Any] = {"ok": True, "title": title,
                                     "chunks": [[c.id, c.text, c.metadata] for c in chunks]}
        except LoadError as err:
            reply = {"ok": False, "reason": str(err)}
        except MemoryError:
            reply, fatal = {"ok": False, "reason": memory_reason(limits)}, True
        except Exception as err:  # noqa: BLE001 - any parser failure is this file's failure, no more
            reply = {"ok": False, "reason": unexpected_reason(err)}
        del data
        try:
            line = json.dumps(reply, ensure_ascii=True, default=str).encode("ascii") + b"\n"
        except MemoryError:
            line, fatal = json.dumps({"ok": False, "reason": memory_reason(limits)}).encode() + b"\n", True
        proto_out.write(line)
        proto_out.flush()
        if fatal:  # the heap may be in a poor state: let the parent start a fresh worker
            return


def _cap_memory(limits: IngestLimits) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: the time limit still holds
        return
    try:
        with open("/proc/self/statm") as fh:
            vsz = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        vsz = 0
    cap = max(int(limits.max_memory_mb * MB), vsz + 256 * MB)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        pass


# --- the parent's side ---------------------------------------------------------------------


class ParserWorker:
    """The parent's handle on the worker process; restarts it after a timeout or crash."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.proc: subprocess.Popen[bytes] | None = None
        self._buf = b""

    def __enter__(self) -> ParserWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion.worker", json.dumps(self.limits.as_dict())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True,
        )
        self.proc, self._buf = proc, b""
        try:
            line = self._read_line(time.monotonic() + STARTUP_TIMEOUT_S)
        except TimeoutError:
            self._kill()
            raise LoadError("Der Leseprozess für Dateien ließ sich nicht starten (Zeitüberschreitung).") from None
        if line is None or line + b"\n" != READY:
            self._kill()
            raise LoadError("Der Leseprozess für Dateien ließ sich nicht starten.")
        return proc

    def _read_line(self, deadline: float) -> bytes | None:
        """One line from the worker; None on EOF; TimeoutError after ``deadline``."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        parts = [self._buf]
        while b"\n" not in parts[-1]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            block = os.read(fd, 1 << 20)
            if not block:
                return None
            parts.append(block)
        data = b"".join(parts)
        line, _, self._buf = data.partition(b"\n")
        return line

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def parse(self, name: str, data: bytes, source: str, file_hash: str, chunk_size: int,
              chunk_overlap: int) -> tuple[str, list[Any]]:
        """(title, chunks) of one file, or LoadError with a German reason (timeout, memory, crash)."""
        from .chunking import Chunk

        if self.proc is None or self.proc.poll() is not None:
            self._kill()
            self._start()
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        header = {"name": name, "source": source, "file_hash": file_hash, "chunk_size": chunk_size,
                  "chunk_overlap": chunk_overlap, "size": len(data)}
        deadline = time.monotonic() + self.limits.file_timeout_s
        try:
            proc.stdin.write(json.dumps(header).encode() + b"\n")
            proc.stdin.write(data)
            proc.stdin.flush()
            line = self._read_line(deadline)
        except TimeoutError:
            self._kill()
            raise LoadError(f"Das Lesen der Datei dauerte zu lange (über {self.limits.file_timeout_s:g} s) "
                            "und wurde abgebrochen.") from None
        except (BrokenPipeError, OSError):
            line = None
        if line is None:  # the worker died: killed by the kernel (memory) or crashed in a parser
            code = proc.wait()
            self._kill()
            if code in (-9, 137):
                raise LoadError(memory_reason(self.limits))
            raise LoadError(f"Der Leseprozess ist beim Lesen der Datei abgestürzt (Code {code}).")
        reply = json.loads(line)
        if not reply.get("ok"):
            if proc.poll() is not None or reply.get("reason") == memory_reason(self.limits):
                self._kill()
            raise LoadError(str(reply.get("reason") or "Unbekannter Fehler beim Lesen."))
        return str(reply["title"]), [Chunk(cid, text, meta) for cid, text, meta in reply["chunks"]]


def main() -> None:
    limits = IngestLimits(**json.loads(sys.argv[1])) if len(sys.argv) > 1 else IngestLimits()
    try:
        _serve(limits)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
