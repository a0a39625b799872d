"""The Gradio tutor app, mounted into the FastAPI app at ``/tutor``.

Three tabs: "Fragen" (chat with streaming, sources and follow-up questions), "Kurs" (the
Lernsequenzen of each Baustein, read from the index) and "Umsetzungshilfen". Every answer
comes from ``ChatService.chat`` and every course text from ``ChatService.index``: the
tutor has no pipeline of its own. The service is created in the FastAPI lifespan, so the
tutor only gets a callable and asks it on each request.

Corpus and answer text is always escaped before Gradio renders it: passage text can never
become live HTML (no tags, no links, no images).
"""

from __future__ import annotations

import html
import inspect
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Gradio must not phone home; set before gradio is imported (it reads the variable in places).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

from assistant.normen import de_date  # noqa: E402
from assistant.roles import Role, parse_role  # noqa: E402
from ui.tutor_history import (DELETE_FAILED, DELETED, delete_session, export_html,  # noqa: E402
                              feedback_handler, jump_js, tutor_js)
from ui.tutor_learning import learning_tab  # noqa: E402

if TYPE_CHECKING:
    from assistant.search.index import StoredPassage
    from assistant.service import ChatService

log = logging.getLogger("lernbegleiter")

PATH = "/tutor"
CONCURRENCY = 16  # chats served at once (Gradio's default is 1 per event); Settings.tutor_concurrency
TITLE = "KI-Lernbegleiter – Tutor"
NO_ROLE = ""  # the value of "Keine Angabe"
ROLE_CHOICES: list[tuple[str, str]] = [(r.label, r.value) for r in Role] + [("Keine Angabe", NO_ROLE)]
MAX_FOLLOWUPS = 3
STREAM_EVERY_S = 0.05  # at most ~20 UI updates per second while an answer streams
UNIT_TYPES = ("ueberblick", "lernsequenz")
BAUSTEIN_ORDER = ["grundlagen", "fuehrung", "organisation", "sicherheit", "gesundheit", "betriebsrat"]
BAUSTEIN_LABELS = {"grundlagen": "Grundlagen", "fuehrung": "Führung", "organisation": "Organisation",
                   "sicherheit": "Sicherheit", "gesundheit": "Gesundheit", "betriebsrat": "Betriebsrat"}
HEADING_SEP = " › "
MAX_PASSAGES = 100_000  # "all": PassageIndex.where() needs a limit

SERVICE_MISSING = "Der Lernbegleiter ist noch nicht bereit. Bitte laden Sie die Seite in einem Moment neu."
INDEX_EMPTY = ("Im Index sind noch keine Kursinhalte. Bitte zuerst die Kursunterlagen einlesen: "
               "lernbegleiter ingest corpus/")
INTERNAL_ERROR = "Bei der Beantwortung ist ein interner Fehler aufgetreten. Bitte versuchen Sie es erneut."
SESSION_RESTARTED = "Die bisherige Unterhaltung war nicht mehr vorhanden; es wurde eine neue begonnen."
SOURCES_EMPTY = "Hier erscheinen die Quellen der Antwort."
SOURCES_NONE = "Zu dieser Antwort gibt es keine Quellen aus den Kursunterlagen."
OVERVIEW = "__overview__"  # the "all Umsetzungshilfen" entry; doc ids are slugs and cannot look like this

# --- escaping and rendering -------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$^=])")

# Course text keeps its structure (paragraphs, lists, tables, emphasis) but raw HTML is shown as
# text (html=False) and links, images, autolinks and link references are not recognised at all.
def _safe_md(breaks: bool) -> MarkdownIt:
    return (MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": breaks})
            .enable("table")
            .disable(["link", "image", "autolink", "reference"]))


_MD = _safe_md(breaks=True)  # corpus Markdown has one paragraph or list item per line
_SAFE_LINK = re.compile(r"^(https?://|/(?!/))", re.IGNORECASE)


