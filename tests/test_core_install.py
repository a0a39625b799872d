"""The ingest path runs on the core install (`make run`: `pip install -e .`), without any extra.

`make test` installs the extras, so a module that only an extra brings (lxml_html_clean came
with the test extras once, and every HTML file failed for users) would stay unnoticed. Here a
subprocess blocks every installed distribution outside the requirement closure of the core
dependencies declared in pyproject.toml, as if it were not installed, and loads one file of
each format through ingestion.loaders (and the worker's parse-and-chunk step).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT
from .fixtures import HTML, MARKDOWN, make_docx, make_pdf

SCRIPT = r'''
import importlib.abc, importlib.metadata as md, json, os, re, sys, tomllib
from packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def closure(reqs):
    """Distributions needed by ``reqs`` (strings), following extras and environment markers."""
    seen, todo = set(), [(Requirement(r), "") for r in reqs]
    done_extras = set()
    while todo:
        req, _ = todo.pop()
        name = norm(req.name)
        extras = {norm(e) for e in req.extras}
        key = (name, frozenset(extras))
        if key in done_extras:
            continue
        done_extras.add(key)
        try:
            sub = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue  # declared but not installed for this platform/marker
        seen.add(name)
        for line in sub:
            r = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if r.marker is None or any(r.marker.evaluate(env) for env in envs):
                todo.append((r, name))
    return seen

project = tomllib.loads(open(sys.argv[1], "rb").read().decode())["project"]
allowed = closure(project["dependencies"]) | {norm(project["name"])}
allowed -= {norm(x) for x in os.environ.get("BLOCK_ALSO", "").split(",") if x}
owners = {mod: {norm(d) for d in dists} for mod, dists in md.packages_distributions().items()}
blocked_tried = set()

class OnlyCore(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = owners.get(top)
        if dists and not dists & allowed:
            blocked_tried.add(top)
            raise ModuleNotFoundError(f"No module named {name!r} (not in the core install)", name=name)
        return None

sys.meta_path.insert(0, OnlyCore())
before = set(sys.modules)
from pathlib import Path
from ingestion.loaders import load
from ingestion.worker import parse_and_chunk
result = {"loaded": {}, "errors": {}}
for p in sys.argv[2:]:
    p = Path(p)
    try:
        doc = load(p)
        parse_and_chunk(p.name, p.read_bytes(), p.name, "h", 900, 150, __import__("ingestion.limits").limits.IngestLimits())
        result["loaded"][p.suffix] = len(doc.sections)
    except BaseException as e:
        result["errors"][p.suffix] = f"{type(e).__name__}: {e}"
imported = {m.partition(".")[0] for m in set(sys.modules) - before}
result["imported_dists"] = sorted({d for m in imported for d in owners.get(m, ())})
result["outside_core"] = sorted({d for m in imported for d in owners.get(m, ()) if owners[m] and not owners[m] & allowed})
result["blocked_tried"] = sorted(blocked_tried)
result["allowed"] = sorted(allowed)
print(json.dumps(result))
'''


def _files(tmp_path: Path) -> list[Path]:
    (tmp_path / "a.md").write_text(MARKDOWN, encoding="utf-8")
    (tmp_path / "b.txt").write_text("KI im Betrieb.\n\nEin zweiter Absatz über Datenschutz.\n", encoding="utf-8")
    (tmp_path / "c.html").write_text(HTML, encoding="utf-8")
    make_pdf(tmp_path / "d.pdf", ["Die Schulung zu KI-Werkzeugen dauert zwei Stunden."])
    make_docx(tmp_path / "e.docx")
    return sorted(tmp_path.iterdir())


def _run(tmp_path: Path, block_also: str = "") -> dict:
    files = _files(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "BLOCK_ALSO": block_also, "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "pyproject.toml"), *map(str, files)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_format_loads_on_the_core_install(tmp_path):
    result = _run(tmp_path)
    assert result["errors"] == {}, result
    assert set(result["loaded"]) == {".md", ".txt", ".html", ".pdf", ".docx"}
    assert result["outside_core"] == [], result
    # the HTML path does import the cleaner that once came only with the test extras
    assert "lxml-html-clean" in result["imported_dists"] and "lxml-html-clean" in result["allowed"]
    assert "cryptography" in result["allowed"]  # AES-encrypted PDFs need it (issue #15, item 5)


def test_the_check_catches_a_module_missing_from_the_core_dependencies(tmp_path):
    """As on the fresh install of issue #15: without lxml_html_clean every HTML file failed."""
    result = _run(tmp_path, block_also="lxml_html_clean")
    assert ".html" in result["errors"] and "lxml" in result["errors"][".html"], result
    assert set(result["loaded"]) == {".md", ".txt", ".pdf", ".docx"}
