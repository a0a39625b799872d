"""Briefing and AI system check as documents: content composed from the course, the German notice with the
Stand date, no raw unit ids, and the DOCX (python-docx) and PDF (pypdf) files read back."""

from __future__ import annotations

import io
import re

import pytest

from assistant.toolkits.briefing import BriefingInput
from assistant.toolkits.check import CheckInput
from assistant.toolkits.course import flat
from assistant.toolkits.document import to_markdown
from assistant.toolkits.service import Toolkits

from .conftest import CORPUS

BRIEFING = BriefingInput(branche="Tischlerei", beschaeftigte=25, betriebsrat=True,
                         werkzeuge="ChatGPT für Angebote, Zeiterfassungs-App", ziele="Angebote schneller schreiben",
                         sorgen="Die Kosten und der Datenschutz", einsatz=["texte", "zeiterfassung"],
                         daten=["beschaeftigte", "kunden"], cloud=True)
CHECK = CheckInput(beschreibung="Software sortiert Bewerbungen nach Passung und schlägt eine Rangliste vor",
                   daten=["beschaeftigte"], betroffene="Bewerbende, Personalabteilung", anbieter="HR-Cloud GmbH",
                   cloud=True, entscheidet=True, einsatz=["personalauswahl"], beschaeftigte=60)


@pytest.fixture(scope="module")
def tk() -> Toolkits:
    return Toolkits.load(CORPUS)


def _all_text(doc) -> list[str]:
    out = [doc.title, doc.subtitle, doc.hinweis]
    for s in doc.sections:
        out += [s.heading, s.intro]
        for i in s.items:
            out += [i.label, i.text, i.anlass, i.quelle, *i.details]
    return [t for t in out if t]


def _no_ids(tk, texts):
    ids = [u for u in tk.course.units if "-" in u]
    for t in texts:
        for uid in ids:
            assert uid not in t, (uid, t)


def test_briefing_has_every_part_composed_from_the_course(tk):
    doc = tk.briefing(BRIEFING)
    heads = [s.heading for s in doc.sections]
    assert heads == ["Ausgangslage", "Gesprächspunkte", "Fragen an den Betrieb", "Rechtliche Punkte für diesen Betrieb",
                     "Passende Umsetzungshilfen", "90-Tage-Plan (Skizze)"]
    sec = {s.heading: s for s in doc.sections}
    situation = sec["Ausgangslage"].items[0].text
    assert "Tischlerei" in situation and "25 Beschäftigten" in situation and "mit Betriebsrat" in situation
    assert len(re.findall(r"[.!?](?:\s|$)", situation)) == 2
    assert 8 <= len(sec["Fragen an den Betrieb"].items) <= 12
    body = flat(" ".join(u.body for u in tk.course.units.values()))
    for q in sec["Fragen an den Betrieb"].items:
        assert q.text.endswith("?") and q.quelle.startswith("„")
    legal = sec["Rechtliche Punkte für diesen Betrieb"].items
    assert {i.label for i in legal} >= {"Art. 4 KI-Verordnung", "§ 90 BetrVG", "§ 87 Abs. 1 Nr. 6 BetrVG",
                                        "Art. 35 DSGVO", "Art. 28 DSGVO"}
    for i in legal:  # the legal text is the course's, word for word, with its unit's Stand
        assert flat(i.text) in body, i.label
        assert re.search(r"\(Stand: \d\d\.\d\d\.2026\)", i.quelle) and i.anlass
    aids = [i.label for i in sec["Passende Umsetzungshilfen"].items]
    assert "Checkliste Betriebsvereinbarung KI" in aids and "90-Tage-Fahrplan zur KI-Einführung" in aids
    assert "KI-Nutzungsrichtlinie: Was darf in KI-Werkzeuge?" in aids
    plan = sec["90-Tage-Plan (Skizze)"].items
    assert [p.label[:7] for p in plan] == ["Phase 1", "Phase 2", "Phase 3"] and all(p.details for p in plan)
    points = sec["Gesprächspunkte"].items
    assert any(p.label == "Einwand „Das kostet zu viel.“" for p in points)
    assert any("Tracking und Worklogging" in p.label for p in points)
    assert "keine Rechtsberatung" in doc.hinweis and "29.11.2026" in doc.hinweis
    _no_ids(tk, _all_text(doc))