def _chat_md() -> MarkdownIt:
    """Answers may link to course units: [Titel](/pfad) or http(s) links become links, nothing else does
    (javascript:, data:, mailto: ... stay text). Raw HTML and images stay text as in course text."""
    md = (MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
          .enable("table").disable(["image", "autolink", "reference"]))
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))

    def link_open(renderer, tokens, idx, options, env):  # noqa: ANN001
        tokens[idx].attrSet("target", "_blank")
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_CHAT_MD = _chat_md()
_UNIT_ID = re.compile(r"\s*\(`[a-z0-9]+(?:-[a-z0-9]+)+`\)")  # "Titel (`grundlagen-01-...`)": the id is internal


def md_escape(text: str) -> str:
    """Text for a Markdown renderer (the chatbot) that shows exactly this text: no HTML, no Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_CHECKBOX = re.compile(r"<li>\[([ xX])\]\s*")


def render_markdown_safe(text: str) -> str:
    """Passage Markdown to HTML; raw HTML in the text is escaped, links and images are not rendered,
    internal unit ids in backticks are left out. Checklist items "- [ ] ..." get a box."""
    html_ = _MD.render(_UNIT_ID.sub("", text))
    return _CHECKBOX.sub(lambda m: '<li class="lb-check">' + ("☐ " if m.group(1) == " " else "☑ "), html_)


def answer_html(text: str) -> str:
    """An answer (Markdown with [n] citations) as safe HTML for the chatbot, which shows it as given.
    The chatbot keeps white space (pre-wrap), so the line breaks between tags are dropped."""
    if not text.strip():
        return '<p class="lb-muted">…</p>'
    return re.sub(r">\n+", ">", _CHAT_MD.render(text)).strip()


def question_html(text: str) -> str:
    return "<p>" + esc(text).replace("\n", "<br>") + "</p>"


def _plain(text: str) -> str:
    """A short plain-text version of passage Markdown (for descriptions)."""
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    text = re.sub(r"\*\*|__|`", "", text)
    text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", text, flags=re.M)
    return " ".join(text.split())


def shorten(text: str, limit: int = 220) -> str:
    text = _plain(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:–-")
    return cut + " …"


def sources_html(sources: Sequence[dict[str, Any]] | None) -> str:
    """The sources panel: number, title, heading path, page, and the passage text (all escaped)."""
    if sources is None:
        return f'<div class="lb-sources"><p class="lb-muted">{esc(SOURCES_EMPTY)}</p></div>'
    if not sources:
        return f'<div class="lb-sources"><p class="lb-muted">{esc(SOURCES_NONE)}</p></div>'
    items = []
    for s in sources:
        where = " · ".join(x for x in (str(s.get("heading_path") or ""),
                                       f"S. {s['page']}" if s.get("page") else "",
                                       f"Stand: {de_date(s.get('stand'))}" if de_date(s.get("stand")) else "") if x)
        items.append(
            '<li class="lb-source">'
            f'<div class="lb-source-head"><span class="lb-n">[{esc(s.get("n"))}]</span> '
            f'<strong>{esc(s.get("title") or s.get("source") or "Quelle")}</strong></div>'
            + (f'<div class="lb-where">{esc(where)}</div>' if where else "")
            + f'<details><summary>Textstelle anzeigen</summary><div class="lb-passage">{esc(s.get("text"))}</div>'
            '</details></li>')
    return f'<div class="lb-sources"><ol>{"".join(items)}</ol></div>'


def hilfen_overview_html(helps: Sequence[DocInfo]) -> str:
    items = "".join(f"<dt>{esc(d.title)}</dt><dd>{esc(d.description)}</dd>" for d in helps)
    return ('<div class="lb-doc"><h2>Umsetzungshilfen</h2><p class="lb-muted">Checklisten, Vorlagen und '
            'Schrittpläne, um die Kursinhalte im Betrieb umzusetzen. Wählen Sie links eine Hilfe aus, um sie '
            f'ganz zu lesen.</p><dl class="lb-hilfen">{items}</dl></div>')


def _message(text: str) -> str:
    return f'<div class="lb-message">{esc(text)}</div>'


# --- course content from the index ------------------------------------------------------------


@dataclass
class DocInfo:
    doc_id: str
    title: str
    typ: str
    baustein: str
    nr: int | None
    source: str
    description: str = ""


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _doc_of(p: StoredPassage) -> DocInfo | None:
    m = p.metadata
    if not m.get("doc_id"):
        return None
    return DocInfo(str(m["doc_id"]), str(m.get("titel") or m.get("doc_title") or m["doc_id"]), str(m.get("typ") or ""),
                   str(m.get("baustein") or ""), _int(m.get("nr")), str(m.get("source") or ""))


def list_documents(svc: ChatService, typ: str | None = None) -> list[DocInfo]:
    """One entry per document (doc_id) that has front matter, from the first passages in the index."""
    where: dict[str, Any] = {"chunk_index": 0}
    if typ:
        where = {"$and": [{"chunk_index": 0}, {"typ": typ}]}
    docs: dict[str, DocInfo] = {}
    for p in svc.index.where(where, limit=MAX_PASSAGES):
        d = _doc_of(p)
        if d and d.doc_id not in docs:
            docs[d.doc_id] = d
    return list(docs.values())


def baustein_label(key: str) -> str:
    return BAUSTEIN_LABELS.get(key, key.replace("-", " ").replace("_", " ").capitalize())


def bausteine(docs: Sequence[DocInfo]) -> list[str]:
    keys = {d.baustein for d in docs if d.baustein and d.typ in UNIT_TYPES}
    known = [b for b in BAUSTEIN_ORDER if b in keys]
    return known + sorted(keys - set(known))


def units(docs: Sequence[DocInfo], baustein: str) -> list[DocInfo]:
    """The overview page first, then the Lernsequenzen in learning-path order (nr)."""
    own = [d for d in docs if d.baustein == baustein and d.typ in UNIT_TYPES]
    return sorted(own, key=lambda d: (d.typ != "ueberblick", d.nr if d.nr is not None else 10_000, d.title))


def unit_label(d: DocInfo) -> str:
    if d.typ == "ueberblick":
        return d.title if "überblick" in d.title.lower() else f"Überblick: {d.title}"
    return f"{d.nr}. {d.title}" if d.nr is not None else d.title


def document_passages(svc: ChatService, doc_id: str) -> list[StoredPassage]:
    """All passages of one document in reading order (one source file if several share the doc_id)."""
    passages = [p for p in svc.index.where({"doc_id": doc_id}, limit=MAX_PASSAGES) if _is_course_text(p)]
    if not passages:
        return []
    first_source = min(str(p.metadata.get("source", "")) for p in passages)
    own = [p for p in passages if str(p.metadata.get("source", "")) == first_source
           and p.metadata.get("kind") != "frage"]  # authored questions are listed apart, not as text
    return sorted(own, key=lambda p: _int(p.metadata.get("chunk_index")) or 0)


def _is_course_text(p: StoredPassage) -> bool:
    """A passage of the unit's text; not an extra retrieval key (e.g. an authored question, kind "frage",
    chunk_index -1) that the index keeps under the same doc_id."""
    return not p.metadata.get("kind") and (_int(p.metadata.get("chunk_index")) or 0) >= 0


def document_questions(svc: ChatService, doc_id: str) -> list[str]:
    """The unit's authored questions (front matter `fragen`): how people ask about it."""
    found = svc.index.where({"$and": [{"doc_id": doc_id}, {"kind": "frage"}]}, limit=MAX_PASSAGES)
    return list(dict.fromkeys(str(p.metadata.get("frage", "")) for p in found if p.metadata.get("frage")))


