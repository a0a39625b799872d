"""Check of an AI system for a works council, composed from the course.

Sections: the system as described; which co-determination and information rights, data-protection
rules, AI Act duties and health-and-safety rules apply and why (rules); the questions to put to the
employer (Fragenkatalog); the items a works agreement should settle (Checkliste Betriebsvereinbarung);
fitting Umsetzungshilfen. Every point is quoted from a unit, cited by title and Stand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..normen import NormRegister
from .briefing import EINSATZ_DE
from .compose import aids, checklist, fragenkatalog, hinweis, legal_sections, quelle, unique
from .course import Course
from .document import Document, Item, Section
from .rules import DATEN, EINSATZ, Facts, RuleSet

DATEN_DE = {"beschaeftigte": "Daten von Beschäftigten (auch Nutzungs- und Protokolldaten)",
            "kunden": "Daten von Kundinnen und Kunden", "gesundheit": "Gesundheitsdaten",
            "standort": "Standortdaten", "leistung": "Leistungs- oder Verhaltensdaten einzelner Personen"}
assert set(DATEN_DE) == set(DATEN)
ALWAYS_ASK = (1, 2, 3, 5, 6, 7, 8, 19, 20)  # purpose, system and vendor, emotion recognition, risk class
ALWAYS_SETTLE = ("Checkliste Geltungsbereich und Zweck", "Checkliste Änderungen und Überprüfung")
ALWAYS_AIDS = ("hilfe-fragen-an-den-arbeitgeber", "hilfe-checkliste-betriebsvereinbarung")


@dataclass
class CheckInput:
    beschreibung: str
    daten: list[str] = field(default_factory=list)
    betroffene: str = ""
    anbieter: str = ""
    cloud: bool = False
    entscheidet: bool = False
    einsatz: list[str] = field(default_factory=list)
    betriebsrat: bool = True
    beschaeftigte: int | None = None
    arbeit_aendert: bool = False

    def facts(self) -> Facts:
        return Facts(betriebsrat=self.betriebsrat, beschaeftigte=self.beschaeftigte, einsatz=frozenset(self.einsatz),
                     daten=frozenset(self.daten), entscheidet=self.entscheidet, cloud=self.cloud,
                     arbeit_aendert=self.arbeit_aendert)


def _text(s: str) -> str:
    return " ".join(s.split()).strip()


def system_items(inp: CheckInput) -> list[Item]:
    yes_no = {True: "ja", False: "nein"}
    items = [Item(text=_text(inp.beschreibung), label="Was das System tut")]
    if inp.einsatz:
        items.append(Item(text=", ".join(EINSATZ_DE[e] for e in EINSATZ if e in inp.einsatz), label="Einsatzbereich"))
    items.append(Item(text=", ".join(DATEN_DE[d] for d in DATEN if d in inp.daten) or "keine personenbezogenen "
                      "Daten angegeben", label="Daten"))
    if inp.betroffene.strip():
        items.append(Item(text=_text(inp.betroffene), label="Betroffen"))
    vendor = _text(inp.anbieter) or "nicht angegeben"
    items.append(Item(text=f"{vendor}; externer Anbieter oder Cloud verarbeitet Daten: {yes_no[inp.cloud]}",
                      label="Anbieter"))
    items.append(Item(text=yes_no[inp.entscheidet], label="Trifft oder bereitet Entscheidungen über Personen vor"))
    if inp.beschaeftigte:
        items.append(Item(text=str(inp.beschaeftigte), label="Beschäftigte im Betrieb"))
    items.append(Item(text=yes_no[inp.arbeit_aendert], label="Aufgaben oder Arbeitsabläufe ändern sich deutlich"))
    items.append(Item(text=yes_no[inp.betriebsrat], label="Betriebsrat vorhanden"))
    return items


def compose_check(course: Course, rules: RuleSet, register: NormRegister, inp: CheckInput) -> Document:
    facts = inp.facts()
    findings = rules.apply(facts, "check", register)
    stand = max(d for d in (course.stand, rules.stand) if d)
    doc = Document(kind="check", title="Prüfung eines KI-Systems für den Betriebsrat",
                   subtitle=f"System: {_text(inp.beschreibung)[:120]} · zusammengestellt aus den Kursunterlagen "
                            "des KI-Lernbegleiters",
                   hinweis=hinweis(stand), stand=stand)
    doc.sections.append(Section("Das geprüfte System (Angaben)", system_items(inp)))
    doc.sections += legal_sections(course, findings)
    if not facts.betriebsrat:
        doc.sections.append(Section("Ohne Betriebsrat", [Item(
            text="Laut Angaben gibt es keinen Betriebsrat; Punkte zur Mitbestimmung nach dem BetrVG und zu einer "
                 "Betriebsvereinbarung sind deshalb nicht aufgeführt.")]))
    numbers = set(ALWAYS_ASK) | {n for f in findings for n in f.rule.fragen}
    doc.sections.append(Section("Fragen an den Arbeitgeber", fragenkatalog(course, numbers),
                                intro="Ausgewählt aus dem Fragenkatalog des Betriebsrats; am besten schriftlich "
                                      "und mit Frist stellen."))
    more = []
    for t in rules.check_topics(facts):
        src = quelle(course, t.einheit, "Maßnahmen für den Betrieb")
        more += [Item(text=course.readable(q), quelle=src)
                 for q in course.unit(t.einheit).items("Maßnahmen für den Betrieb") if q.endswith("?")]
    if more:
        doc.sections.append(Section("Weitere Fragen aus den Lerneinheiten", unique(more),
                                    intro="Fragen, die der Betriebsrat dem Arbeitgeber zu diesem Thema stellen sollte."))
    if facts.betriebsrat:
        wanted = set(ALWAYS_SETTLE) | {b for f in findings for b in f.rule.bv}
        settle = checklist(course, wanted)
        doc.sections.append(Section("Was eine Betriebsvereinbarung regeln sollte",
                                    [Item(text=i.text, label=s.heading) for s in settle for i in s.items],
                                    intro="Punkte aus der „Checkliste Betriebsvereinbarung KI“ "
                                          f"(Stand: {course.unit('hilfe-checkliste-betriebsvereinbarung').stand_de})."))
    hilfen = list(ALWAYS_AIDS) + [h for f in findings for h in f.rule.hilfen]
    doc.sections.append(Section("Passende Umsetzungshilfen", aids(course, hilfen)))
    return doc
