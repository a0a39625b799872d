"""Learning content as data: role paths (corpus/_lernpfade.yaml), quiz items (corpus/_quiz/*.yaml),
scoring, the spaced review and the team threshold. No server needed."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta

import pytest
import yaml

from assistant.learning.catalog import CatalogError, anchor, load_catalog
from assistant.learning.quiz import QuizError, QuizItem, load_quizzes, parse_quiz_file, review_schedule
from assistant.learning.team import MIN_GROUP, MemberProgress, summarize
from assistant.roles import Role
from ingestion.normalize import normalize_text

from .conftest import CORPUS
from .test_corpus import DOCS, _sections, _seed_corpus_text

CATALOG = load_catalog(CORPUS)
SECTIONS = {k: u.sections() for k, u in CATALOG.units.items()}
QUIZ_FILES = sorted((CORPUS / "_quiz").glob("*.yaml"))
BODIES = {fm["id"]: body for fm, body in DOCS.values()}


# --- paths ------------------------------------------------------------------------------------

def test_every_role_has_a_path_and_every_unit_exists():
    raw = yaml.safe_load((CORPUS / "_lernpfade.yaml").read_text(encoding="utf-8"))
    ids = {fm["id"]: fm for fm, _ in DOCS.values()}
    assert set(raw["pfade"]) == {r.value for r in Role}
    for role, path in raw["pfade"].items():
        steps = path["einheiten"]
        assert 5 <= len(steps) <= 12, role
        assert len({s["id"] for s in steps}) == len(steps), f"{role}: a unit twice"
        for s in steps:
            assert s["id"] in ids, f"{role}: unit {s['id']} does not exist"
            assert ids[s["id"]]["typ"] in ("lernsequenz", "ueberblick"), s["id"]
            assert isinstance(s["minuten"], int) and 5 <= s["minuten"] <= 60
            assert len(s["warum"].split()) >= 8 and s["warum"].strip()[-1] in ".!?", s["warum"]
    assert CATALOG.paths.keys() == set(Role)


def test_paths_follow_hilfe_lernpfade():
    """Every path starts with "Grundlagen der KI", as hilfe-lernpfade recommends for all four roles, and the
    works-council path walks the Betriebsratsspur."""
    for role in Role:
        assert CATALOG.path(role).steps[0].unit_id == "grundlagen-01-grundlagen-der-ki"
    wc = [s.unit_id for s in CATALOG.path(Role.works_council).steps]
    assert "ueberblick-betriebsrat" in wc and sum(u.startswith("betriebsrat-") for u in wc) >= 6
    from assistant.learning.service import headline

    p = CATALOG.path(Role.works_council)
    assert headline(Role.works_council, len(p.steps), p.minutes) == "Ihr Lernpfad als Betriebsrat: 9 Einheiten, ca. 3 Stunden"


def test_broken_paths_file_is_refused_in_german(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("_quiz"))
    f = corpus / "_lernpfade.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("id: fuehrung-01-strategie", "id: fuehrung-99-gibt-es-nicht"), encoding="utf-8")
    with pytest.raises(CatalogError, match="Einheit „fuehrung-99-gibt-es-nicht“ im Lernpfad owner gibt es nicht"):
        load_catalog(corpus)
    data = yaml.safe_load(text)
    del data["pfade"]["consultant"]
    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="kein Lernpfad für consultant"):
        load_catalog(corpus)


# --- quiz items -------------------------------------------------------------------------------

def test_every_lernsequenz_has_a_quiz():
    units = sorted(fm["id"] for fm, _ in DOCS.values() if fm["typ"] == "lernsequenz")
    assert sorted(f.stem for f in QUIZ_FILES) == units


@pytest.mark.parametrize("path", QUIZ_FILES, ids=lambda p: p.stem)
def test_quiz_file_schema(path):
    items = parse_quiz_file(path, SECTIONS)  # raises QuizError with the reason
    assert 3 <= len(items) <= 5
    sections = _sections(BODIES[path.stem])
    for it in items:
        flat = " ".join(sections[it.abschnitt].split())
        assert " ".join(it.beleg.split()) in flat, f"{it.id}: beleg not in {it.abschnitt!r}"
        assert "Verständnisfragen" not in it.abschnitt, f"{it.id}: point to the content, not to the questions"
        assert len(it.erklaerung.split()) >= 6, it.id
    assert len({it.typ for it in items}) >= 2, f"{path.name}: mix the item types"


def test_quiz_ids_are_unique_over_the_course():
    quizzes = load_quizzes(CORPUS, SECTIONS)
    ids = [it.id for items in quizzes.values() for it in items]
    assert len(ids) == len(set(ids)) and len(ids) >= 3 * len(quizzes)


def test_quiz_copies_nothing_from_the_seeds():
    seeds = _seed_corpus_text()
    copied = []
    for items in load_quizzes(CORPUS, SECTIONS).values():
        for it in items:
            for text in (it.frage, it.erklaerung, *it.optionen):
                words = " ".join(normalize_text(text).split()).lower().split()
                for i in range(len(words) - 11):
                    if " ".join(words[i:i + 12]) in seeds:
                        copied.append(f"{it.id}: {text}")
                        break
    assert not copied, copied[:5]


def test_quiz_links_land_on_a_heading_of_the_unit():
    for unit_id, items in load_quizzes(CORPUS, SECTIONS).items():
        html = CATALOG.units[unit_id].html()
        for it in items:
            assert f'id="{anchor(it.abschnitt)}"' in html, it.id


GOOD = {"einheit": "grundlagen-01-grundlagen-der-ki", "stand": "2026-11-29", "fragen": [
    {"id": "grundlagen-01-grundlagen-der-ki-1", "typ": "einfach", "frage": "F?", "optionen": ["a", "b"],
     "richtig": [0], "erklaerung": "E.", "abschnitt": "Worum geht es?", "beleg": "x"},
    {"id": "grundlagen-01-grundlagen-der-ki-2", "typ": "wahr_falsch", "frage": "F?", "richtig": True,
     "erklaerung": "E.", "abschnitt": "Worum geht es?", "beleg": "x"},
    {"id": "grundlagen-01-grundlagen-der-ki-3", "typ": "mehrfach", "frage": "F?", "optionen": ["a", "b", "c"],
     "richtig": [0, 2], "erklaerung": "E.", "abschnitt": "Worum geht es?", "beleg": "x"}]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(einheit="grundlagen-02-ki-readiness"), "muss dem Dateinamen entsprechen"),
    (lambda d: d["fragen"].pop(), "3 bis 5 Fragen"),
    (lambda d: d["fragen"][0].update(typ="offen"), "„typ“ muss einfach, mehrfach oder wahr_falsch sein"),
    (lambda d: d["fragen"][0].update(richtig=[0, 1]), "genau eine Option richtig"),
    (lambda d: d["fragen"][0].update(richtig=[2]), "gültiger Options-Nummern"),
    (lambda d: d["fragen"][1].update(richtig="ja"), "richtig: true/false"),
    (lambda d: d["fragen"][2].update(richtig=[0, 1, 2]), "nicht jede Option richtig"),
    (lambda d: d["fragen"][0].pop("erklaerung"), "„erklaerung“ fehlt"),
    (lambda d: d["fragen"][0].update(abschnitt="Gibt es nicht"), "Abschnitt „Gibt es nicht“ gibt es in der Einheit nicht"),
    (lambda d: d["fragen"][0].update(quelle="x"), "unbekannte Schlüssel quelle"),
    (lambda d: d["fragen"][1].update(id="andere-einheit-2"), "die ID muss mit der Einheit beginnen"),
])
def test_quiz_schema_errors_are_reported_in_german(tmp_path, change, message):
    import copy
    import datetime as dt

    data = copy.deepcopy(GOOD)
    data["stand"] = dt.date(2026, 11, 29)
    parse_quiz_file(_write(tmp_path, data), SECTIONS)  # the good file passes
    change(data)
    with pytest.raises(QuizError, match=re.escape(message)):
        parse_quiz_file(_write(tmp_path, data), SECTIONS)


def _write(tmp_path, data):
    f = tmp_path / "grundlagen-01-grundlagen-der-ki.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return f


# --- scoring ----------------------------------------------------------------------------------

def _item(typ, optionen=("a", "b", "c"), richtig=(1,)):
    return QuizItem("u-1", "u", typ, "F?", tuple(optionen) if typ != "wahr_falsch" else (), richtig, "E.", "A", "B")


def test_scoring_per_item_type():
    single, multi, tf = _item("einfach"), _item("mehrfach", richtig=(0, 2)), _item("wahr_falsch", richtig=False)
    assert single.check([1]) is True and single.check(1) is True and single.check([0]) is False
    assert single.check([0, 1]) is None and single.check([3]) is None and single.check([]) is None
    assert single.check(True) is None and single.check("1") is None
    assert multi.check([2, 0]) is True and multi.check([0]) is False and multi.check([0, 1, 2]) is False
    assert tf.check(False) is True and tf.check(True) is False and tf.check([1]) is True and tf.check([0]) is False
    assert tf.check([2]) is None and tf.check("falsch") is None
    assert "richtig" not in single.public() and tf.public()["optionen"] == ["Wahr", "Falsch"]


# --- spaced review ----------------------------------------------------------------------------

T0 = datetime(2026, 11, 29, 10, 0)


def test_wrong_answer_comes_back_after_one_and_seven_days():
    s = review_schedule([("q", False, T0)])
    assert s["q"].stage == 0 and s["q"].due_at == T0 + timedelta(days=1)
    s = review_schedule([("q", False, T0), ("q", True, T0 + timedelta(days=1, hours=2))])
    assert s["q"].stage == 1 and s["q"].due_at == T0 + timedelta(days=8, hours=2)
    s = review_schedule([("q", False, T0), ("q", True, T0 + timedelta(days=1)), ("q", True, T0 + timedelta(days=9))])
    assert s == {}


def test_review_rules_early_answers_and_relapses():
    assert review_schedule([("q", True, T0)]) == {}  # never wrong: nothing to repeat
    early = review_schedule([("q", False, T0), ("q", True, T0 + timedelta(hours=3))])
    assert early["q"].stage == 0 and early["q"].due_at == T0 + timedelta(days=1)  # too early: still due
    relapse = review_schedule([("q", False, T0), ("q", True, T0 + timedelta(days=1)),
                               ("q", False, T0 + timedelta(days=8))])
    assert relapse["q"].stage == 0 and relapse["q"].due_at == T0 + timedelta(days=9)
    unordered = review_schedule([("q", True, T0 + timedelta(days=2)), ("q", False, T0)])
    assert unordered["q"].stage == 1


# --- team threshold ---------------------------------------------------------------------------

def _members(role: str, n: int, completed: set[str], opened: set[str] = frozenset()) -> list[MemberProgress]:
    return [MemberProgress(role, frozenset(completed), frozenset(opened)) for _ in range(n)]


def test_team_figures_only_from_five_people():
    first = CATALOG.path(Role.employee).steps[0].unit_id
    assert MIN_GROUP == 5
    four = summarize(CATALOG, _members("employee", 4, {first}))
    assert four["members"] is None
    emp = next(p for p in four["paths"] if p["role"] == "employee")
    assert emp["members"] is None and emp["started"] is None and emp["completed"] is None
    assert all(u["completion_rate"] is None for u in emp["units"])
    five = summarize(CATALOG, _members("employee", 3, {first}) + _members("employee", 2, set()))
    emp = next(p for p in five["paths"] if p["role"] == "employee")
    assert five["members"] == 5 and emp["members"] == 5 and emp["started"] == 3 and emp["completed"] == 0
    assert emp["units"][0]["completion_rate"] == 60 and emp["units"][1]["completion_rate"] == 0


def test_a_small_role_group_inside_a_large_team_shows_no_figure():
    all_owner = {s.unit_id for s in CATALOG.path(Role.owner).steps}
    s = summarize(CATALOG, _members("employee", 6, set()) + _members("owner", 2, all_owner))
    assert s["members"] == 8
    owner = next(p for p in s["paths"] if p["role"] == "owner")
    assert owner["members"] is None and owner["completed"] is None
    assert all(u["completion_rate"] is None for u in owner["units"])
    assert "learner" not in repr(s) and "learner_id" not in repr(s)


# --- CLI --------------------------------------------------------------------------------------

def test_cli_paths():
    import json
    import subprocess
    import sys

    from .conftest import ROOT

    r = subprocess.run([sys.executable, "-m", "assistant", "paths", "--role", "works_council"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Ihr Lernpfad als Betriebsrat: 9 Einheiten, ca. 3 Stunden" in r.stdout
    assert "1. Grundlagen der KI (ca. 20 Min., Quiz:" in r.stdout
    r = subprocess.run([sys.executable, "-m", "assistant", "paths", "--json"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    data = json.loads(r.stdout)
    assert [p["role"] for p in data] == [x.value for x in Role]
    assert sum(len(p["steps"]) for p in data) == sum(len(CATALOG.path(x).steps) for x in Role)
    r = subprocess.run([sys.executable, "-m", "assistant", "paths", "--role", "chef"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "Unbekannte Rolle „chef“" in r.stderr
