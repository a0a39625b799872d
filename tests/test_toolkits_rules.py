"""The norm rules of the toolkits (assistant/toolkits/regeln.yaml): data checked against the course and the
norm register, then case by case (which rules apply to a realistic case, and which must not)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from assistant.normen import NormRegister
from assistant.toolkits.course import Course, flat
from assistant.toolkits.rules import BEREICHE, Condition, Facts, RuleSet

from .conftest import CORPUS


@pytest.fixture(scope="module")
def course() -> Course:
    return Course.load(CORPUS)


@pytest.fixture(scope="module")
def register() -> NormRegister:
    return NormRegister.load(CORPUS / "_normen.yaml")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


# --- the data ----------------------------------------------------------------------------------------------


def test_every_rule_quotes_its_unit_verbatim_and_names_a_registered_norm_that_unit_cites(rules, course, register):
    by_id = {e.id: e for e in register.entries}
    assert len(rules.rules) >= 20
    for r in rules.rules:
        entry = by_id.get(r.norm)
        assert entry is not None, f"{r.id}: {r.norm} is not in corpus/_normen.yaml"
        assert entry.ergebnis != "entfernt", r.id
        assert r.quelle in entry.einheiten, f"{r.id}: {r.quelle} does not cite {entry.norm}"
        assert course.unit(r.quelle).contains(r.beleg), f"{r.id}: beleg not found verbatim in {r.quelle}"
        for z in r.zusatz:
            assert course.unit(z.quelle).contains(z.beleg), f"{r.id}: zusatz not found verbatim in {z.quelle}"
        assert r.stand >= register.entries[0].geprueft or r.stand == dt.date(2026, 11, 29), r.id
        assert r.bereich in BEREICHE


def test_questions_checklist_sections_and_aids_exist_in_the_course(rules, course):
    catalogue = course.unit("hilfe-fragen-an-den-arbeitgeber").numbered()
    assert sorted(catalogue) == list(range(1, 30))
    checklist = {p[0] for p in course.unit("hilfe-checkliste-betriebsvereinbarung").sections if len(p) == 1}
    for r in rules.rules:
        assert set(r.fragen) <= set(catalogue), r.id
        assert set(r.bv) <= checklist, r.id
        for h in r.hilfen:
            assert course.unit(h).typ == "umsetzungshilfe", (r.id, h)
    for t in rules.themen:
        assert course.unit(t.einheit).section("Was das für Sie heißt", "Beratung"), t.einheit
        assert all(course.unit(h).typ == "umsetzungshilfe" for h in t.hilfen)
    for t in rules.pruefthemen:
        questions = [q for q in course.unit(t.einheit).items("Maßnahmen für den Betrieb") if q.endswith("?")]
        assert len(questions) >= 3, t.einheit
    table = course.unit("hilfe-erstberatung-kmu").section("Typische Einwände und mögliche Antworten")
    for o in rules.einwaende:
        assert o.einwand in table


def test_rules_and_register_agree_on_the_stand(rules, register):
    assert rules.stand == dt.date(2026, 11, 29)
    assert max(e.geprueft for e in register.entries) <= rules.stand


def test_a_condition_on_an_unknown_fact_is_refused(rules, tmp_path):
    bad = tmp_path / "regeln.yaml"
    bad.write_text("stand: 2026-11-29\nmerkmale: {betriebsrat: x}\nregeln:\n- {id: a, norm: kivo-art-4, bereich: "
                   "ki-verordnung, fuer: [check], wenn: {alle: [daten:fantasie]}, quelle: q, beleg: b, "
                   "stand: 2026-11-29}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fantasie"):
        RuleSet.load(bad)
    with pytest.raises(ValueError):
        Facts(einsatz=frozenset({"wahrsagen"}))
    with pytest.raises(ValueError):
        Condition.parse({"irgendwie": ["x"]})


# --- case by case ------------------------------------------------------------------------------------------

F = Facts
CASES = [
    # (name, tool, facts, must apply, must not apply)
    ("Zeiterfassungs-App mit Betriebsrat", "check",
     F(betriebsrat=True, beschaeftigte=40, einsatz=frozenset({"zeiterfassung"}),
       daten=frozenset({"beschaeftigte", "standort"}), cloud=True),
     {"technische-ueberwachung", "unterrichtung-planung", "dsfa", "datenschutz-grundsaetze", "rechtsgrundlage",
      "sachverstaendige", "auftragsverarbeitung", "einigungsstelle", "beschaeftigtendatenschutz-kollektiv",
      "unterrichtung-unterlagen"},
     {"hochrisiko-personal", "automatisierte-entscheidung", "verbot-emotionserkennung", "betriebsaenderung"}),
    ("Chatbot für Kundenmails ohne Betriebsrat", "briefing",
     F(betriebsrat=False, beschaeftigte=12, einsatz=frozenset({"kundenkontakt"}), daten=frozenset({"kunden"}),
       cloud=True),
     {"ki-kompetenz", "datenschutz-grundsaetze", "rechtsgrundlage", "auftragsverarbeitung"},
     {"unterrichtung-planung", "technische-ueberwachung", "dsfa", "hochrisiko-personal", "betreiberpflichten"}),
    ("KI-Bewerberranking mit Betriebsrat", "check",
     F(betriebsrat=True, beschaeftigte=60, einsatz=frozenset({"personalauswahl"}), entscheidet=True),
     {"hochrisiko-personal", "betreiberpflichten", "information-arbeitnehmervertretung", "auswahlrichtlinien",
      "automatisierte-entscheidung", "dsfa", "rechtsgrundlage"},
     {"betriebsaenderung", "verbot-emotionserkennung", "gefaehrdungsbeurteilung", "technische-ueberwachung"}),
    ("Cobot mit Sensoren, neue Arbeitsmethoden", "check",
     F(betriebsrat=True, beschaeftigte=45, einsatz=frozenset({"maschinen"}), daten=frozenset({"leistung"}),
       arbeit_aendert=True),
     {"gefaehrdungsbeurteilung", "arbeitsschutz-grundpflichten", "gesundheitsschutz-mitbestimmung",
      "technische-ueberwachung", "betriebsaenderung", "qualifizierung", "dsfa"},
     {"hochrisiko-personal", "automatisierte-entscheidung", "auswahlrichtlinien"}),
    ("Textassistent im Büro ohne personenbezogene Daten", "briefing",
     F(betriebsrat=False, beschaeftigte=8, einsatz=frozenset({"texte"})),
     {"ki-kompetenz"},
     {"datenschutz-grundsaetze", "rechtsgrundlage", "dsfa", "unterrichtung-planung", "auftragsverarbeitung"}),
    ("Stimmungskamera am Empfang", "check",
     F(betriebsrat=True, beschaeftigte=120, einsatz=frozenset({"emotionserkennung"})),
     {"verbot-emotionserkennung", "technische-ueberwachung", "dsfa"},
     {"hochrisiko-personal", "auswahlrichtlinien"}),
    ("Tourenzuteilung nach Arbeitstempo ohne Betriebsrat", "check",
     F(betriebsrat=False, beschaeftigte=120, einsatz=frozenset({"personaleinsatz"}), daten=frozenset({"standort"})),
     {"hochrisiko-personal", "betreiberpflichten", "dsfa", "rechtsgrundlage"},
     {"unterrichtung-planung", "technische-ueberwachung", "sachverstaendige", "betriebsvereinbarung",
      "beschaeftigtendatenschutz-kollektiv", "unterrichtung-unterlagen"}),
    ("Gesundheits-App mit Betriebsrat", "check",
     F(betriebsrat=True, beschaeftigte=30, einsatz=frozenset({"gesundheit"}), daten=frozenset({"gesundheit"})),
     {"gesundheitsdaten", "dsfa", "technische-ueberwachung"},
     {"hochrisiko-personal"}),
    ("Neue Arbeitsmethoden, 15 Beschäftigte: keine Betriebsänderung nach § 111", "check",
     F(betriebsrat=True, beschaeftigte=15, einsatz=frozenset({"texte"}), arbeit_aendert=True),
     {"qualifizierung", "gefaehrdungsbeurteilung"},
     {"betriebsaenderung"}),
    ("Neue Arbeitsmethoden, 21 Beschäftigte: § 111", "check",
     F(betriebsrat=True, beschaeftigte=21, einsatz=frozenset({"texte"}), arbeit_aendert=True),
     {"betriebsaenderung"}, set()),
    ("Cloud-Dienst ohne personenbezogene Daten", "briefing",
     F(betriebsrat=False, einsatz=frozenset({"texte"}), cloud=True),
     {"ki-kompetenz"}, {"auftragsverarbeitung"}),
    ("Leistungsbewertung im Callcenter mit Betriebsrat", "check",
     F(betriebsrat=True, beschaeftigte=80, einsatz=frozenset({"leistungsbewertung"})),
     {"hochrisiko-personal", "information-arbeitnehmervertretung", "technische-ueberwachung", "einigungsstelle",
      "ueberwachung-gesetze", "dsfa"},
     {"auswahlrichtlinien", "gesundheitsdaten"}),
    ("Briefing nutzt keine Regeln, die nur der Prüfung dienen", "briefing",
     F(betriebsrat=True, beschaeftigte=80, einsatz=frozenset({"leistungsbewertung"})),
     {"hochrisiko-personal", "technische-ueberwachung", "unterrichtung-planung"},
     {"information-arbeitnehmervertretung", "sachverstaendige", "einigungsstelle", "betriebsvereinbarung",
      "unterrichtung-unterlagen"}),
    ("Übersetzungs-KI im Büro mit Betriebsrat, ohne personenbezogene Daten", "check",
     F(betriebsrat=True, beschaeftigte=25, einsatz=frozenset({"texte"})),
     {"unterrichtung-unterlagen", "unterrichtung-planung", "sachverstaendige"},
     {"ueberwachung-gesetze", "technische-ueberwachung", "dsfa", "hochrisiko-personal"}),
]


@pytest.mark.parametrize("name, tool, facts, present, absent", CASES, ids=[c[0] for c in CASES])
def test_case(rules, register, name, tool, facts, present, absent):
    found = {f.rule.id for f in rules.apply(facts, tool, register)}
    assert present <= found, f"missing: {present - found}"
    assert not (absent & found), f"must not apply: {absent & found}"
    assert "ki-kompetenz" in found  # Art. 4 applies to every business that uses AI


def test_the_check_cites_the_information_right_whenever_there_is_a_works_council(rules, register):
    """§ 80 Abs. 2 BetrVG (timely, comprehensive information and the documents needed) in every check of a
    business with a works council, and only there."""
    for _name, _tool, facts, _present, _absent in CASES:
        for with_council in (True, False):
            f = dataclasses.replace(facts, betriebsrat=with_council)
            found = {x.rule.id: x for x in rules.apply(f, "check", register)}
            assert ("unterrichtung-unterlagen" in found) is with_council, (_name, with_council)
            if with_council:
                hit = found["unterrichtung-unterlagen"]
                assert hit.entry.norm == "§ 80 Abs. 2 BetrVG"
                assert "erforderlichen Unterlagen zur Verfügung stellen" in flat(hit.rule.beleg)
                assert hit.anlass == [rules.merkmale["betriebsrat"]]


def test_the_reason_names_the_facts_that_made_a_rule_apply(rules, register):
    facts = F(betriebsrat=True, einsatz=frozenset({"personalauswahl"}), beschaeftigte=60)
    by_id = {f.rule.id: f for f in rules.apply(facts, "check", register)}
    assert by_id["hochrisiko-personal"].anlass == [rules.merkmale["einsatz:personalauswahl"]]
    assert by_id["auswahlrichtlinien"].anlass == [rules.merkmale["betriebsrat"], rules.merkmale["einsatz:personalauswahl"]]
    assert by_id["hochrisiko-personal"].entry.norm == "Anhang III Nr. 4 KI-Verordnung"
    # the DSFA item brings the matching question of the DSFA guide, not the others
    dsfa = [flat(p.beleg) for p in by_id["dsfa"].passages]
    assert any(p.startswith("Bewertet oder sortiert das System Menschen") for p in dsfa)
    assert not any(p.startswith("Werden Gesundheitsdaten") for p in dsfa)