def test_without_works_council_the_briefing_leaves_out_the_betrvg(tk):
    doc = tk.briefing(BriefingInput(branche="Elektrobetrieb", beschaeftigte=15, einsatz=["kundenkontakt"],
                                    daten=["kunden"], cloud=True))
    labels = {i.label for s in doc.sections for i in s.items}
    assert not any("BetrVG" in label for label in labels)
    assert "ohne Betriebsrat" in doc.sections[0].items[0].text


def test_check_names_rights_questions_and_agreement_items(tk):
    doc = tk.check(CHECK)
    heads = [s.heading for s in doc.sections]
    assert heads[:4] == ["Das geprüfte System (Angaben)", "Mitbestimmung und Informationsrechte (BetrVG)",
                         "Datenschutz (DSGVO, BDSG)", "KI-Verordnung (EU) 2024/1689"]
    assert heads[-4:] == ["Fragen an den Arbeitgeber", "Weitere Fragen aus den Lerneinheiten",
                          "Was eine Betriebsvereinbarung regeln sollte", "Passende Umsetzungshilfen"]
    sec = {s.heading: s for s in doc.sections}
    assert {"§ 90 BetrVG", "§ 80 Abs. 3 BetrVG", "§ 95 Abs. 2a BetrVG"} <= {
        i.label for i in sec["Mitbestimmung und Informationsrechte (BetrVG)"].items}
    ai = {i.label: i for i in sec["KI-Verordnung (EU) 2024/1689"].items}
    assert {"Art. 4 KI-Verordnung", "Anhang III Nr. 4 KI-Verordnung", "Art. 26 KI-Verordnung"} <= set(ai)
    assert any("Arbeitnehmervertretung" in i.text for i in sec["KI-Verordnung (EU) 2024/1689"].items)
    questions = sec["Fragen an den Arbeitgeber"].items
    numbers = {int(q.label.split()[1]) for q in questions}
    assert {1, 14, 19, 21, 22, 23, 26, 29} <= numbers
    catalogue = tk.course.unit("hilfe-fragen-an-den-arbeitgeber").numbered()
    assert all(flat(q.text) == flat(tk.course.readable(catalogue[int(q.label.split()[1])])) for q in questions)
    more = [i.text for i in sec["Weitere Fragen aus den Lerneinheiten"].items]
    assert "Trifft das System Entscheidungen selbst, oder entscheidet am Ende ein Mensch mit eigenem Spielraum?" in more
    settle = sec["Was eine Betriebsvereinbarung regeln sollte"].items
    assert any("Art. 22 DSGVO" in i.text for i in settle) and any("geführt" in i.text for i in settle)
    _no_ids(tk, _all_text(doc))


def test_docx_opens_and_holds_the_content(tk):
    from docx import Document as Docx

    doc = tk.check(CHECK)
    data = doc.render("docx")
    text = "\n".join(p.text for p in Docx(io.BytesIO(data)).paragraphs)
    assert text.startswith("Prüfung eines KI-Systems für den Betriebsrat")
    assert "keine Rechtsberatung" in text and "Stand der Kursinhalte und ihrer rechtlichen Prüfung: 29.11.2026" in text
    assert "Anhang III Nr. 4 KI-Verordnung: Als hochriskant gelten KI-Systeme" in text
    assert "Frage 23: Wie und wann werden Betriebsrat und betroffene Beschäftigte" in text
    assert "Quelle: „Betriebsrat: Die EU-KI-Verordnung (AI Act) im Betrieb“ (Stand: 29.11.2026)" in text


