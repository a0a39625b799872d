"""Incremental, idempotent ingest with bad files and an interrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from assistant.service import ChatService
from assistant.settings import Settings

from .conftest import CORPUS
from .fixtures import HTML, make_docx, make_pdf


def _service(tmp_path, embedder):
    return ChatService.build(Settings(data_dir=tmp_path / "data"), embedder=embedder)


def _docs(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    shutil.copy(CORPUS / "betriebsrat" / "betriebsrat-06-umgang-mit-daten.md", d)
    shutil.copy(CORPUS / "glossar" / "glossar.md", d)
    make_pdf(d / "leitfaden.pdf", ["Die Schulung zu KI-Werkzeugen dauert zwei Stunden.", "Seite zwei."])
    make_docx(d / "leitfaden.docx")
    (d / "ratgeber.html").write_text(HTML, encoding="utf-8")
    return d


def test_incremental_reingest(tmp_path, embedder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = _docs(tmp_path)
    svc = _service(tmp_path, embedder)
    first = svc.ingest([d])
    assert first.counts == {"added": 5, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}
    total = svc.index.count()
    ids = set(svc.index.passages.get(include=[])["ids"])

    again = svc.ingest([d])
    assert again.counts["unchanged"] == 5 and not again.changed
    assert set(svc.index.passages.get(include=[])["ids"]) == ids

    (d / "glossar.md").write_text((d / "glossar.md").read_text() + "\n## Zusatzbegriff\n\nEin neuer Begriff im Glossar.\n")
    (d / "leitfaden.docx").unlink()
    third = svc.ingest([d])
    assert third.counts["updated"] == 1 and third.counts["removed"] == 1 and third.counts["unchanged"] == 3
    sources = set(svc.index.file_states())
    assert "docs/leitfaden.docx" not in sources and "docs/glossar.md" in sources
    assert any("Zusatzbegriff" in h.metadata.get("heading_path", "") for h in svc.search("Zusatzbegriff Glossar", k=3))
    # the lexical index follows every add and delete
    assert svc.retriever.lexical().fingerprint == svc.index.fingerprint()
    assert svc.index.count() != total


def test_bad_file_is_reported_and_loses_nothing(tmp_path, embedder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = _docs(tmp_path)
    svc = _service(tmp_path, embedder)
    svc.ingest([d])
    before = set(svc.index.passages.get(include=[])["ids"])
    (d / "leitfaden.pdf").write_bytes(b"%PDF-1.4 kaputt \x00\x01\x02")  # a once-good file is now corrupt
    (d / "leer.txt").write_bytes(b"")
    (d / "notizen.odt").write_bytes(b"PK\x03\x04")
    report = svc.ingest([d])
    failed = {r.source: r.reason for r in report.results if r.status == "failed"}
    assert set(failed) == {"docs/leitfaden.pdf", "docs/leer.txt", "docs/notizen.odt"}
    assert "PDF" in failed["docs/leitfaden.pdf"] and "leer" in failed["docs/leer.txt"]
    assert set(svc.index.passages.get(include=[])["ids"]) == before  # old passages of the PDF kept


def test_missing_path_is_reported(tmp_path, embedder):
    report = _service(tmp_path, embedder).ingest([tmp_path / "gibt-es-nicht"])
    assert report.counts["failed"] == 1 and "nicht gefunden" in report.results[0].reason


def test_interrupted_ingest_is_repaired_by_next_run(tmp_path, monkeypatch):
    """kill -9 in the middle of a real CLI ingest; the next run ends with the same index as a clean run."""
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    for part in ("betriebsrat", "fuehrung"):  # 23 units: enough to kill mid-run, a third of the embedding time
        shutil.copytree(CORPUS / part, docs / part)
    env = {**os.environ, "LB_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "assistant", "ingest", "docs"]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = 0
    deadline = time.monotonic() + 120
    for line in proc.stdout:  # wait until some files are in, then kill hard mid-run
        if " neu " in f" {line}":
            seen += 1
        if seen >= 8 or time.monotonic() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen >= 8

    repaired = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
    assert repaired.returncode == 0, repaired.stderr
    clean_env = {**env, "LB_DATA_DIR": str(tmp_path / "clean")}
    clean = subprocess.run(cli, env=clean_env, capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr

    def ids(data):
        svc = ChatService.build(Settings(data_dir=tmp_path / data))
        return set(svc.index.passages.get(include=[])["ids"])

    assert ids("data") == ids("clean")