def _strip_overlap(prev: str, nxt: str, min_len: int = 12) -> str | None:
    """The rest of ``nxt`` after the text it repeats from the end of ``prev`` (chunk overlap), or None."""
    for k in range(min(len(prev), len(nxt)), min_len - 1, -1):
        if prev.endswith(nxt[:k]):
            return nxt[k:]
    return None


def assemble_sections(passages: Sequence[StoredPassage]) -> list[tuple[list[str], str]]:
    """[(heading path, Markdown text)] with the overlap between neighbouring passages removed."""
    sections: list[tuple[list[str], str]] = []
    for p in passages:
        path = [x for x in str(p.metadata.get("heading_path") or "").split(HEADING_SEP) if x]
        text = p.text.strip()
        if sections and sections[-1][0] == path:
            prev = sections[-1][1]
            rest = _strip_overlap(prev, text)
            joined = prev + rest if rest is not None else prev + "\n\n" + text
            sections[-1] = (path, joined)
        else:
            sections.append((path, text))
    return sections


def render_document(title: str, passages: Sequence[StoredPassage], meta_line: str = "",
                    questions: Sequence[str] = ()) -> str:
    """A whole unit as safe HTML: headings from the heading paths, passage Markdown rendered without HTML."""
    out = [f'<div class="lb-doc"><h2>{esc(title)}</h2>']
    if meta_line:
        out.append(f'<p class="lb-muted">{esc(meta_line)}</p>')
    shown: list[str] = []
    for path, text in assemble_sections(passages):
        common = 0
        while common < min(len(shown), len(path)) and shown[common] == path[common]:
            common += 1
        for depth in range(common, len(path)):
            level = min(3 + depth, 6)
            out.append(f"<h{level}>{esc(path[depth])}</h{level}>")
        shown = path
        out.append(render_markdown_safe(text))
    if questions:
        out.append("<h3>Fragen aus der Praxis</h3><ul class=\"lb-questions\">" +
                   "".join(f"<li>{esc(q)}</li>" for q in questions) + "</ul>")
    out.append("</div>")
    return "".join(out)


