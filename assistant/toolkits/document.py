"""The documents the toolkits produce, and their renderings: Markdown, DOCX (python-docx) and PDF (reportlab).

A document is our own small structure (title, German notice with the Stand date, sections of items);
every item may carry a label (a norm), the text, the reason it applies and where in the course it comes
from. The three renderers show the same content; tests open the files and read their text back.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

FORMATS = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "pdf": "application/pdf", "md": "text/markdown; charset=utf-8"}
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@dataclass
class Item:
    text: str
    label: str = ""      # e.g. the norm ("§ 87 Abs. 1 Nr. 6 BetrVG")
    anlass: str = ""     # why it applies to this case
    quelle: str = ""     # "„Titel der Einheit“ (Stand: 29.11.2026)"
    details: list[str] = field(default_factory=list)  # further quoted lines belonging to the item


@dataclass
class Section:
    heading: str
    items: list[Item] = field(default_factory=list)
    intro: str = ""
    numbered: bool = False


@dataclass
class Document:
    kind: str            # "briefing" | "check"
    title: str
    subtitle: str
    hinweis: str         # orientation, not legal advice, with the course's Stand date
    stand: dt.date
    sections: list[Section] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stand"] = self.stand.isoformat()
        return d

    def filename(self, fmt: str) -> str:
        return f"{'briefing' if self.kind == 'briefing' else 'ki-system-check'}-{self.stand.isoformat()}.{fmt}"

    def render(self, fmt: str) -> bytes:
        if fmt == "md":
            return to_markdown(self).encode("utf-8")
        if fmt == "docx":
            return to_docx(self)
        if fmt == "pdf":
            return to_pdf(self)
        raise ValueError(fmt)


def _meta(item: Item) -> list[str]:
    out = []
    if item.anlass:
        out.append(f"Anlass: {item.anlass}")
    if item.quelle:
        out.append(f"Quelle: {item.quelle}")
    return out


# --- Markdown ------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Course text in Markdown without accidental markup (it never holds HTML or links)."""
    return text.replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")


def to_markdown(doc: Document) -> str:
    lines = [f"# {_md(doc.title)}", "", f"*{_md(doc.subtitle)}*", "", f"> {_md(doc.hinweis)}", ""]
    for s in doc.sections:
        lines += [f"## {_md(s.heading)}", ""]
        if s.intro:
            lines += [_md(s.intro), ""]
        for i, item in enumerate(s.items, 1):
            bullet = f"{i}." if s.numbered else "-"
            head = f"**{_md(item.label)}:** " if item.label else ""
            lines.append(f"{bullet} {head}{_md(item.text)}")
            for d in item.details:
                lines.append(f"   - {_md(d)}")
            for m in _meta(item):
                lines.append(f"   <br>*{_md(m)}*")
        if s.items:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- DOCX ----------------------------------------------------------------------------------------------


def to_docx(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.shared import Pt, RGBColor

    d = Docx()
    d.core_properties.title = doc.title
    d.core_properties.language = "de-DE"
    d.add_heading(doc.title, level=0)
    d.add_paragraph().add_run(doc.subtitle).italic = True
    note = d.add_paragraph()
    note.add_run(doc.hinweis).bold = True
    for s in doc.sections:
        d.add_heading(s.heading, level=1)
        if s.intro:
            d.add_paragraph(s.intro)
        for item in s.items:
            p = d.add_paragraph(style="List Number" if s.numbered else "List Bullet")
            if item.label:
                p.add_run(f"{item.label}: ").bold = True
            p.add_run(item.text)
            for line in item.details:
                d.add_paragraph(line, style="List Bullet 2")
            for m in _meta(item):
                q = d.add_paragraph()
                q.paragraph_format.left_indent = Pt(18)
                r = q.add_run(m)
                r.italic = True
                r.font.size = Pt(9)
                r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


# --- PDF -----------------------------------------------------------------------------------------------


def _fonts() -> tuple[str, str, str]:
    """DejaVu Sans when installed (all of Unicode the course uses), else Helvetica (Windows-1252)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for base in FONT_DIRS:
        regular, bold, oblique = (base / "DejaVuSans.ttf", base / "DejaVuSans-Bold.ttf",
                                  base / "DejaVuSans-Oblique.ttf")
        if regular.is_file() and bold.is_file() and oblique.is_file():
            if "LB-Sans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("LB-Sans", str(regular)))
                pdfmetrics.registerFont(TTFont("LB-Sans-Bold", str(bold)))
                pdfmetrics.registerFont(TTFont("LB-Sans-Oblique", str(oblique)))
                pdfmetrics.registerFontFamily("LB-Sans", normal="LB-Sans", bold="LB-Sans-Bold",
                                              italic="LB-Sans-Oblique", boldItalic="LB-Sans-Bold")
            return "LB-Sans", "LB-Sans-Bold", "LB-Sans-Oblique"
    return "Helvetica", "Helvetica-Bold", "Helvetica-Oblique"


def _latin(text: str, font: str) -> str:
    if font != "Helvetica":
        return text
    return text.encode("cp1252", "replace").decode("cp1252")


def to_pdf(doc: Document) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

    regular, bold, oblique = _fonts()
    base = ParagraphStyle("lb", fontName=regular, fontSize=10, leading=13.5, spaceAfter=3)
    styles = {
        "title": ParagraphStyle("lb-title", parent=base, fontName=bold, fontSize=17, leading=21, spaceAfter=6),
        "sub": ParagraphStyle("lb-sub", parent=base, fontName=oblique),
        "note": ParagraphStyle("lb-note", parent=base, fontName=bold, borderPadding=4, spaceBefore=4, spaceAfter=8),
        "h": ParagraphStyle("lb-h", parent=base, fontName=bold, fontSize=12.5, leading=16, spaceBefore=8),
        "meta": ParagraphStyle("lb-meta", parent=base, fontName=oblique, fontSize=8.5, leading=11,
                               textColor="#555555"),
    }

    def para(text: str, style: str | ParagraphStyle = base) -> Paragraph:
        st = styles[style] if isinstance(style, str) else style
        return Paragraph(escape(_latin(text, regular)), st)

    story: list[Any] = [para(doc.title, "title"), para(doc.subtitle, "sub"), para(doc.hinweis, "note")]
    for s in doc.sections:
        story.append(para(s.heading, "h"))
        if s.intro:
            story.append(para(s.intro))
        entries = []
        for item in s.items:
            text = escape(_latin(item.text, regular))
            if item.label:
                text = f"<b>{escape(_latin(item.label, regular))}:</b> {text}"
            flow: list[Any] = [Paragraph(text, base)]
            for line in item.details:
                flow.append(para(f"– {line}"))
            flow += [para(m, "meta") for m in _meta(item)]
            entries.append(ListItem(flow, leftIndent=14))
        if entries:
            story.append(ListFlowable(entries, bulletType="1" if s.numbered else "bullet", start=None if s.numbered
                                      else "•", leftIndent=14, bulletFontName=regular, bulletFontSize=9))
        story.append(Spacer(1, 2 * mm))
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=A4, title=doc.title, author="KI-Lernbegleiter", lang="de-DE",
                            leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=18 * mm)
    pdf.build(story)
    return buf.getvalue()
