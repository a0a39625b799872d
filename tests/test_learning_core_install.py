"""The learning record (PDF) is built on the core install: reportlab must be a [project] dependency.
Reuses the import blocker of tests/test_core_install.py (every distribution outside the core closure fails)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT
from .test_core_install import SCRIPT

BLOCKER = SCRIPT.split("before = set(sys.modules)")[0]
BODY = r'''
import datetime as dt
from pathlib import Path
result = {}
try:
    from assistant.learning.catalog import load_catalog
    from assistant.learning.quiz import load_quizzes
    from assistant.learning.record import RecordData, RecordUnit, load_legal_note, record_pdf
    corpus = Path("corpus")
    catalog = load_catalog(corpus)
    load_quizzes(corpus, {k: u.sections() for k, u in catalog.units.items()})
    pdf = record_pdf(RecordData("ABCDEF123456", dt.date(2026, 11, 29), "Test", "Betriebsrat", "Lernpfad", 9,
                                [RecordUnit("Grundlagen der KI", dt.date(2026, 11, 29), "4 von 4 richtig", 20)],
                                20, "4 von 4", "Kurs", dt.date(2026, 11, 29), load_legal_note(corpus)))
    result["pdf"] = pdf[:5].decode()
except BaseException as e:
    result["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(result))
'''


def _run(tmp_path: Path, block_also: str = "") -> dict:
    env = {"PATH": "/usr/bin:/bin", "BLOCK_ALSO": block_also, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", BLOCKER + BODY, str(ROOT / "pyproject.toml")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_record_pdf_on_the_core_install(tmp_path):
    assert _run(tmp_path) == {"pdf": "%PDF-"}


def test_the_check_notices_a_missing_pdf_library(tmp_path):
    result = _run(tmp_path, block_also="reportlab")
    assert "reportlab" in result.get("error", ""), result
