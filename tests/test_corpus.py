"""The shipped course: schema, fixed structure, links, completeness against seed 001, no copied sentences."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from ingestion.normalize import normalize_text

from .conftest import CORPUS, SEEDS

TYPES = {"lernsequenz", "umsetzungshilfe", "glossar", "ueberblick"}
BAUSTEINE = {"grundlagen", "fuehrung", "organisation", "sicherheit", "gesundheit", "betriebsrat"}
ROLES = {"owner", "employee", "works_council", "consultant"}
FIXED = ["Warum ist das Thema wichtig?", "Worum geht es?", "Chancen und Gefahren", "Maßnahmen für den Betrieb",
         "Was das für Sie heißt", "Verständnisfragen"]
ROLE_HEADINGS = ["Geschäftsführung", "Beschäftigte", "Betriebsrat", "Beratung"]
LEGAL_NOTE = "> Hinweis: Diese Einheit dient der Orientierung und ist keine Rechtsberatung."


def _files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*.md") if p.name != "README.md")


def _parse(p: Path) -> tuple[dict, str]:
    m = re.match(r"---\n(.*?)\n---\n(.*)", p.read_text(encoding="utf-8"), re.S)
    assert m, f"{p}: no front matter"
    return yaml.safe_load(m.group(1)), m.group(2)


DOCS = {p: _parse(p) for p in _files()}
IDS = {fm["id"] for fm, _ in DOCS.values()}


@pytest.mark.parametrize("path", list(DOCS), ids=lambda p: p.stem)
def test_front_matter_schema(path):
    fm, body = DOCS[path]
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", fm["id"]) and fm["id"] == path.stem
    assert isinstance(fm["titel"], str) and fm["titel"].strip()
    assert fm["typ"] in TYPES and fm["baustein"] in BAUSTEINE
    assert fm["rollen"] and set(fm["rollen"]) <= ROLES
    assert fm["schlagworte"] and all(isinstance(s, str) for s in fm["schlagworte"])
    assert isinstance(fm["stand"], dt.date)
    assert fm["quellen"] and all(re.match(r"00[0-4]\b", str(q)) for q in fm["quellen"])
    for ref in fm.get("verwandt") or []:
        assert ref in IDS, f"{path.name}: verwandt id {ref!r} does not exist"
    assert body.lstrip().startswith(f"# {fm['titel']}\n")
    if fm["typ"] == "lernsequenz":
        assert isinstance(fm["nr"], int)


@pytest.mark.parametrize("path", [p for p, (fm, _) in DOCS.items() if fm["typ"] == "lernsequenz"],
                         ids=lambda p: p.stem)
def test_lernsequenz_structure(path):
    fm, body = DOCS[path]
    h2 = re.findall(r"^## (.+?)\s*$", body, re.M)
    assert [h for h in h2 if h in FIXED] == FIXED, h2
    role_part = body.split("## Was das für Sie heißt", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^### (.+?)\s*$", role_part, re.M) == ROLE_HEADINGS
    quiz = body.split("## Verständnisfragen", 1)[1]
    questions, answers = quiz.count("**Frage:**"), quiz.count("**Antwort:**")
    assert 2 <= questions <= 4 and questions == answers
    words = len(body.split())
    assert 400 <= words <= 900, words
    if re.search(r"§\s*\d|Art\.\s*\d", body):
        assert LEGAL_NOTE in body, "a unit that names a norm carries the orientation note"


def test_counts_per_baustein_and_overviews():
    per = {}
    for fm, _ in DOCS.values():
        if fm["typ"] == "lernsequenz":
            per.setdefault(fm["baustein"], []).append(fm["nr"])
    assert {k: len(v) for k, v in per.items() if k != "betriebsrat"} == {
        "grundlagen": 7, "fuehrung": 11, "organisation": 7, "sicherheit": 7, "gesundheit": 8}
    assert len(per["betriebsrat"]) >= 9
    for nrs in per.values():
        assert sorted(nrs) == list(range(1, len(nrs) + 1))
    overviews = {fm["baustein"] for fm, _ in DOCS.values() if fm["typ"] == "ueberblick"}
    assert overviews == BAUSTEINE
    assert sum(fm["typ"] == "umsetzungshilfe" for fm, _ in DOCS.values()) >= 12
    assert sum(fm["typ"] == "glossar" for fm, _ in DOCS.values()) == 1


def _norm_title(t: str) -> str:
    return re.sub(r"[^a-zäöüß0-9&]+", " ", t.lower()).strip()


def seed_unit_titles() -> list[str]:
    """The 40 Lernsequenz titles as numbered in seed 001, chapters 3.1 to 3.5."""
    text = normalize_text((SEEDS / "001_7720eb871f0326e7.txt").read_text(encoding="utf-8"))
    part = text.split("3.1 Qualifizierungsbaustein", 1)[1].split("3.6 Zielgruppenspezifische", 1)[0]
    return [m.group(2) for m in re.finditer(r"^(\d{1,2})\.\s+([^:\n]+?)\s*:", part, re.M)]


def test_all_40_units_of_seed_001_are_present_by_title():
    titles = seed_unit_titles()
    assert len(titles) == 40, titles
    ours = [_norm_title(fm["titel"]) for fm, _ in DOCS.values() if fm["typ"] == "lernsequenz"]
    for t in titles:
        n = _norm_title(t)
        assert any(o == n or n.startswith(o) or o.startswith(n) for o in ours), f"missing unit: {t}"


def test_works_council_units_name_the_required_norms():
    text = " ".join(b for fm, b in DOCS.values() if fm["baustein"] == "betriebsrat")
    for norm in ["§ 80 Abs. 3", "§ 87 Abs. 1 Nr. 6", "§ 90", "§ 95 Abs. 2a", "§ 111", "Art. 5 Abs. 1 lit. c",
                 "Art. 6", "Art. 13", "Art. 22", "Art. 35", "Art. 88", "§ 26", "C-34/21", "Art. 4", "Art. 26"]:
        assert norm in text, norm
    units = [fm for fm, _ in DOCS.values() if fm["baustein"] == "betriebsrat" and fm["typ"] == "lernsequenz"]
    assert all("works_council" in fm["rollen"] for fm in units)


def _seed_corpus_text() -> str:
    raw = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    return " ".join(normalize_text(raw).split()).lower()


def test_no_sentence_of_12_words_copied_from_the_seeds():
    seeds = _seed_corpus_text()
    copied = []
    for path, (_, body) in DOCS.items():
        flat = " ".join(normalize_text(body).split()).lower()
        for sentence in re.split(r"(?<=[.!?])\s+", flat):
            words = sentence.split()
            for i in range(len(words) - 11):
                run = " ".join(words[i:i + 12])
                if run in seeds:
                    copied.append(f"{path.name}: {run}")
                    break
    assert not copied, copied[:5]


def test_copy_check_would_catch_a_copied_sentence():
    seeds = _seed_corpus_text()
    sentence = ("Kleine und mittlere Unternehmen (KMU) verfügen häufig nicht über ausreichend Ressourcen oder "
                "Kompetenzen, um die Möglichkeiten")
    assert " ".join(sentence.lower().split()[:12]) in seeds


# --- authored questions (front matter `fragen`, corpus/README.md) -------------------------------

def _sections(body: str) -> dict[str, str]:
    """Heading path below the title ("Worum geht es?", "Was das für Sie heißt › Betriebsrat") -> text."""
    out: dict[str, str] = {}
    h2 = h3 = None
    for line in body.splitlines():
        m2, m3 = re.match(r"^## (.+?)\s*$", line), re.match(r"^### (.+?)\s*$", line)
        if m2:
            h2, h3 = m2.group(1), None
            out.setdefault(h2, "")
        elif m3 and h2:
            h3 = m3.group(1)
            out.setdefault(f"{h2} › {h3}", "")
        elif h2:
            out[h2] += line + "\n"
            if h3:
                out[f"{h2} › {h3}"] += line + "\n"
    return out


ASKED = [p for p, (fm, _) in DOCS.items() if fm["typ"] in ("lernsequenz", "umsetzungshilfe")]


@pytest.mark.parametrize("path", ASKED, ids=lambda p: p.stem)
def test_authored_questions(path):
    fm, body = DOCS[path]
    questions = fm.get("fragen")
    assert isinstance(questions, list) and 4 <= len(questions) <= 8, f"{path.name}: 4-8 fragen"
    sections = _sections(body)
    roles_seen: set[str] = set()
    for q in questions:
        assert set(q) <= {"frage", "rollen", "abschnitt", "beleg"}, q
        assert isinstance(q["frage"], str) and 3 <= len(q["frage"].split()) <= 25, q
        assert q["rollen"] and set(q["rollen"]) <= ROLES, q
        roles_seen |= set(q["rollen"])
        assert q["abschnitt"] in sections, f"{path.name}: no section {q['abschnitt']!r}"
        flat = " ".join(sections[q["abschnitt"]].split())
        assert " ".join(q["beleg"].split()) in flat, f"{path.name}: beleg not in {q['abschnitt']!r}: {q['beleg']!r}"
        assert "Verständnisfragen" not in q["abschnitt"], "point to the content, not to the quiz"
    assert len({q["frage"] for q in questions}) == len(questions)
    assert roles_seen & set(fm["rollen"]), f"{path.name}: no question for the unit's own roles"


def test_authored_questions_copy_nothing_from_the_seeds():
    seeds = _seed_corpus_text()
    copied = [q["frage"] for fm, _ in DOCS.values() for q in fm.get("fragen") or []
              if len(q["frage"].split()) >= 12 and " ".join(q["frage"].lower().split()[:12]) in seeds]
    assert not copied, copied
