"""One course unit as a page (`GET /kurs/{id}`) and as JSON (`GET /api/units/{id}`).

Answers refer to other units by title, linked here ("[KI-Readiness](/kurs/grundlagen-02-ki-readiness)"),
so a reader can open the whole unit from the widget, the tutor or any page. The unit is rebuilt
from the indexed blocks (the index is the one source of truth); raw HTML in the course text is
shown as text, and only links to other units are rendered as links.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt

from ..normen import de_date
from .deps import Service

router = APIRouter()
UNIT_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_MD = (MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable("table")
       .disable(["image", "autolink", "reference"]))
_UNIT_LINK = re.compile(r'<a href="(?!/kurs/[a-z0-9-]+")[^"]*">(.*?)</a>')


def render_markdown(text: str) -> str:
    """Course Markdown as HTML: no raw HTML, no images; a link survives only when it points to a unit page."""
    return _UNIT_LINK.sub(r"\1", _MD.render(text))


def unit_data(svc: Any, doc_id: str) -> dict[str, Any] | None:
    store = svc.extractive.store()
    if doc_id not in store.docs:
        return None
    meta = store.docs[doc_id]
    sections = []
    for path in store.sections_of(doc_id):
        blocks = store.section(doc_id, path)
        sections.append({"heading_path": path, "markdown": "\n\n".join(store.render(b) for b in blocks)})
    return {"id": doc_id, "title": store.title(doc_id), "typ": meta.get("typ"), "baustein": meta.get("baustein"),
            "stand": str(meta["stand"])[:10] if meta.get("stand") else None,
            "questions": [{"frage": q.text, "rollen": list(q.roles)} for q in store.questions.get(doc_id, [])],
            "related": [{"id": r, "title": store.title(r)} for r in store.related(doc_id)],
            "sections": sections}


def _missing() -> HTTPException:
    return HTTPException(404, "Diese Einheit gibt es im Kurs nicht.")


@router.get("/api/units/{doc_id}")
def unit_json(doc_id: str, svc: Service) -> dict[str, Any]:
    data = unit_data(svc, doc_id) if re.match(UNIT_ID, doc_id) else None
    if data is None:
        raise _missing()
    return data


@router.get("/kurs/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
def unit_page(doc_id: str, svc: Service) -> HTMLResponse:
    data = unit_data(svc, doc_id) if re.match(UNIT_ID, doc_id) else None
    if data is None:
        return HTMLResponse(_page("Einheit nicht gefunden", "<p>Diese Einheit gibt es im Kurs nicht.</p>"),
                            status_code=404)
    e = html.escape
    body = [f'<p class="meta">Stand: {e(de_date(data["stand"]))}</p>' if data["stand"] else ""]
    shown: list[str] = []
    for sec in data["sections"]:
        path = [x for x in sec["heading_path"].split(" › ") if x]
        common = 0
        while common < min(len(shown), len(path)) and shown[common] == path[common]:
            common += 1
        for depth in range(common, len(path)):
            body.append(f"<h{2 + depth}>{e(path[depth])}</h{2 + depth}>")
        shown = path
        body.append(render_markdown(sec["markdown"]))
    if data["questions"]:
        body.append("<h2>Fragen aus der Praxis</h2><ul>" +
                    "".join(f"<li>{e(q['frage'])}</li>" for q in data["questions"]) + "</ul>")
    if data["related"]:
        body.append("<h2>Verwandte Einheiten</h2><ul>" + "".join(
            f'<li><a href="/kurs/{e(r["id"])}">{e(r["title"])}</a></li>' for r in data["related"]) + "</ul>")
    return HTMLResponse(_page(data["title"], "".join(body)))


def _page(title: str, body: str) -> str:
    t = html.escape(title)
    return (f'<!doctype html><html lang="de"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t} – KI-Lernbegleiter</title>'
            '<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;'
            'line-height:1.5;color:#1d2733}table{border-collapse:collapse}td,th{border:1px solid #c8d0da;'
            'padding:.3rem .5rem;vertical-align:top}.meta{color:#5b6675}a{color:#0b5cad}</style></head>'
            f'<body><p><a href="/">KI-Lernbegleiter</a></p><h1>{t}</h1>{body}</body></html>')