def test_pdf_opens_and_holds_the_content(tk):
    from pypdf import PdfReader

    doc = tk.briefing(BRIEFING)
    data = doc.render("pdf")
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = flat(" ".join(p.extract_text() for p in reader.pages))
    assert len(reader.pages) >= 2
    assert "Briefing für das Beratungsgespräch" in text
    assert "keine Rechtsberatung" in text and "29.11.2026" in text
    assert "§ 87 Abs. 1 Nr. 6 BetrVG:" in text and "Art. 35 DSGVO:" in text
    assert "Phase 2 (Tag 31–60): Pilotprojekte starten" in text  # en dash and umlauts survive
    assert "„Tracking und Worklogging“" in text
    assert reader.metadata.title == "Briefing für das Beratungsgespräch"


def test_markdown_has_the_notice_first(tk):
    md = to_markdown(tk.check(CHECK))
    lines = md.splitlines()
    assert lines[0] == "# Prüfung eines KI-Systems für den Betriebsrat"
    assert lines[4].startswith("> Hinweis: Dieses Dokument dient der Orientierung und ist keine Rechtsberatung.")


def test_documents_render_on_the_core_install(tmp_path):
    """python-docx and reportlab are core dependencies: DOCX and PDF work without the test extras."""
    import json
    import subprocess
    import sys

    from .conftest import ROOT
    from .test_core_install import SCRIPT

    head, sep, _ = SCRIPT.partition("from pathlib import Path\nfrom ingestion.loaders")
    assert sep, "tests/test_core_install.py changed its script"
    script = head + '''
from assistant.toolkits.briefing import BriefingInput
from assistant.toolkits.service import Toolkits
doc = Toolkits.load().briefing(BriefingInput(branche="Test", einsatz=["texte"]))
res = {"docx": doc.render("docx")[:2].decode(), "pdf": doc.render("pdf")[:4].decode()}
imported = {m.partition(".")[0] for m in set(sys.modules) - before}
res["outside_core"] = sorted({d for m in imported for d in owners.get(m, ()) if owners[m] and not owners[m] & allowed})
res["blocked_tried"] = sorted(blocked_tried)
print(json.dumps(res))
'''
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT / "pyproject.toml")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["docx"] == "PK" and res["pdf"] == "%PDF", res
    assert res["outside_core"] == [], res  # (optional imports such as scipy may be tried and blocked)


def test_tutor_shows_documents_and_role_answers_escaped(tk):
    from assistant.toolkits.perspectives import RoleAnswer
    from ui.tutor_toolkits import document_html, perspectives_html

    page = document_html(tk.briefing(BriefingInput(branche="<script>alert(1)</script>", einsatz=["texte"])))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "keine Rechtsberatung" in page and "<h3>Rechtliche Punkte für diesen Betrieb</h3>" in page
    cols = perspectives_html([RoleAnswer("owner", "Geschäftsführung", answer="<img src=x onerror=alert(1)> Text",
                                         sources=[{"n": 1, "label": "<b>Quelle</b>"}])])
    assert "<img" not in cols[0] and "&lt;img src=x" in cols[0] and "&lt;b&gt;Quelle&lt;/b&gt;" in cols[0]


def test_every_example_briefing_has_8_to_12_questions_and_a_short_list_of_aids(tk):
    from evals.toolkits_examples import BRIEFINGS, CHECKS

    for name, inp in BRIEFINGS:
        sec = {s.heading: s for s in tk.briefing(inp).sections}
        assert 8 <= len(sec["Fragen an den Betrieb"].items) <= 12, name
        assert 3 <= len(sec["Passende Umsetzungshilfen"].items) <= 7, name
    for name, inp in CHECKS:
        doc = tk.check(inp)
        assert any(s.heading == "Fragen an den Arbeitgeber" and len(s.items) >= 9 for s in doc.sections), name
        _no_ids(tk, _all_text(doc))
