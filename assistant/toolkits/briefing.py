"""Briefing for a consultant's talk with a client business, composed from the course.

Sections: the situation in two sentences (from the input), talking points (the "Beratung" paragraphs
of the fitting units and the answers to the client's objections from the Erstberatung guide), 8 to 12
questions to ask, the legal points that apply (rules), fitting Umsetzungshilfen and a 90-day sketch
(the phases of the "90-Tage-Fahrplan zur KI-Einführung").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..normen import NormRegister
from .compose import aids, hinweis, legal_items, questions_in, quelle, unique
from .course import Course
from .document import Document, Item, Section
from .rules import EINSATZ, Facts, RuleSet

ERSTBERATUNG = "hilfe-erstberatung-kmu"
FAHRPLAN = "hilfe-90-tage-fahrplan"
MAX_QUESTIONS = 12  # the opening and situation questions of the guide give at least 8 in every case
QUESTIONS_PER_TOPIC = 2
# worries about the people (fear, scepticism, surveillance, jobs) bring in the course's unit on acceptance
TEAM_WORRIES = re.compile(r"angst|ängst|skeps|widerst|überwach|kontroll|akzeptanz|jobverlust|arbeitspl|leute|team|"
                          r"belegschaft|mitarbeit|beschäftigte|personal", re.I)
MAX_CASE_AIDS = 5  # aids that fit the case; the ones every briefing names come on top
EINSATZ_DE = {
    "texte": "Texte, Büro und Recherche", "kundenkontakt": "Kundenkontakt", "personalauswahl": "Personalauswahl",
    "personaleinsatz": "Aufgabenzuweisung nach Verhalten, Leistung oder Merkmalen", "leistungsbewertung": "Leistungsbewertung",
    "zeiterfassung": "Zeiterfassung oder Ortung", "maschinen": "Maschinen und Assistenzsysteme",
    "gesundheit": "Gesundheitsangebote", "emotionserkennung": "Emotionserkennung"}
assert set(EINSATZ_DE) == set(EINSATZ)


@dataclass
class BriefingInput:
    branche: str
    beschaeftigte: int | None = None
    betriebsrat: bool = False
    werkzeuge: str = ""           # AI tools used or planned, free text
    ziele: str = ""
    sorgen: str = ""
    einsatz: list[str] = field(default_factory=list)
    daten: list[str] = field(default_factory=list)
    cloud: bool = False
    entscheidet: bool = False
    arbeit_aendert: bool = False

    def facts(self) -> Facts:
        return Facts(betriebsrat=self.betriebsrat, beschaeftigte=self.beschaeftigte, einsatz=frozenset(self.einsatz),
                     daten=frozenset(self.daten), entscheidet=self.entscheidet, cloud=self.cloud,
                     arbeit_aendert=self.arbeit_aendert, sorgen=bool(TEAM_WORRIES.search(self.sorgen)))


def _clause(text: str) -> str:
    return " ".join(text.split()).rstrip(" .;,")


def situation(inp: BriefingInput) -> str:
    size = f" mit {inp.beschaeftigte} Beschäftigten" if inp.beschaeftigte else ""
    council = "mit Betriebsrat" if inp.betriebsrat else "ohne Betriebsrat"
    uses = ", ".join(EINSATZ_DE[e] for e in EINSATZ if e in inp.einsatz)
    tools = _clause(inp.werkzeuge)
    what = tools + (f" (Einsatzbereiche: {uses})" if uses and tools else uses)
    first = f"Betrieb aus der Branche „{_clause(inp.branche)}“{size}, {council}"
    first += f"; KI im Einsatz oder geplant: {what}." if what else "; zum Einsatz von KI liegen noch keine Angaben vor."
    parts = []
    if inp.ziele.strip():
        parts.append(f"Ziele: {_clause(inp.ziele)}")
    if inp.sorgen.strip():
        parts.append(f"Sorgen: {_clause(inp.sorgen)}")
    second = ("; ".join(parts) + ".") if parts else "Ziele und Sorgen sind im Gespräch zu klären."
    return f"{first} {second}"


def _talking_points(course: Course, rules: RuleSet, inp: BriefingInput, facts: Facts) -> list[Item]:
    items = []
    for t in rules.topics(facts):
        u = course.unit(t.einheit)
        text = u.section("Was das für Sie heißt", "Beratung")
        if text:
            items.append(Item(text=course.readable(text), label=f"Zum Thema „{u.title}“",
                              quelle=quelle(course, t.einheit, "Was das für Sie heißt › Beratung")))
    table = _objections_table(course)
    for o in rules.objections(inp.sorgen):
        answer = table.get(o.einwand)
        if answer:
            items.append(Item(text=answer, label=f"Einwand {o.einwand}", anlass="genannte Sorgen des Betriebs",
                              quelle=quelle(course, ERSTBERATUNG, "Typische Einwände und mögliche Antworten")))
    return items


def _objections_table(course: Course) -> dict[str, str]:
    text = course.unit(ERSTBERATUNG).section("Typische Einwände und mögliche Antworten")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("„"):
            rows[cells[0]] = course.readable(cells[1])
    return rows


def _questions(course: Course, rules: RuleSet, facts: Facts) -> list[Item]:
    start = course.unit(ERSTBERATUNG)
    src_start = quelle(course, ERSTBERATUNG, "Gesprächseinstieg: Fragen zum Auftakt")
    opening = [Item(text=course.readable(q), quelle=src_start)
               for q in start.items("Gesprächseinstieg: Fragen zum Auftakt")]
    topical = []
    # the case's own topics first (a topic without condition fits every case), at most two questions each
    topics = sorted(rules.topics(facts), key=lambda t: not t.wenn.atoms())
    for t in topics:
        text = course.unit(t.einheit).section("Was das für Sie heißt", "Beratung")
        src = quelle(course, t.einheit, "Was das für Sie heißt › Beratung")
        topical += [Item(text=course.readable(q), quelle=src) for q in questions_in(text)][:QUESTIONS_PER_TOPIC]
    leitfragen = []
    for line in start.section("Ausgangslage und Bedarf klären").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("Thema",) and not set(cells[0]) <= {"-"}:
            leitfragen += [Item(text=q, label=cells[0], quelle=quelle(course, ERSTBERATUNG,
                                                                      "Ausgangslage und Bedarf klären"))
                           for q in questions_in(course.readable(cells[1]))]
    # the topic questions first (they are about this case), then the opening, then the general ones
    chosen = unique(topical[:7] + opening + leitfragen)
    if facts.betriebsrat:  # "Regeln" asks whether there is a works council: known already
        chosen = [i for i in chosen if "Betriebsrat" not in i.text or i.label != "Regeln"]
    return chosen[:MAX_QUESTIONS]


def _plan(course: Course) -> list[Item]:
    unit = course.unit(FAHRPLAN)
    out = []
    for path, text in unit.sections.items():
        if len(path) == 1 and path[0].startswith("Phase"):
            m = re.search(r"\*\*Ergebnis[^*]*\*\*\s*(.+)", text)
            out.append(Item(text=(f"Ergebnis: {course.readable(m.group(1))}" if m else ""), label=path[0],
                            details=[course.readable(t) for t in unit.items(path[0])],
                            quelle=quelle(course, FAHRPLAN, path[0])))
    return out


def compose_briefing(course: Course, rules: RuleSet, register: NormRegister, inp: BriefingInput) -> Document:
    facts = inp.facts()
    findings = rules.apply(facts, "briefing", register)
    questions = _questions(course, rules, facts)
    own = [h for t in rules.topics(facts) for h in t.hilfen] + [h for f in findings for h in f.rule.hilfen]
    own = [h for h in dict.fromkeys(own) if h not in rules.hilfen_immer]
    hilfen = own[:MAX_CASE_AIDS] + rules.hilfen_immer
    stand = max(d for d in (course.stand, rules.stand) if d)
    doc = Document(
        kind="briefing", title="Briefing für das Beratungsgespräch",
        subtitle=f"Betrieb: {_clause(inp.branche)} · zusammengestellt aus den Kursunterlagen des KI-Lernbegleiters",
        hinweis=hinweis(stand), stand=stand)
    doc.sections.append(Section("Ausgangslage", [Item(text=situation(inp))]))
    doc.sections.append(Section("Gesprächspunkte", _talking_points(course, rules, inp, facts)))
    doc.sections.append(Section("Fragen an den Betrieb", questions, numbered=True,
                                intro="Fragen aus dem Gesprächsleitfaden und den passenden Lerneinheiten."))
    doc.sections.append(Section(
        "Rechtliche Punkte für diesen Betrieb", legal_items(course, findings),
        intro="Welche Vorschriften nach den Angaben zum Betrieb zu beachten sind, mit dem Wortlaut der Kursunterlagen."))
    doc.sections.append(Section("Passende Umsetzungshilfen", aids(course, hilfen)))
    doc.sections.append(Section("90-Tage-Plan (Skizze)", _plan(course),
                                intro="Die drei Phasen des 90-Tage-Fahrplans; Zeiten an die Auftragslage anpassen."))
    return doc
