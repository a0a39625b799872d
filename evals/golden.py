"""The golden sets and what they refer to: loading, the shipped corpus units, question styles.

- evals/corpus_questions.yaml: questions over corpus/ with unit-level gold, key facts and a role;
  plus questions the course cannot answer (must be declined).
- evals/seed_questions.yaml: questions over ../shared/seeds ingested as foreign documents, with the source
  file and evidence strings that the answering passage must contain.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVALS = ROOT / "evals"
CORPUS = ROOT / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"
ROLES = ("owner", "employee", "works_council", "consultant")

# The decline thresholds in assistant/answers/answering.py were fitted by evals/calibrate.py on commit bdaf4ba, whose
# calibration split was every other question of that file: the odd-numbered ids o/e/w/c001..029 and u001..037.
# Everything else (even-numbered ids, and all ids added later: o/e/w/c031+, u039+) was never seen by the fit.
CALIBRATION_MAX = {"o": 30, "e": 30, "w": 30, "c": 30, "u": 38}


def load_yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((EVALS / name).read_text(encoding="utf-8"))


def corpus_set() -> dict[str, Any]:
    return load_yaml("corpus_questions.yaml")


def seed_set() -> list[dict[str, Any]]:
    return load_yaml("seed_questions.yaml")["questions"]


@lru_cache(maxsize=1)
def corpus_units() -> dict[str, str]:
    """unit id -> body (Markdown without front matter) for every course file."""
    units: dict[str, str] = {}
    for p in sorted(CORPUS.rglob("*.md")):
        if p.name.lower() == "readme.md":
            continue
        m = re.match(r"---\n(.*?)\n---\n(.*)", p.read_text(encoding="utf-8"), re.S)
        if not m:
            continue
        fm = yaml.safe_load(m.group(1))
        units[str(fm["id"])] = m.group(2)
    return units


def seen_by_calibration(qid: str) -> bool:
    m = re.fullmatch(r"([oewcu])(\d+)", qid)
    if not m:
        return False
    n = int(m.group(2))
    return n % 2 == 1 and n <= CALIBRATION_MAX[m.group(1)]


_DU = re.compile(r"\b(du|dir|dich|dein\w*|kannst|hast|weißt|meinst|würdest|hilf|sag|erklär|erzähl|schreib|gib|tu)\b",
                 re.I)


def styles(q: dict[str, Any]) -> list[str]:
    """How a question is worded: typo (flagged in the YAML), du (informal address), short (<= 5 words),
    situational (>= 20 words, a described situation). A question can have several styles or none."""
    text = q["question"]
    n = len(text.split())
    out = []
    if q.get("typo"):
        out.append("typo")
    if _DU.search(text):
        out.append("du")
    if n <= 5:
        out.append("short")
    if n >= 20:
        out.append("situational")
    return out
