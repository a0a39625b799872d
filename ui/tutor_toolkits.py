"""Tutor tabs for the people who advise: "Briefing (Beratung)", "KI-System prüfen (Betriebsrat)" and
"Aus allen Blickwinkeln". Called from ui/tutor.py inside its ``gr.Tabs``; the documents come from
``assistant.toolkits`` (the same code as POST /api/briefing and /api/check), the three role answers from
``ChatService.chat``. Everything shown is escaped; downloads are written to a temporary file that Gradio serves.
"""

from __future__ import annotations

import html
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.toolkits.briefing import EINSATZ_DE, BriefingInput
from assistant.toolkits.check import DATEN_DE, CheckInput
from assistant.toolkits.course import CourseError
from assistant.toolkits.document import Document
from assistant.toolkits.perspectives import ROLES, RoleAnswer, perspectives
from assistant.toolkits.service import Toolkits

from ui.tutor import answer_html  # the Fragen tab's safe Markdown (no HTML, no links, no images)

if TYPE_CHECKING:
    from assistant.service import ChatService

EINSATZ_CHOICES = [(label, key) for key, label in EINSATZ_DE.items()]
DATEN_CHOICES = [(label, key) for key, label in DATEN_DE.items()]
NO_COURSE = "Die Kursunterlagen für Briefing und Prüfung sind auf diesem Server nicht verfügbar."
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:/|https?://)[^)\s]*\)")  # course links: shown as their text
_lock = threading.Lock()
_cache: dict[str, Toolkits] = {}


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _toolkits() -> Toolkits:
    with _lock:
        if "tk" not in _cache:
            try:
                _cache["tk"] = Toolkits.load()
            except CourseError as err:
                raise gr.Error(NO_COURSE) from err
        return _cache["tk"]


def document_html(doc: Document) -> str:
    out = [f'<div class="lb-doc lb-toolkit"><h2>{esc(doc.title)}</h2><p class="lb-muted">{esc(doc.subtitle)}</p>',
           f'<p class="lb-hinweis"><strong>{esc(doc.hinweis)}</strong></p>']
    for s in doc.sections:
        out.append(f"<h3>{esc(s.heading)}</h3>")
        if s.intro:
            out.append(f"<p>{esc(s.intro)}</p>")
        tag = "ol" if s.numbered else "ul"
        out.append(f"<{tag}>")
        for i in s.items:
            label = f"<strong>{esc(i.label)}:</strong> " if i.label else ""
            details = "".join(f"<li>{esc(d)}</li>" for d in i.details)
            meta = "".join(f'<div class="lb-where">{esc(m)}</div>' for m in
                           ([f"Anlass: {i.anlass}"] if i.anlass else []) + ([f"Quelle: {i.quelle}"] if i.quelle else []))
            out.append(f"<li>{label}{esc(i.text)}" + (f"<ul>{details}</ul>" if details else "") + meta + "</li>")
        out.append(f"</{tag}>")
    out.append("</div>")
    return "".join(out)


def _files(doc: Document) -> tuple[str, str]:
    folder = Path(tempfile.mkdtemp(prefix="lb-toolkit-"))
    paths = []
    for fmt in ("docx", "pdf"):
        p = folder / doc.filename(fmt)
        p.write_bytes(doc.render(fmt))
        paths.append(str(p))
    return paths[0], paths[1]


def _count(value: Any) -> int | None:
    if isinstance(value, str):
        value = value.strip().replace(".", "")
    try:
        n = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise gr.Error("Bitte eine ganze Zahl für die Beschäftigten angeben.") from None
    if n is not None and not 1 <= n <= 1_000_000:
        raise gr.Error("Die Zahl der Beschäftigten muss zwischen 1 und 1.000.000 liegen.")
    return n


def _done(doc: Document):
    docx, pdf = _files(doc)
    return (document_html(doc), gr.update(value=docx, visible=True, interactive=True),
            gr.update(value=pdf, visible=True, interactive=True))