def hilfen(svc: ChatService) -> list[DocInfo]:
    """All Umsetzungshilfen with a short description (front matter ``beschreibung``, else the first
    passage that is not the legal notice)."""
    docs = {d.doc_id: d for d in list_documents(svc, "umsetzungshilfe")}
    first = svc.index.where({"$and": [{"typ": "umsetzungshilfe"}, {"chunk_index": {"$lte": 4}}]}, limit=MAX_PASSAGES)
    first.sort(key=lambda p: _int(p.metadata.get("chunk_index")) or 0)
    for p in first:
        d = docs.get(str(p.metadata.get("doc_id")))
        if d is None or d.description or not _is_course_text(p):
            continue
        described = p.metadata.get("beschreibung") or p.metadata.get("description")
        if described:
            d.description = shorten(str(described))
            continue
        text = p.text.strip()
        if not text or re.match(r"^>\s*Hinweis:", text):
            continue
        d.description = shorten(text)
    return sorted(docs.values(), key=lambda d: d.title.lower())


# --- one chat turn ----------------------------------------------------------------------------


@dataclass
class Turn:
    """What the UI shows for the turn in progress; updated event by event."""
    answer: str = ""
    sources: list[dict[str, Any]] | None = None
    followups: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    session_id: str | None = None
    message_id: str | None = None
    done: bool = False


def accepts_session(svc: ChatService) -> bool:
    try:
        return "session_id" in inspect.signature(svc.chat).parameters
    except (TypeError, ValueError):
        return False


def _events(svc: ChatService, question: str, role: Role | None, session_id: str | None) -> Iterator[dict[str, Any]]:
    if accepts_session(svc):
        return iter(svc.chat(question, role, None, session_id=session_id))
    return iter(svc.chat(question, role, None))


def run_turn(svc: ChatService, question: str, role: Role | None, session_id: str | None) -> Iterator[Turn]:
    """Consume ChatService.chat and yield the growing turn after every event.

    An unknown (deleted, expired) session is dropped and the question asked again in a new session."""
    turn = Turn(session_id=session_id)
    sid = session_id
    for attempt in (1, 2):
        restart = False
        for ev in _events(svc, question, role, sid):
            kind, data = ev.get("event"), ev.get("data")
            if kind == "meta":
                turn.session_id = (data or {}).get("session_id") or turn.session_id
                turn.message_id = (data or {}).get("message_id") or turn.message_id
            elif kind == "delta":
                turn.answer += str((data or {}).get("text", ""))
            elif kind == "reset":
                turn.answer = ""
            elif kind == "notice":
                turn.notices.append(str((data or {}).get("message", "")))
            elif kind == "sources":
                turn.sources = list(data or [])
            elif kind == "followups":
                turn.followups = [str(q) for q in (data or [])][:MAX_FOLLOWUPS]
            elif kind == "done":
                turn.message_id = (data or {}).get("message_id") or turn.message_id
                turn.done = True
            elif kind == "error":
                message = str((data or {}).get("message") or INTERNAL_ERROR)
                if attempt == 1 and sid and not turn.answer and _is_session_gone(message):
                    restart = True
                    break
                turn.error = message
            else:  # unknown or internal events are not shown
                continue
            yield turn
        if not restart:
            return
        sid = None
        turn = Turn(notices=[SESSION_RESTARTED])


