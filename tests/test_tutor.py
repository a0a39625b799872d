"""The Gradio tutor at /tutor: pure helpers, the mounted app, and a real Chromium against a real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from .conftest import free_port, wait_http

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]



# --- fakes ------------------------------------------------------------------------------------


def _p(text, chunk, path="", **meta):
    from assistant.search.index import StoredPassage

    return StoredPassage(f"id{chunk}", text, {"chunk_index": chunk, "heading_path": path, **meta})


class FakeService:
    """Records calls; answers with a fixed event stream. ``session`` toggles the new signature."""

    def __init__(self, events, session=True):
        self.calls = []
        self._events = events
        if session:
            self.chat = self._chat_with_session
        else:
            self.chat = self._chat_without_session

    def _chat_with_session(self, question, role=None, filters=None, session_id=None):
        self.calls.append({"question": question, "role": role, "session_id": session_id})
        yield from self._events(session_id)

    def _chat_without_session(self, question, role=None, filters=None):
        self.calls.append({"question": question, "role": role})
        yield from self._events(None)


def _stream(session_id):
    yield {"event": "meta", "data": {"session_id": session_id or "s-new", "role": "works_council"}}
    yield {"event": "delta", "data": {"text": "Falsch "}}
    yield {"event": "notice", "data": {"message": "Das Sprachmodell ist nicht erreichbar."}}
    yield {"event": "reset", "data": {}}
    yield {"event": "delta", "data": {"text": "Der Betriebsrat <b>bestimmt</b> mit [1]."}}
    yield {"event": "sources", "data": [{"n": 1, "title": "T<script>", "heading_path": "A › B", "page": 3,
                                         "text": "<img src=x onerror=alert(1)>"}]}
    yield {"event": "followups", "data": ["Frage 1?", "Frage 2?", "Frage 3?", "Frage 4?"]}
    yield {"event": "done", "data": {"answerable": True, "sources": 1}}


# --- fast tests -------------------------------------------------------------------------------


def test_build_tutor_returns_blocks_and_mounted_app_serves_it():
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from ui.tutor import TITLE, build_tutor, mount_tutor

    calls = []
    assert isinstance(build_tutor(lambda: calls.append(1)), gr.Blocks)
    assert calls == []  # the service is asked per request, never while building
    app = mount_tutor(FastAPI(), lambda: None)
    with TestClient(app) as client:
        r = client.get("/tutor/")
        assert r.status_code == 200
        assert TITLE in r.text
        config = client.get("/tutor/config").json()
        assert config["analytics_enabled"] is False
        assert not config.get("share_url")


def test_text_is_escaped_everywhere():
    from ui.tutor import answer_html, md_escape, question_html, render_markdown_safe, sources_html

    evil = '<script>alert(1)</script> <img src=x onerror=alert(1)> [klick](javascript:alert(1)) <http://x.y>'
    for out in (render_markdown_safe(evil), answer_html(evil), question_html(evil),
                sources_html([{"n": 1, "title": evil, "heading_path": evil, "text": evil, "page": None}])):
        assert "<script" not in out and "<img" not in out and "<a " not in out and "&lt;script&gt;" in out
    assert "<" not in md_escape(evil) and "\\[klick\\]" in md_escape(evil)
    # structure of course text survives: tables, lists, emphasis
    html = render_markdown_safe("**fett**\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |")
    assert "<strong>fett</strong>" in html and "<li>a</li>" in html and "<table>" in html
    answer = answer_html("Satz eins [1].\n\n**Für Sie als Betriebsrat:**\n- Schritt [2]")
    assert "<strong>Für Sie als Betriebsrat:</strong>" in answer and "<li>Schritt [2]</li>" in answer


def test_sections_are_assembled_in_order_without_chunk_overlap():
    from ui.tutor import assemble_sections, render_document

    a = "Erster Satz des Abschnitts. Zweiter Satz mit Überlappung am Ende."
    b = "Zweiter Satz mit Überlappung am Ende. Dritter Satz."
    passages = [_p("Einleitung.", 0), _p(a, 1, "Teil"), _p(b, 2, "Teil"), _p("Unten.", 3, "Teil › Sub")]
    sections = assemble_sections(passages)
    assert sections == [([], "Einleitung."),
                        (["Teil"], "Erster Satz des Abschnitts. Zweiter Satz mit Überlappung am Ende. Dritter Satz."),
                        (["Teil", "Sub"], "Unten.")]
    html = render_document("Titel", passages)
    assert html.index("<h3>Teil</h3>") < html.index("<h4>Sub</h4>") and html.count("<h3>Teil</h3>") == 1


def test_turn_streams_resets_and_keeps_the_session():
    from assistant.roles import Role
    from ui.tutor import run_turn

    svc = FakeService(_stream)
    turns = [(t.answer, t.session_id) for t in run_turn(svc, "Frage?", Role.works_council, None)]
    assert turns[0] == ("", "s-new") and turns[1][0] == "Falsch "
    final = list(run_turn(svc, "Noch eine?", Role.works_council, "s-new"))[-1]
    assert final.answer == "Der Betriebsrat <b>bestimmt</b> mit [1]." and final.done
    assert final.notices == ["Das Sprachmodell ist nicht erreichbar."]
    assert final.sources[0]["n"] == 1 and final.followups == ["Frage 1?", "Frage 2?", "Frage 3?"]
    assert [c["session_id"] for c in svc.calls] == [None, "s-new"]
    assert svc.calls[0]["role"] is Role.works_council

    old = FakeService(_stream, session=False)  # a service without sessions is called without session_id
    assert list(run_turn(old, "Frage?", None, "s-1"))[-1].done and old.calls == [{"question": "Frage?", "role": None}]


def test_a_failing_service_gives_a_german_message():
    from ui.tutor import INTERNAL_ERROR, Turn, _guarded, run_turn

    def events(session_id):
        yield {"event": "delta", "data": {"text": "Teil "}}
        raise RuntimeError("kaputt")

    final = list(_guarded(run_turn(FakeService(events), "Frage?", None, None), Turn()))[-1]
    assert final.answer == "Teil " and final.error == INTERNAL_ERROR


def test_unknown_session_starts_a_new_one():
    from assistant import service
    from ui.tutor import SESSION_RESTARTED, run_turn

    if not hasattr(service, "SESSION_GONE"):
        pytest.skip("ChatService has no sessions yet")

    def events(session_id):
        if session_id == "weg":
            yield {"event": "error", "data": {"message": service.SESSION_GONE}}
            return
        yield from _stream(session_id)

    svc = FakeService(events)
    final = list(run_turn(svc, "Frage?", None, "weg"))[-1]
    assert final.done and final.error is None and final.session_id == "s-new"
    assert final.notices[0] == SESSION_RESTARTED and [c["session_id"] for c in svc.calls] == ["weg", None]


def test_course_structure_from_the_real_index(corpus_service):
    from ui.tutor import (bausteine, document_passages, hilfen, list_documents, render_document, unit_label,
                          units)

    docs = list_documents(corpus_service)
    assert bausteine(docs) == ["grundlagen", "fuehrung", "organisation", "sicherheit", "gesundheit", "betriebsrat"]
    br = units(docs, "betriebsrat")
    assert br[0].typ == "ueberblick" and [d.nr for d in br[1:]] == list(range(1, 11))
    assert unit_label(br[1]).startswith("1. Betriebsrat:")

    passages = document_passages(corpus_service, "grundlagen-02-ki-readiness")
    html = render_document("KI-Readiness", passages)
    headings = ["Warum ist das Thema wichtig?", "Worum geht es?", "Chancen und Gefahren", "Maßnahmen für den Betrieb",
                "Was das für Sie heißt", "Verständnisfragen"]
    positions = [html.index(f">{h}</h3>") for h in headings]
    assert positions == sorted(positions)
    # overlap removed: the assembled text is about as long as the passages without their overlaps
    body = (Path(__file__).resolve().parent.parent / "corpus/grundlagen/grundlagen-02-ki-readiness.md").read_text()
    first_sentence = body.split("## Warum ist das Thema wichtig?")[1].strip().split(". ")[0]
    assert html.count(first_sentence) == 1

    helps = hilfen(corpus_service)
    assert len(helps) == len(list((Path(__file__).resolve().parent.parent / "corpus/umsetzungshilfen").glob("*.md")))
    assert all(h.description and not h.description.startswith("Hinweis") for h in helps)


# --- the real thing: uvicorn + Chromium -------------------------------------------------------


@pytest.fixture(scope="module")
def server(corpus_data_dir):
    port = free_port()
    env = {**os.environ, "LB_DATA_DIR": str(corpus_data_dir), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/health", timeout=120, proc=proc)
        r = httpx.get(f"{base}/tutor/", timeout=10)
        assert r.status_code == 200, "create_app must mount the tutor: mount_tutor(app, lambda: app.state.service)"
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        reason = "Chromium (Debian package chromium) not installed"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.browser
def test_tutor_answers_in_the_browser_and_lists_the_course(server, browser):
    from playwright.sync_api import expect

    n_hilfen = len(list((Path(__file__).resolve().parent.parent / "corpus/umsetzungshilfen").glob("*.md")))

    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="de-DE")
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(f"{server}/tutor/", wait_until="domcontentloaded")
    expect(page.get_by_text("KI-Lernbegleiter – Tutor").first).to_be_visible(timeout=30_000)

    # Fragen: role Betriebsrat, a question, a streamed answer with its sources and follow-ups
    page.locator("#tutor-role").get_by_text("Betriebsrat", exact=True).click()
    page.locator("#tutor-question textarea").fill("Welche Rechte hat der Betriebsrat bei der Einführung von KI?")
    page.locator("#tutor-send").click()
    chat = page.locator("#tutor-chat")
    expect(chat).to_contain_text("[1]", timeout=90_000)
    expect(chat).to_contain_text("Für Sie als Betriebsrat", timeout=60_000)
    first_source = page.locator("#tutor-sources li.lb-source").first
    expect(first_source).to_be_visible(timeout=30_000)
    expect(first_source).to_contain_text("[1]")
    followup = page.locator(".lb-followup").first
    expect(followup).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tutor.png"), full_page=True)

    # a follow-up click asks the next question in the same conversation
    followup.click()
    expect(chat.locator(".message-row, [data-testid='bot']").filter(has_text="[1]")).to_have_count(2, timeout=90_000)

    # Kurs: the units of a Baustein, and a unit's text
    page.get_by_role("tab", name="Kurs").click()
    units = page.locator("#kurs-einheiten")
    expect(units).to_contain_text("Grundlagen der KI", timeout=30_000)
    text = page.locator("#kurs-text")
    expect(text.locator("h2")).to_have_text("Baustein Grundlagen: Überblick und Lernpfad")  # shown at once
    page.locator("#kurs-baustein input").click()
    page.get_by_role("option", name="Betriebsrat", exact=True).click()
    expect(units).to_contain_text("Betriebsrat: Betriebs- und Dienstvereinbarungen zu KI", timeout=30_000)
    expect(units).to_contain_text("Betriebsratsspur: Überblick und Lernpfad")
    units.get_by_text("5. Betriebsrat: Betriebs- und Dienstvereinbarungen zu KI").click()
    expect(text).to_contain_text("Warum ist das Thema wichtig?", timeout=30_000)
    expect(text.locator("h2")).to_have_text("Betriebsrat: Betriebs- und Dienstvereinbarungen zu KI")
    page.screenshot(path=str(ARTIFACTS / "tutor-kurs.png"), full_page=True)

    # Umsetzungshilfen: list with descriptions, one opened
    page.get_by_role("tab", name="Umsetzungshilfen").click()
    listing = page.locator("#hilfen-liste")
    expect(listing).to_contain_text("KI-Readiness-Check", timeout=30_000)
    overview = page.locator("#hilfen-text")
    expect(overview.locator("dt")).to_have_count(n_hilfen)
    expect(overview).to_contain_text("Mit diesem Check")  # the description of the KI-Readiness-Check
    listing.get_by_text("Checkliste Betriebsvereinbarung KI", exact=True).click()
    expect(page.locator("#hilfen-text h2")).to_have_text("Checkliste Betriebsvereinbarung KI", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "tutor-hilfen.png"), full_page=True)

    # offline: the page loaded nothing from anywhere but our server
    foreign = {urlparse(u).hostname for u in requested if u.startswith("http")} - {"127.0.0.1"}
    assert not foreign, foreign
    page.close()
