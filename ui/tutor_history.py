"""The tutor's conversation tools, the same as the widget's and through the same session store as
the HTTP API: thumbs feedback on an answer (``POST /api/feedback``'s store call), export of the
conversation (a link to ``GET /api/sessions/{id}``) and "Verlauf löschen" with a confirmation
(``DELETE /api/sessions/{id}``'s store call). Also the browser-side script of the tutor: German
screen-reader labels instead of Gradio's built-in English ones, and on a phone a jump to the chosen
unit or aid.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from assistant.service import ChatService

log = logging.getLogger("lernbegleiter")

FEEDBACK_THANKS = "Danke für Ihre Rückmeldung!"
FEEDBACK_FAILED = "Die Rückmeldung konnte nicht gespeichert werden."
FEEDBACK_GONE = "Zu dieser Antwort kann keine Rückmeldung gespeichert werden (Unterhaltung nicht mehr vorhanden)."
DELETED = "Der Verlauf wurde gelöscht."
DELETE_FAILED = "Der Verlauf konnte nicht gelöscht werden. Bitte versuchen Sie es erneut."
_SID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def export_html(session_id: str | None, api_prefix: str = "") -> str:
    """A download link to the conversation's JSON export (the API's GET /api/sessions/{id})."""
    if not session_id or not _SID.match(session_id):
        return ""
    href = html.escape(f"{api_prefix}/api/sessions/{session_id}", quote=True)
    return (f'<a class="lb-export" href="{href}" download="lernbegleiter-unterhaltung.json" '
            'target="_blank" rel="noopener">Unterhaltung exportieren (JSON)</a>')


def rating_of(liked: Any) -> str | None:
    """Gradio's LikeData.liked: True = thumbs up, False = thumbs down; anything else (undo) is no rating."""
    if liked is True:
        return "up"
    if liked is False:
        return "down"
    return None


def store_feedback(svc: ChatService, session_id: str | None, message_id: str | None, liked: Any) -> str:
    """Store a thumbs rating like the widget does; returns the German status line."""
    rating = rating_of(liked)
    if rating is None:
        return ""
    if svc.store is None or not session_id or not message_id:
        return FEEDBACK_FAILED
    from assistant.store.sessions import MessageNotFound, SessionNotFound

    try:
        svc.store.add_feedback(session_id, message_id, rating, None, [])
    except (SessionNotFound, MessageNotFound):
        return FEEDBACK_GONE
    except Exception as exc:  # noqa: BLE001 - the user gets a German line, the log the type
        from assistant.guards import log_failure

        log_failure(log, "tutor feedback failed", exc)
        return FEEDBACK_FAILED
    return FEEDBACK_THANKS


def delete_session(svc: ChatService, session_id: str | None) -> bool:
    """Delete the stored conversation; an unknown session counts as deleted."""
    if not session_id or svc.store is None:
        return True
    from assistant.store.sessions import SessionNotFound

    try:
        svc.store.delete(session_id)
    except SessionNotFound:
        return True
    except Exception as exc:  # noqa: BLE001
        from assistant.guards import log_failure

        log_failure(log, "tutor delete failed", exc)
        return False
    return True


def message_index(index: Any) -> int | None:
    """LikeData.index of a messages-format chatbot: an int (older Gradio: [row, column])."""
    if isinstance(index, int):
        return index
    if isinstance(index, (list, tuple)) and index and isinstance(index[0], int):
        return index[0]
    return None


def feedback_handler(get_service: Callable[[], ChatService]) -> Callable[..., str]:
    def on_like(session_id: str | None, message_ids: dict[str, str] | None, data: gr.LikeData) -> str:
        idx = message_index(getattr(data, "index", None))
        mid = (message_ids or {}).get(str(idx)) if idx is not None else None
        try:
            svc = get_service()
        except Exception:  # noqa: BLE001
            return FEEDBACK_FAILED
        return store_feedback(svc, session_id, mid, getattr(data, "liked", None))

    return on_like


# --- browser side -----------------------------------------------------------------------------

# Gradio's own accessible names are English and the chatbot's message labels contain the message
# HTML ("user's message: <p>...</p>"). This rewrites them in German, with plain text only, whenever
# Gradio (re)renders them. Selectors only touch aria-label/title attributes: if a Gradio update
# renames something, the label stays English but nothing breaks.
LABELS_DE = {
    "More tabs": "Weitere Tabs",
    "chatbot conversation": "Unterhaltung",
    "Like": "Hilfreich",
    "Dislike": "Nicht hilfreich",
    "Copy message": "Nachricht kopieren",
    "Copy": "Kopieren",
    "Copied message": "Nachricht kopiert",
    "Copy conversation": "Unterhaltung kopieren",
    "Clear": "Leeren",
    "Scroll down": "Nach unten scrollen",
    "Scroll to bottom": "Nach unten scrollen",
    "Share": "Teilen",
    "Retry": "Erneut versuchen",
    "Undo": "Rückgängig",
    "Edit": "Bearbeiten",
    "Submit": "Senden",
    "Stop": "Anhalten",
    "Close": "Schließen",
    "Loading": "Wird geladen",
    "Loading...": "Wird geladen …",
    "Error": "Fehler",
    "Dropdown": "Auswahl",
}

TUTOR_JS = """() => {
  const LABELS = %LABELS%;
  // the message's own markup in the label -> its plain text (DOMParser runs no scripts, loads nothing)
  const plain = (markup) => (new DOMParser().parseFromString(markup, 'text/html').body.textContent || '')
    .replace(/\\s+/g, ' ').trim().slice(0, 300);
  const fix = (el) => {
    for (const attr of ['aria-label', 'title']) {
      const v = el.getAttribute(attr);
      if (!v) continue;
      let nv = v;
      const m = /^(\\w+)'s message: /.exec(v);
      if (m) nv = (m[1] === 'user' ? 'Ihre Frage: ' : 'Antwort des Lernbegleiters: ') + plain(v.slice(m[0].length));
      else if (Object.prototype.hasOwnProperty.call(LABELS, v)) nv = LABELS[v];
      else if (/[<>]/.test(v)) nv = v.replace(/<[^>]*>/g, ' ').replace(/\\s+/g, ' ').trim();
      if (nv !== v) el.setAttribute(attr, nv);
    }
  };
  const scan = (root) => {
    if (root.nodeType !== 1) return;
    if (root.hasAttribute('aria-label') || root.hasAttribute('title')) fix(root);
    root.querySelectorAll('[aria-label], [title]').forEach(fix);
  };
  scan(document.body);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') fix(r.target);
      else r.addedNodes.forEach(scan);
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['aria-label', 'title']});
  document.documentElement.lang = 'de';
}"""


def tutor_js() -> str:
    import json

    return TUTOR_JS.replace("%LABELS%", json.dumps(LABELS_DE, ensure_ascii=False))


def jump_js(elem_id: str) -> str:
    """After a unit or aid is chosen on a narrow screen, scroll its text into view (it is below the list)."""
    return (f"() => {{ const el = document.getElementById({elem_id!r}); "
            "if (el && window.matchMedia('(max-width: 900px)').matches) "
            "el.scrollIntoView({block: 'start', behavior: 'smooth'}); }")
