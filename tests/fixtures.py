"""Small real files of every supported format, made by the tests themselves."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[str], title: str = "Testdokument") -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def make_scan_pdf(path: Path) -> Path:
    """A PDF page with only graphics, like a scan without a text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.rect(50, 50, 400, 600, fill=1)
    c.showPage()
    c.save()
    return path


def make_encrypted_pdf(path: Path, source: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(source)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="geheim", owner_password="geheim")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Leitfaden KI im Betrieb"
    d.add_heading("Leitfaden KI im Betrieb", level=1)
    d.add_paragraph("Dieser Leitfaden hilft kleinen Betrieben beim Einstieg in die Arbeit mit KI.")
    d.add_heading("Datenschutz", level=2)
    d.add_paragraph("Personenbezogene Daten dürfen nur für festgelegte Zwecke verarbeitet werden.")
    d.add_heading("Beschäftigtendaten", level=3)
    d.add_paragraph("Für Daten von Beschäftigten gelten besondere Regeln der Mitbestimmung.")
    d.add_heading("Schulung", level=2)
    d.add_paragraph("Alle Beschäftigten erhalten eine kurze Schulung zum sicheren Umgang mit KI-Werkzeugen.")
    d.save(str(path))
    return path


HTML = """<!doctype html><html lang="de"><head><title>KI im Handwerk – Ratgeber</title>
<script>var tracking = "GEHEIMES_SKRIPT";</script><style>.nav{color:red}</style></head>
<body><nav class="nav"><a href="/">Startseite</a> <a href="/impressum">Impressum NAVIGATIONSMENUE</a></nav>
<main><article><h1>KI im Handwerk</h1>
<p>Viele Handwerksbetriebe nutzen KI bereits für Angebote, Terminplanung und Materialbestellung.
Der Einstieg gelingt am besten mit einem kleinen, klar umrissenen Anwendungsfall im eigenen Betrieb.</p>
<h2>Datenschutz beachten</h2>
<p>Kundendaten gehören nicht ungeprüft in frei verfügbare KI-Werkzeuge. Klären Sie vorher, wo die Daten
verarbeitet werden und ob ein Vertrag zur Auftragsverarbeitung vorliegt.</p>
<h2>Beschäftigte einbeziehen</h2>
<p>Wer die Beschäftigten früh einbindet, baut Ängste ab und erfährt, wo KI im Alltag wirklich entlastet.
Eine kurze Schulung vor dem Start erhöht die Akzeptanz deutlich und verhindert typische Fehler.</p>
</article></main><footer>FUSSZEILE Kontakt und Impressum</footer></body></html>"""

MARKDOWN = """---
id: test-einheit
titel: Testeinheit zum Datenschutz
typ: lernsequenz
baustein: organisation
rollen: [works_council, employee]
schlagworte: [Datenschutz, DSGVO]
stand: 2026-11-21
---

# Testeinheit zum Datenschutz

Einleitung zur Einheit über den Datenschutz im Handwerksbetrieb.

## Worum geht es?

Beim Einsatz von KI werden oft personenbezogene Daten verarbeitet. Das betrifft Kunden und Beschäftigte.

## Was das für Sie heißt

### Betriebsrat

Der Betriebsrat prüft, ob eine Verhaltens- und Leistungskontrolle möglich ist.
"""