def _guarded(turns: Iterator[Turn], fallback: Turn) -> Iterator[Turn]:
    """The user sees a German message for an unexpected failure, never a stack trace."""
    last = fallback
    try:
        for last in turns:
            yield last
    except Exception as exc:
        from assistant.guards import log_failure  # type and place only: the message may quote the question

        log_failure(log, "tutor chat failed", exc)
        last.error = INTERNAL_ERROR
        yield last


def _is_session_gone(message: str) -> bool:
    try:
        from assistant.service import SESSION_GONE  # present once sessions exist
    except ImportError:
        return False
    return message == SESSION_GONE


# --- the Gradio app ---------------------------------------------------------------------------

CSS = """
.lb-sources ol { list-style: none; padding-left: 0; margin: 0; }
.lb-source { margin-bottom: .8em; }
#kurs-einheiten label, #hilfen-liste label { width: 100%; }
.lb-hilfen dt { font-weight: bold; margin-top: .8em; }
.lb-hilfen dd { margin-left: 0; }
.lb-doc li.lb-check { list-style: none; margin-left: -1.1em; }
.lb-error { color: var(--error-text-color); }
.lb-n { font-variant-numeric: tabular-nums; color: var(--body-text-color-subdued); }
.lb-where, .lb-muted { color: var(--body-text-color-subdued); font-size: .92em; }
.lb-passage { white-space: pre-wrap; font-size: .92em; padding: .4em .6em; margin-top: .3em;
              border-left: 3px solid var(--border-color-primary); }
.lb-sources details summary { cursor: pointer; font-size: .9em; }
.lb-doc h2 { margin-top: 0; }
.lb-doc table { border-collapse: collapse; margin: .6em 0; }
.lb-doc th, .lb-doc td { border: 1px solid var(--border-color-primary); padding: .25em .5em; vertical-align: top; }
.lb-note { font-size: .95em; }
.lb-message { padding: .5em 0; }
.lb-followups { gap: .4em; }
.lb-actions, .lb-confirm { align-items: center; gap: .6em; }
#tutor-actions, #tutor-confirm { min-height: 0; }
.lb-status:empty { display: none; }
.lb-export { font-size: .92em; }
.lb-status p { margin: 0; color: var(--body-text-color-subdued); }
#tutor-chat .icon-button-wrapper.top-panel { display: none !important; } /* its only button: "Chat leeren" */
#tutor-chat ul, #tutor-chat ol { padding-left: 1.4em; }
#tutor-chat table { border-collapse: collapse; margin: .4em 0; }
#tutor-chat th, #tutor-chat td { border: 1px solid var(--border-color-primary); padding: .2em .45em; vertical-align: top; }
"""


def _service(get_service: Callable[[], ChatService]) -> ChatService:
    try:
        svc = get_service()
    except Exception as err:  # e.g. the lifespan has not run yet
        raise gr.Error(SERVICE_MISSING) from err
    if svc is None:
        raise gr.Error(SERVICE_MISSING)
    return svc


def _note(notices: Sequence[str]) -> Any:
    notices = [n for n in notices if n]
    if not notices:
        return gr.update(value="", visible=False)
    return gr.update(value="\n\n".join(f"**Hinweis:** {md_escape(n)}" for n in notices), visible=True)


def _followup_updates(questions: Sequence[str]) -> list[Any]:
    qs = list(questions)[:MAX_FOLLOWUPS]
    return [gr.update(value=qs[i], visible=True) if i < len(qs) else gr.update(value="", visible=False)
            for i in range(MAX_FOLLOWUPS)]


