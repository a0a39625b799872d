"""The KI-Kompetenz record (Nachweis) of one learner and the team summary, as PDF (reportlab).

The legal note quotes the course's norm register (corpus/_normen.yaml, entry of Art. 4
KI-Verordnung) so the record says exactly what the course says, with its check date."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

ART4_ID = "kivo-art-4"
PRODUCT = "KI-Lernbegleiter"
NOT_A_CERTIFICATE = ("Dieses Dokument hält Lernmaßnahmen fest, die im KI-Lernbegleiter durchlaufen wurden. Es ist "
                     "ein Nachweis von Maßnahmen, kein Zertifikat und keine Prüfung der Kompetenz einer Person. "
                     "Der Kurs empfiehlt, Schulungen und Lernfortschritte zu dokumentieren (Lernsequenz "
                     "„Kompetenzen und Wissen über KI“); dafür kann dieses Dokument dienen.")


@dataclass(frozen=True)
class LegalNote:
    aussage: str
    geprueft: dt.date | None
    gesetz: str

    def text(self) -> str:
        when = f" (Stand der Prüfung: {de(self.geprueft)})" if self.geprueft else ""
        return (f"Was Art. 4 der KI-Verordnung in der geänderten Fassung (Verordnung (EU) 2026/1744) verlangt"
                f"{when}: {self.aussage}")


def load_legal_note(corpus_dir: Path) -> LegalNote:
    data = yaml.safe_load((corpus_dir / "_normen.yaml").read_text(encoding="utf-8"))
    entries = data if isinstance(data, list) else (data or {}).get("normen") or []
    for e in entries:
        if isinstance(e, dict) and e.get("id") == ART4_ID:
            g = e.get("geprueft")
            return LegalNote(" ".join(str(e["aussage"]).split()), g if isinstance(g, dt.date) else None,
                             str(e.get("gesetz", "")))
    raise ValueError(f"_normen.yaml: Eintrag {ART4_ID} fehlt")


def de(d: dt.date | dt.datetime | None) -> str:
    return d.strftime("%d.%m.%Y") if d else "–"


@dataclass
class RecordUnit:
    titel: str
    completed_on: dt.date | None
    quiz: str  # "4 von 5 richtig" or "–"
    minuten: int


@dataclass
class RecordData:
    verification_id: str
    issued_on: dt.date
    display_name: str | None
    role_label: str
    path_title: str
    path_units: int
    units: list[RecordUnit]          # completed units (path and beyond)
    total_minutes: int
    quiz_total: str                  # "17 von 20 Fragen richtig beantwortet"
    course_version: str
    course_stand: dt.date
    legal: LegalNote
    started_on: dt.date | None = None
    extra: list[str] = field(default_factory=list)


def _styles() -> dict[str, ParagraphStyle]:
    ss = getSampleStyleSheet()
    base = ParagraphStyle("lb", parent=ss["BodyText"], fontName="Helvetica", fontSize=10, leading=13.5)
    return {"h1": ParagraphStyle("h1", parent=ss["Title"], fontName="Helvetica-Bold", fontSize=17, leading=21,
                                 alignment=0, spaceAfter=4),
            "h2": ParagraphStyle("h2", parent=base, fontName="Helvetica-Bold", fontSize=12, leading=15,
                                 spaceBefore=10, spaceAfter=4),
            "p": base, "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11,
                                               textColor=colors.HexColor("#444444")),
            "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=11.5)}


def _table(rows: list[list[str]], widths: list[float], st: dict[str, ParagraphStyle]) -> Table:
    data = [[Paragraph(escape(c), st["cell"]) for c in r] for r in rows]
    t = Table(data, colWidths=widths, repeatRows=1)
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                           ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa7b5")),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t


def _build(story: list[Any], title: str, footer: str) -> bytes:
    buf = io.BytesIO()

    def _foot(canvas, doc):  # noqa: ANN001
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(18 * mm, 10 * mm, f"{footer} · Seite {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=title, author=PRODUCT, lang="de-DE")
    doc.build(story, onFirstPage=_foot, onLaterPages=_foot)
    return buf.getvalue()


def record_pdf(r: RecordData) -> bytes:
    st = _styles()
    p = lambda text, s="p": Paragraph(escape(text), st[s])  # noqa: E731
    who = r.display_name or "ohne Namensangabe (pseudonym)"
    story: list[Any] = [
        p("Nachweis über Maßnahmen zur KI-Kompetenz", "h1"),
        p(f"{PRODUCT} · ausgestellt am {de(r.issued_on)} · Prüf-ID {r.verification_id}", "small"),
        Spacer(1, 6),
        _table([["Angabe", "Wert"],
                ["Name", who],
                ["Rolle und Lernpfad", f"{r.role_label}: {r.path_title} ({r.path_units} Einheiten)"],
                ["Lernbeginn", de(r.started_on)],
                ["Abgeschlossene Einheiten", str(len(r.units))],
                ["Lernzeit insgesamt", f"{r.total_minutes} Minuten"],
                ["Quizergebnisse", r.quiz_total],
                ["Kursversion", f"{r.course_version}, Stand {de(r.course_stand)}"]], [55 * mm, 119 * mm], st),
        p("Abgeschlossene Einheiten", "h2"),
    ]
    if r.units:
        story.append(_table([["Einheit", "abgeschlossen am", "Quiz", "Lernzeit"]] +
                            [[u.titel, de(u.completed_on), u.quiz, f"{u.minuten} min"] for u in r.units],
                            [86 * mm, 30 * mm, 34 * mm, 24 * mm], st))
    else:
        story.append(p("Noch keine Einheit abgeschlossen."))
    story += [p("Einordnung", "h2"), p(r.legal.text()), Spacer(1, 4), p(NOT_A_CERTIFICATE)]
    story += [p(x) for x in r.extra]
    story += [Spacer(1, 8), p(f"Die Prüf-ID {r.verification_id} kann beim ausstellenden Lernbegleiter unter "
                              f"/api/learning/records/{r.verification_id} geprüft werden, solange die Person "
                              "ihre Lerndaten nicht gelöscht hat.", "small")]
    return _build(story, "Nachweis KI-Kompetenz", f"{PRODUCT} · Nachweis · Prüf-ID {r.verification_id}")


@dataclass
class TeamPathRow:
    titel: str
    members: int | None   # None: fewer than the threshold, no figure
    started: int | None
    completed: int | None
    units: list[tuple[str, int | None]]  # (unit title, completion rate in percent or None)


def team_pdf(team_name: str, issued_on: dt.date, members: int | None, threshold: int, rows: list[TeamPathRow],
             course_version: str, course_stand: dt.date, legal: LegalNote) -> bytes:
    st = _styles()
    p = lambda text, s="p": Paragraph(escape(text), st[s])  # noqa: E731
    hidden = f"weniger als {threshold}"
    story: list[Any] = [
        p("Maßnahmen zur KI-Kompetenz im Team", "h1"),
        p(f"{PRODUCT} · Team „{team_name}“ · erstellt am {de(issued_on)}", "small"), Spacer(1, 6),
        p("Diese Übersicht zeigt nur zusammengefasste Zahlen. Ergebnisse einzelner Personen werden nicht "
          f"angezeigt; für Gruppen mit weniger als {threshold} Personen erscheint keine Zahl."),
        p("Teilnahme", "h2"),
        p(f"Mitglieder im Team: {members if members is not None else hidden}."),
        p(f"Angebotene Maßnahme: rollenbezogene Lernpfade des Kurses ({course_version}, Stand {de(course_stand)}) "
          "mit Lerneinheiten, Verständnisfragen und Quiz zur Selbstkontrolle."),
    ]
    for row in rows:
        story.append(p(row.titel, "h2"))
        if row.members is None:
            story.append(p(f"Teilnehmende auf diesem Lernpfad: {hidden} – keine Zahlen."))
            continue
        story.append(p(f"Teilnehmende: {row.members} · begonnen: {row.started} · abgeschlossen: {row.completed}"))
        story.append(_table([["Einheit", "abgeschlossen (Anteil)"]] +
                            [[t, f"{v} %" if v is not None else "–"] for t, v in row.units], [130 * mm, 44 * mm], st))
    story += [p("Einordnung", "h2"), p(legal.text()), Spacer(1, 4),
              p("Die Übersicht dokumentiert angebotene und genutzte Maßnahmen, nicht die Kompetenz einzelner "
                "Personen. Einzelnachweise erhalten nur die Lernenden selbst.")]
    return _build(story, "Maßnahmen zur KI-Kompetenz im Team", f"{PRODUCT} · Team-Übersicht")