def perspectives_html(answers: list[RoleAnswer]) -> list[str]:
    out = []
    for a in answers:
        body = f'<p class="lb-error">{esc(a.error)}</p>' if a.error else answer_html(_LINK.sub(r"\1", a.answer))
        notes = "".join(f'<p class="lb-muted">Hinweis: {esc(n)}</p>' for n in a.notices)
        src = "".join(f'<li>[{esc(s.get("n"))}] {esc(s.get("label") or s.get("title"))}</li>' for s in a.sources)
        out.append(f'<div class="lb-perspective" data-role="{esc(a.role)}"><h3>{esc(a.label)}</h3>{body}{notes}'
                   + (f'<p><strong>Quellen</strong></p><ul class="lb-sources-short">{src}</ul>' if src else "") + "</div>")
    return out


def toolkit_tabs(get_service: Callable[[], ChatService]) -> None:
    """Add the three tabs to the enclosing ``gr.Tabs``."""

    def make_briefing(branche, beschaeftigte, betriebsrat, werkzeuge, ziele, sorgen, einsatz, daten, cloud,
                      entscheidet, arbeit_aendert):
        branche = (branche or "").strip()
        if not branche:
            raise gr.Error("Bitte die Branche des Betriebs angeben.")
        inp = BriefingInput(branche=branche[:200], beschaeftigte=_count(beschaeftigte), betriebsrat=bool(betriebsrat),
                            werkzeuge=(werkzeuge or "")[:1000], ziele=(ziele or "")[:1000], sorgen=(sorgen or "")[:1000],
                            einsatz=list(einsatz or []), daten=list(daten or []), cloud=bool(cloud),
                            entscheidet=bool(entscheidet), arbeit_aendert=bool(arbeit_aendert))
        return _done(_toolkits().briefing(inp))

    def make_check(beschreibung, betroffene, anbieter, einsatz, daten, cloud, entscheidet, betriebsrat,
                   beschaeftigte, arbeit_aendert):
        beschreibung = (beschreibung or "").strip()
        if not beschreibung:
            raise gr.Error("Bitte beschreiben Sie, was das KI-System tut.")
        inp = CheckInput(beschreibung=beschreibung[:2000], betroffene=(betroffene or "")[:500],
                         anbieter=(anbieter or "")[:300], einsatz=list(einsatz or []), daten=list(daten or []),
                         cloud=bool(cloud), entscheidet=bool(entscheidet), betriebsrat=bool(betriebsrat),
                         beschaeftigte=_count(beschaeftigte), arbeit_aendert=bool(arbeit_aendert))
        return _done(_toolkits().check(inp))

    def ask_all(question):
        question = (question or "").strip()
        if not question:
            raise gr.Error("Bitte eine Frage eingeben.")
        svc = get_service()
        return tuple(perspectives_html(perspectives(svc.chat, question[:2000], ROLES)))

    hidden_file = dict(visible=False)
    with gr.Tab("Briefing (Beratung)", id="briefing"):
        gr.Markdown("Briefing für ein Beratungsgespräch mit einem Betrieb – zusammengestellt aus den Kursunterlagen. "
                    "Orientierung, keine Rechtsberatung.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                b_branche = gr.Textbox(label="Branche", placeholder="z. B. Tischlerei", max_length=200,
                                       elem_id="briefing-branche")
                b_size = gr.Textbox(label="Beschäftigte (Anzahl)", max_length=7, elem_id="briefing-beschaeftigte")
                b_br = gr.Checkbox(label="Es gibt einen Betriebsrat", elem_id="briefing-betriebsrat")
                b_tools = gr.Textbox(label="KI-Werkzeuge im Einsatz oder geplant", max_length=1000, lines=2,
                                     elem_id="briefing-werkzeuge")
                b_einsatz = gr.CheckboxGroup(EINSATZ_CHOICES, label="Einsatzbereiche", elem_id="briefing-einsatz")
                b_daten = gr.CheckboxGroup(DATEN_CHOICES, label="Welche Daten verarbeitet die KI?",
                                           elem_id="briefing-daten")
                b_cloud = gr.Checkbox(label="Externer Anbieter oder Cloud verarbeitet Daten")
                b_dec = gr.Checkbox(label="KI trifft oder bereitet Entscheidungen über Personen vor")
                b_change = gr.Checkbox(label="Aufgaben oder Arbeitsabläufe ändern sich deutlich")
                b_ziele = gr.Textbox(label="Ziele", max_length=1000, lines=2, elem_id="briefing-ziele")
                b_sorgen = gr.Textbox(label="Sorgen und Vorbehalte", max_length=1000, lines=2,
                                      elem_id="briefing-sorgen")
                b_go = gr.Button("Briefing erstellen", variant="primary", elem_id="briefing-go")
            with gr.Column(scale=2):
                with gr.Row():
                    b_docx = gr.DownloadButton("Als DOCX herunterladen", elem_id="briefing-docx", **hidden_file)
                    b_pdf = gr.DownloadButton("Als PDF herunterladen", elem_id="briefing-pdf", **hidden_file)
                b_out = gr.HTML('<p class="lb-muted">Hier erscheint das Briefing.</p>', elem_id="briefing-text")
        b_go.click(make_briefing, inputs=[b_branche, b_size, b_br, b_tools, b_ziele, b_sorgen, b_einsatz, b_daten,
                                          b_cloud, b_dec, b_change], outputs=[b_out, b_docx, b_pdf])

    with gr.Tab("KI-System prüfen (Betriebsrat)", id="check"):
        gr.Markdown("Prüfung eines KI-Systems: Rechte des Betriebsrats, Datenschutz, KI-Verordnung, Fragen an den "
                    "Arbeitgeber und Punkte für eine Betriebsvereinbarung. Orientierung, keine Rechtsberatung.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                c_desc = gr.Textbox(label="Was tut das System?", max_length=2000, lines=3, elem_id="check-beschreibung")
                c_einsatz = gr.CheckboxGroup(EINSATZ_CHOICES, label="Einsatzbereich", elem_id="check-einsatz")
                c_daten = gr.CheckboxGroup(DATEN_CHOICES, label="Welche Daten nutzt es?", elem_id="check-daten")
                c_who = gr.Textbox(label="Wer ist betroffen?", max_length=500, elem_id="check-betroffene")
                c_vendor = gr.Textbox(label="Anbieter / Produkt", max_length=300, elem_id="check-anbieter")
                c_cloud = gr.Checkbox(label="Externer Anbieter oder Cloud verarbeitet Daten")
                c_dec = gr.Checkbox(label="Das System trifft oder bereitet Entscheidungen über Personen vor",
                                    elem_id="check-entscheidet")
                c_br = gr.Checkbox(label="Es gibt einen Betriebsrat", value=True)
                c_size = gr.Textbox(label="Beschäftigte (Anzahl)", max_length=7, elem_id="check-beschaeftigte")
                c_change = gr.Checkbox(label="Aufgaben oder Arbeitsabläufe ändern sich deutlich")
                c_go = gr.Button("Prüfung erstellen", variant="primary", elem_id="check-go")
            with gr.Column(scale=2):
                with gr.Row():
                    c_docx = gr.DownloadButton("Als DOCX herunterladen", elem_id="check-docx", **hidden_file)
                    c_pdf = gr.DownloadButton("Als PDF herunterladen", elem_id="check-pdf", **hidden_file)
                c_out = gr.HTML('<p class="lb-muted">Hier erscheint die Prüfung.</p>', elem_id="check-text")
        c_go.click(make_check, inputs=[c_desc, c_who, c_vendor, c_einsatz, c_daten, c_cloud, c_dec, c_br, c_size,
                                       c_change], outputs=[c_out, c_docx, c_pdf])

    with gr.Tab("Aus allen Blickwinkeln", id="blickwinkel"):
        gr.Markdown("Eine Frage, drei Antworten nebeneinander: für Geschäftsführung, Betriebsrat und Beschäftigte.")
        with gr.Row():
            p_q = gr.Textbox(label="Ihre Frage", max_length=2000, scale=5, elem_id="blickwinkel-frage")
            p_go = gr.Button("Fragen", variant="primary", scale=1, elem_id="blickwinkel-go")
        with gr.Row(equal_height=False):
            cols = [gr.HTML(f'<div class="lb-perspective"><h3>{esc(r.label)}</h3></div>',
                            elem_id=f"blickwinkel-{r.value}") for r in ROLES]
        p_go.click(ask_all, inputs=p_q, outputs=cols)
        p_q.submit(ask_all, inputs=p_q, outputs=cols)
