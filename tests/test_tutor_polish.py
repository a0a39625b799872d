"""Tutor pieces of issue #17 without a browser: Markdown answers with lists, tables and unit links stay
safe; course text loses internal ids; feedback, export and delete go through a real session store."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def test_answer_markdown_keeps_structure_and_only_safe_links():
    from ui.tutor import answer_html

    out = answer_html("Kurz [1].\n\n- eins\n- zwei\n\n| Rolle | Pflicht |\n|---|---|\n| Betriebsrat | Mitbestimmung |\n\n"
                      "Siehe [Grundlagen der KI](/kurs/grundlagen-01-grundlagen-der-ki), [extern](https://example.org/x), "
                      "[böse](javascript:alert(1)), [daten](data:text/html,x), [protokoll](//evil.example/x) "
                      "und <img src=x onerror=alert(1)> <script>x</script>.")
    assert "<li>eins</li>" in out and "<table>" in out and "<th>Rolle</th>" in out and "<td>Mitbestimmung</td>" in out
    assert '<a href="/kurs/grundlagen-01-grundlagen-der-ki" target="_blank" rel="noopener noreferrer">Grundlagen der KI</a>' in out
    assert '<a href="https://example.org/x" target="_blank" rel="noopener noreferrer">extern</a>' in out
    assert out.count("<a ") == 2  # javascript:, data: and protocol-relative addresses are no links
    assert "<img" not in out and "<script" not in out and "&lt;img src=x" in out and "&lt;script&gt;" in out


def test_course_text_without_unit_ids():
    from ui.tutor import render_markdown_safe

    out = render_markdown_safe("1. **Grundlagen der KI** (`grundlagen-01-grundlagen-der-ki`): Sie lernen, was KI ist.\n"
                               "2. Code bleibt: `print(1)`")
    assert "grundlagen-01" not in out and "<strong>Grundlagen der KI</strong>: Sie lernen" in out
    assert "<code>print(1)</code>" in out  # only the id references are dropped


def test_export_link_and_like_data():
    from ui.tutor_history import export_html, message_index, rating_of

    assert export_html(None) == "" and export_html('x"><script>') == ""
    link = export_html("AbC_123-def456789")
    assert 'href="/api/sessions/AbC_123-def456789"' in link and "Unterhaltung exportieren (JSON)" in link
    assert (rating_of(True), rating_of(False), rating_of("Like"), rating_of(None)) == ("up", "down", None, None)
    assert (message_index(3), message_index([5, 1]), message_index("x")) == (3, 5, None)


@pytest.fixture
def store(tmp_path):
    from assistant.store.sessions import SessionStore

    s = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    yield s
    s.close()


def test_feedback_and_delete_through_the_session_store(store):
    from ui.tutor_history import (FEEDBACK_GONE, FEEDBACK_THANKS, delete_session, feedback_handler,
                                  store_feedback)

    svc = SimpleNamespace(store=store)
    sid = store.create("works_council").id
    store.add_message(sid, "user", "Frage?")
    mid = store.add_message(sid, "assistant", "Antwort [1].")
    like = feedback_handler(lambda: svc)
    # the chatbot's index 1 is the first answer; the tutor keeps index -> message id
    assert like(sid, {"1": mid}, SimpleNamespace(index=1, liked=False)) == FEEDBACK_THANKS
    assert like(sid, {"1": mid}, SimpleNamespace(index=1, liked=None)) == ""  # undo: nothing stored
    assert store_feedback(svc, sid, "unbekannt", True) == FEEDBACK_GONE
    answer = [m for m in store.export(sid)["messages"] if m["kind"] == "assistant"][0]
    assert [f["rating"] for f in answer["feedback"]] == ["down"]

    assert delete_session(svc, sid) is True
    from assistant.store.sessions import SessionNotFound

    with pytest.raises(SessionNotFound):
        store.export(sid)
    assert delete_session(svc, sid) is True  # already gone counts as deleted
    assert store_feedback(svc, sid, mid, True) == FEEDBACK_GONE


def test_german_labels_script_covers_gradios_english_names():
    from ui.tutor_history import LABELS_DE, tutor_js

    js = tutor_js()
    for english in ("More tabs", "chatbot conversation", "Like", "Dislike"):
        assert english in LABELS_DE and LABELS_DE[english] in js
    assert "'s message: " in js and "Ihre Frage: " in js and "DOMParser" in js


def test_course_view_leaves_out_retrieval_keys():
    """The index keeps authored questions (kind "frage", chunk_index -1) under the unit's doc_id as extra
    retrieval keys: the Kurs tab shows the unit's own text only, in reading order."""
    from assistant.search.index import StoredPassage
    from ui.tutor import document_passages

    def p(i, chunk, text, **meta):
        return StoredPassage(f"p{i}", text, {"doc_id": "u", "source": "u.md", "chunk_index": chunk, **meta})

    stored = [p(1, -1, "Schlüssel", kind="frage", heading_path="B"), p(2, 1, "Zwei", heading_path="B"),
              p(3, 0, "Eins", heading_path="A")]
    svc = SimpleNamespace(index=SimpleNamespace(where=lambda where, limit: list(stored)))
    assert [x.text for x in document_passages(svc, "u")] == ["Eins", "Zwei"]