def build_tutor(get_service: Callable[[], ChatService]) -> gr.Blocks:
    """The tutor UI. ``get_service`` is called on every request (the service lives in app.state)."""

    # --- handlers: Fragen -----------------------------------------------------------------

    def ask(question: str, role_value: str, session_id: str | None, history: list[dict[str, str]],
            message_ids: dict[str, str] | None):
        for out in _ask(question, role_value, session_id, history):
            turn = out[-1]
            ids = dict(message_ids or {})
            if turn is not None and turn.message_id:
                ids[str(len(out[1]) - 1)] = turn.message_id  # chatbot index of this answer -> its message id
            sid = out[5]
            yield (*out[:-1], ids, export_html(sid), gr.update(visible=bool(out[1])), "")

    def _ask(question: str, role_value: str, session_id: str | None, history: list[dict[str, str]]):
        question = (question or "").strip()
        if not question:
            yield (history, history, gr.update(), gr.update(), gr.update(), session_id,
                   *[gr.update()] * MAX_FOLLOWUPS, None)
            return
        svc = _service(get_service)
        role = parse_role(role_value or None)
        history = [*history, {"role": "user", "content": question_html(question)},
                   {"role": "assistant", "content": answer_html("")}]
        yield (history, history, "", sources_html(None), _note([]), session_id, *_followup_updates([]), None)
        last = 0.0
        turn = Turn(session_id=session_id)
        for turn in _guarded(run_turn(svc, question, role, session_id), turn):
            now = time.monotonic()
            if now - last < STREAM_EVERY_S and not (turn.done or turn.error):
                continue
            last = now
            history[-1] = {"role": "assistant", "content": answer_html(turn.answer)}
            yield (history, history, gr.update(), gr.update(), _note(turn.notices), turn.session_id,
                   *[gr.update()] * MAX_FOLLOWUPS, turn)
        content = answer_html(turn.answer) if turn.answer or not turn.error else ""
        if turn.error:
            content += f'<p class="lb-error"><strong>Fehler:</strong> {esc(turn.error)}</p>'
        history[-1] = {"role": "assistant", "content": content}
        yield (history, history, gr.update(), sources_html(turn.sources if turn.sources is not None else []),
               _note(turn.notices), turn.session_id, *_followup_updates(turn.followups), turn)

    def delete_history(session_id: str | None):
        """ "Verlauf löschen" confirmed: the stored conversation is deleted (as DELETE /api/sessions/{id}),
        the view starts afresh."""
        if not delete_session(_service(get_service), session_id):
            return (*[gr.update()] * (8 + MAX_FOLLOWUPS), gr.update(visible=True), gr.update(visible=False),
                    DELETE_FAILED)
        return ([], [], None, "", sources_html(None), _note([]), *_followup_updates([]), {}, "",
                gr.update(visible=False), gr.update(visible=False), DELETED)

    # --- handlers: Kurs -------------------------------------------------------------------

    def load_course():
        svc = _service(get_service)
        docs = list_documents(svc)
        keys = bausteine(docs)
        helps = hilfen(svc)
        hilfe_choices = [("Übersicht: alle Umsetzungshilfen", OVERVIEW)] + [(d.title, d.doc_id) for d in helps]
        if not keys:
            return (gr.update(choices=[], value=None), gr.update(choices=[], value=None), _message(INDEX_EMPTY),
                    gr.update(choices=[], value=None), _message(INDEX_EMPTY))
        unit_update, text = _units_of(docs, keys[0])
        return (gr.update(choices=[(baustein_label(k), k) for k in keys], value=keys[0]), unit_update, text,
                gr.update(choices=hilfe_choices, value=OVERVIEW),
                hilfen_overview_html(helps) if helps else _message("Im Index sind keine Umsetzungshilfen."))

    def _units_of(docs: list[DocInfo], key: str):
        """The unit list of a Baustein, its overview page (or first unit) selected and shown."""
        own = units(docs, key)
        if not own:
            return gr.update(choices=[], value=None), _message("Zu diesem Baustein gibt es keine Einheiten.")
        return (gr.update(choices=[(unit_label(d), d.doc_id) for d in own], value=own[0].doc_id),
                show_document(own[0].doc_id))

    def choose_baustein(key: str | None):
        if not key:
            return gr.update(choices=[], value=None), _message("Wählen Sie einen Baustein.")
        return _units_of(list_documents(_service(get_service)), key)

    def show_document(doc_id: str | None) -> str:
        if not doc_id:
            return _message("Wählen Sie links eine Einheit aus.")
        passages = document_passages(_service(get_service), doc_id)
        if not passages:
            return _message("Diese Einheit ist nicht (mehr) im Index.")
        m = passages[0].metadata
        title = str(m.get("titel") or m.get("doc_title") or doc_id)
        bits = []
        if m.get("baustein"):
            bits.append(f"Baustein {baustein_label(str(m['baustein']))}")
        stand = de_date(m.get("stand"))
        if stand and not any(f"Stand: {stand}" in p.text for p in passages):  # one date, in one format
            bits.append(f"Stand: {stand}")
        return render_document(title, passages, " · ".join(bits), document_questions(_service(get_service), doc_id))

    def show_hilfe(doc_id: str | None) -> str:
        if not doc_id or doc_id == OVERVIEW:
            return hilfen_overview_html(hilfen(_service(get_service)))
        return show_document(doc_id)

    # --- layout -----------------------------------------------------------------------------

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nFragen zur KI-Kompetenz im Betrieb – beantwortet aus den Kursunterlagen, "
                    "mit Quellenangaben. [Was wird gespeichert?](/was-wird-gespeichert)")
        with gr.Tabs():
            with gr.Tab("Fragen", id="fragen"):
                session = gr.State(None)
                history = gr.State([])
                message_ids = gr.State({})  # chatbot index of an answer -> its stored message id (feedback)
                role = gr.Radio(ROLE_CHOICES, value=NO_ROLE, label="Ich frage als …", elem_id="tutor-role")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        # the conversation's tools on top, in view on a laptop screen: export, "Verlauf
                        # löschen" (asks first) and the status line of feedback and deletion
                        with gr.Row(visible=False, elem_id="tutor-actions", elem_classes=["lb-actions"]) as actions:
                            export = gr.HTML("", elem_id="tutor-export", js_on_load=None)
                            clear = gr.Button("Verlauf löschen", size="sm", variant="secondary",
                                              elem_id="tutor-clear", scale=0, min_width=140)
                        with gr.Row(visible=False, elem_id="tutor-confirm", elem_classes=["lb-confirm"]) as confirm:
                            with gr.Column(scale=3, min_width=260):
                                gr.Markdown("**Wirklich löschen?** Alle Fragen, Antworten und Rückmeldungen dieser "
                                            "Unterhaltung werden gelöscht.")
                            with gr.Column(scale=1, min_width=220), gr.Row():
                                clear_yes = gr.Button("Löschen", size="sm", variant="stop", elem_id="tutor-clear-yes",
                                                      min_width=90)
                                clear_no = gr.Button("Abbrechen", size="sm", variant="secondary",
                                                     elem_id="tutor-clear-no", min_width=90)
                        status = gr.Markdown("", elem_id="tutor-status", elem_classes=["lb-status"])
                        # messages are HTML made here from escaped text (render_markdown=False: shown as
                        # given, still passed through Gradio's sanitizer). Thumbs as in the widget; no
                        # clear icon: "Verlauf löschen" below is the one way to clear (issue #17).
                        chat = gr.Chatbot(label="Unterhaltung", show_label=False, elem_id="tutor-chat",
                                          height="min(420px, 46vh)", min_height=260, latex_delimiters=[],
                                          buttons=[], feedback_options=("Like", "Dislike"), sanitize_html=True,
                                          render_markdown=False, allow_tags=False, autoscroll=True,
                                          placeholder="Stellen Sie unten Ihre Frage, z. B. „Was muss der "
                                                      "Betriebsrat bei der Einführung von KI beachten?“")
                        note = gr.Markdown(visible=False, elem_id="tutor-note", elem_classes=["lb-note"])
                        with gr.Row(elem_id="tutor-followups", elem_classes=["lb-followups"]):
                            followups = [gr.Button("", visible=False, size="sm", elem_classes=["lb-followup"])
                                         for _ in range(MAX_FOLLOWUPS)]
                        with gr.Row():
                            question = gr.Textbox(label="Ihre Frage", show_label=False, container=False,
                                                  placeholder="Ihre Frage …", lines=1, max_lines=6, max_length=2000,
                                                  scale=5, elem_id="tutor-question", submit_btn=False)
                            send = gr.Button("Senden", variant="primary", scale=1, elem_id="tutor-send")
                    with gr.Column(scale=2):
                        gr.Markdown("### Quellen")
                        sources = gr.HTML(sources_html(None), elem_id="tutor-sources", js_on_load=None)
            with gr.Tab("Kurs", id="kurs"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=280):
                        baustein = gr.Dropdown(choices=[], label="Baustein", elem_id="kurs-baustein",
                                               interactive=True)
                        unit = gr.Radio(choices=[], label="Einheiten", elem_id="kurs-einheiten")
                    with gr.Column(scale=2):
                        unit_text = gr.HTML(_message("Der Kurs wird geladen …"), elem_id="kurs-text",
                                            js_on_load=None)
            with gr.Tab("Umsetzungshilfen", id="hilfen"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=280):
                        hilfe_list = gr.Radio(choices=[], label="Umsetzungshilfen", elem_id="hilfen-liste")
                    with gr.Column(scale=2):
                        hilfe_text = gr.HTML(_message("Die Umsetzungshilfen werden geladen …"),
                                             elem_id="hilfen-text", js_on_load=None)
            learning_tab()  # ui/tutor_learning.py: path, units, quiz, progress, record
            __import__("ui.tutor_toolkits").tutor_toolkits.toolkit_tabs(get_service)  # briefing, check, perspectives

        chat_outputs = [chat, history, question, sources, note, session, *followups, message_ids, export, actions,
                        status]
        send_args = dict(fn=ask, inputs=[question, role, session, history, message_ids], outputs=chat_outputs,
                         show_progress="hidden", api_name="ask")
        question.submit(**send_args)
        send.click(**{**send_args, "api_name": False})
        for b in followups:
            b.click(lambda q: q, inputs=b, outputs=question, queue=False, show_progress="hidden",
                    api_name=False).then(**{**send_args, "api_name": False})
        chat.like(feedback_handler(get_service), inputs=[session, message_ids], outputs=status,
                  show_progress="hidden", api_name=False)
        clear.click(lambda: (gr.update(visible=True), ""), outputs=[confirm, status], queue=False,
                    show_progress="hidden", api_name=False)
        clear_no.click(lambda: gr.update(visible=False), outputs=confirm, queue=False, show_progress="hidden",
                       api_name=False)
        clear_yes.click(delete_history, inputs=session,
                        outputs=[chat, history, session, question, sources, note, *followups, message_ids, export,
                                 actions, confirm, status], show_progress="hidden", api_name=False)

        demo.load(load_course, outputs=[baustein, unit, unit_text, hilfe_list, hilfe_text], show_progress="hidden")
        baustein.input(choose_baustein, inputs=baustein, outputs=[unit, unit_text], show_progress="hidden")
        unit.input(show_document, inputs=unit, outputs=unit_text, show_progress="hidden").then(
            None, js=jump_js("kurs-text"))
        hilfe_list.input(show_hilfe, inputs=hilfe_list, outputs=hilfe_text, show_progress="hidden").then(
            None, js=jump_js("hilfen-text"))
    return demo


def mount_tutor(app: FastAPI, get_service: Callable[[], ChatService], concurrency: int = CONCURRENCY) -> FastAPI:
    """Mount the tutor at /tutor: offline (no analytics, no share link, no SSR/Node, no run history).

    ``concurrency``: how many chat answers (and other events) the tutor's queue runs at once; Gradio's
    default of 1 per event would make every user wait for the one before."""
    blocks = build_tutor(get_service)
    blocks.queue(default_concurrency_limit=max(1, int(concurrency)))
    return gr.mount_gradio_app(
        app, blocks, path=PATH, footer_links=[], run_history=False, ssr_mode=False,
        mcp_server=False, pwa=False, show_error=False, css=CSS, theme=theme(), js=tutor_js(),
        max_file_size=1,  # the tutor takes no files; the upload routes are closed by assistant.guards as well
    )


def theme() -> gr.themes.Base:
    """Gradio's default theme with its bundled fonts in regular and bold only: the bundled
    semibold files are tiny subsets, so semibold text would mix in fallback glyphs."""
    return gr.themes.Default(
        font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"),
    )
