"""The norm register (corpus/_normen.yaml) against the shipped course: complete, units lists right,
superseded wordings absent, no unit older than a change of a norm it cites; and the Stand notice."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pathlib import Path

from assistant.answers.answering import find_norms
from assistant.normen import REGISTER_NAME, NormRegister, check, de_date, stand_notice, unit_bodies
from ingestion.pipeline import discover

from .conftest import CORPUS

REGISTER = NormRegister.load(CORPUS / REGISTER_NAME)
UNITS = unit_bodies(CORPUS)


def test_register_schema():
    ids = [e.id for e in REGISTER.entries]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    for e in REGISTER.entries:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", e.id), e.id
        assert e.aussage.strip() and e.quelle.strip() and e.gesetz.strip()
        assert isinstance(e.geprueft, dt.date)
        assert e.ergebnis in {"bestaetigt", "korrigiert", "entfernt"}
        if e.ergebnis == "korrigiert":
            assert e.geaendert is not None, f"{e.id}: a corrected statement records when it changed"
        assert e.einheiten or e.ergebnis == "entfernt", f"{e.id}: registered but cited nowhere"


def test_old_art_4_wording_is_the_first_superseded_entry():
    first = REGISTER.entries[0]
    assert first.norm == "Art. 4 KI-Verordnung" and first.ueberholt
    old = ("Betreiber müssen Maßnahmen ergreifen, um nach besten Kräften sicherzustellen, dass ihr Personal über ein "
           "ausreichendes Maß an KI-Kompetenz verfügt.")
    assert any(u.search(old) for u in first.ueberholt)
    assert not any(u.search("Maßnahmen, die den Aufbau von KI-Kompetenz unterstützen") for u in first.ueberholt)


# Wordings removed from the course on 29.11.2026 (second pass after the review) and correct current wordings.
OLD_ART_4 = [
    "Betreiber müssen Maßnahmen ergreifen, um nach besten Kräften sicherzustellen, dass ihr Personal über ein "
    "ausreichendes Maß an KI-Kompetenz verfügt.",
    "Planen Sie Zeit für eine Grundschulung ein und behalten Sie die Pflicht zur KI-Kompetenz nach Art. 4 der "
    "KI-Verordnung im Blick.",
    "Die Pflicht zur KI-Kompetenz (Art. 4) und die Verbote (Art. 5) gelten seit dem 2. Februar 2025.",
    "Wer Schulungen plant, kann damit auch die Pflicht aus Art. 4 der KI-Verordnung erfüllen, Maßnahmen zur "
    "Förderung der KI-Kompetenz des Personals zu ergreifen.",
]
CURRENT_ART_4 = [
    "Anbieter und Betreiber ergreifen Maßnahmen, die den Aufbau von KI-Kompetenz bei ihrem Personal und bei Personen "
    "in ihrem Auftrag unterstützen. Seit der Änderung ist das eine Pflicht zum Bemühen.",
    "Für alle KI-Systeme gilt die Pflicht zu Kompetenzmaßnahmen.",
    "Die Pflicht, Maßnahmen für den Aufbau von KI-Kompetenz zu ergreifen (Art. 4, seit 2026 als Pflicht zum Bemühen "
    "gefasst), und die Verbote (Art. 5) gelten seit dem 2. Februar 2025.",
    "Wer solche Lernpfade umsetzt, ergreift zugleich eine Maßnahme im Sinne von Art. 4 der KI-Verordnung.",
    "Welche Maßnahmen zur KI-Kompetenz nach Art. 4 haben Sie ergriffen, und wie erfüllen Sie die Pflichten nach "
    "Art. 26?",
    "Schulungen zur KI-Kompetenz planen und dokumentieren.",
]


@pytest.mark.parametrize("text", OLD_ART_4)
def test_superseded_art_4_wordings_are_caught(text):
    assert any(u.search(text) for u in REGISTER.entries[0].ueberholt), text


@pytest.mark.parametrize("text", CURRENT_ART_4)
def test_current_art_4_wordings_are_not_flagged(text):
    hits = [m.group(0) for e in REGISTER.entries for u in e.ueberholt if (m := u.search(text))]
    assert not hits, f"correct wording flagged as superseded: {hits}"


@pytest.mark.parametrize("uid", sorted(UNITS))
def test_every_cited_norm_is_registered(uid):
    body = UNITS[uid][1]
    assert not REGISTER.unknown(body), f"{uid} cites norms missing from {REGISTER_NAME}: {REGISTER.unknown(body)}"


@pytest.mark.parametrize("uid", sorted(UNITS))
def test_no_superseded_wording(uid):
    body = UNITS[uid][1]
    hits = [(e.norm, m.group(0)) for e in REGISTER.entries for u in e.ueberholt if (m := u.search(body))]
    assert not hits, f"{uid}: superseded wording {hits}"


USER_FACING = [p for pattern in ("ui/**/*.html", "ui/**/*.js", "ui/*.py", "prompts/**/*.md", "prompts/*.yaml")
               for p in sorted(Path(__file__).resolve().parent.parent.glob(pattern))]


@pytest.mark.parametrize("path", USER_FACING, ids=lambda p: p.name)
def test_no_superseded_wording_outside_the_course(path):
    """The demo page, the widget, the tutor and the prompts state no superseded law either."""
    text = " ".join(path.read_text(encoding="utf-8").split())
    hits = [(e.norm, m.group(0)) for e in REGISTER.entries for u in e.ueberholt if (m := u.search(text))]
    assert not hits, f"{path.name}: superseded wording {hits}"


def test_register_and_corpus_agree():
    """Units lists equal the units citing each norm; no unit is older than a change of a norm it cites."""
    assert check(REGISTER, CORPUS) == []


def test_check_reports_an_unregistered_norm_and_a_stale_unit(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\nid: a\nstand: 2026-11-01\n---\n# A\n\nNach § 999 BetrVG und Art. 4 KI-Verordnung muss der Betrieb "
        "nach besten Kräften schulen.\n", encoding="utf-8")
    (tmp_path / REGISTER_NAME).write_text(
        "normen:\n- id: kivo-art-4\n  norm: Art. 4 KI-Verordnung\n  gesetz: KI-VO\n  aussage: x\n  quelle: y\n"
        "  geprueft: 2026-11-29\n  ergebnis: korrigiert\n  geaendert: 2026-11-29\n  einheiten: []\n"
        "  ueberholt:\n  - muster: 'nach (?:besten )?Kräften'\n", encoding="utf-8")
    problems = check(NormRegister.load(tmp_path / REGISTER_NAME), tmp_path)
    assert any("§ 999 BetrVG" in p for p in problems)
    assert any("überholte Fassung" in p for p in problems)
    assert any("einheiten" in p for p in problems)
    assert any("Stand älter" in p for p in problems)


def test_the_test_and_the_answerer_share_one_notion_of_a_norm():
    text = "Mitbestimmung nach § 87 Abs. 1 Nr. 6 BetrVG; KI-Kompetenz nach Art. 4 der KI-Verordnung."
    assert find_norms(text) == ["§ 87 Abs. 1 Nr. 6 BetrVG", "Art. 4 KI-Verordnung"]
    assert [e.id for e in REGISTER.cited(text)] == ["betrvg-87-1-6", "kivo-art-4"]


def test_register_file_is_not_ingested():
    files, _ = discover([CORPUS])
    assert CORPUS / REGISTER_NAME not in files
    assert all(p.suffix == ".md" for p in files)


def test_stand_notice_for_an_old_unit_citing_a_changed_norm():
    old = {"n": 2, "stand": "2026-11-21", "text": "Nach Art. 4 KI-Verordnung müssen Betriebe schulen."}
    new = {"n": 1, "stand": "2026-11-29", "text": "Nach Art. 4 KI-Verordnung müssen Betriebe schulen."}
    unrelated = {"n": 3, "stand": "2020-01-01", "text": "Mitbestimmung nach § 91 BetrVG."}
    note = stand_notice([new, old, unrelated], REGISTER)
    assert note and "\n" not in note
    assert "[2] Stand 21.11.2026" in note and "Art. 4 KI-Verordnung" in note and "[1]" not in note
    assert stand_notice([new, unrelated], REGISTER) is None
    assert stand_notice([{"n": 1, "text": "Art. 4 KI-Verordnung"}], REGISTER) is None  # no stand known
    assert stand_notice([old], None) is None
    assert de_date("2026-11-29") == "29.11.2026" and de_date(None) == ""
