"""The toolkits over HTTP on a real uvicorn server (`python -m assistant serve`, the shipped corpus indexed),
the CLI as a user runs it, and the tutor forms and a download in a real Chromium."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import httpx
import pytest

from .browser import artifact, launch, require_chromium
from .conftest import free_port, wait_http

CASE = {"branche": "Gebäudereinigung", "beschaeftigte": 120, "betriebsrat": True, "werkzeuge": "Einsatz-App",
        "einsatz": ["personaleinsatz", "zeiterfassung"], "daten": ["beschaeftigte", "standort"], "cloud": True}
CHECK = {"beschreibung": "App teilt Touren nach gemessener Arbeitsgeschwindigkeit zu", "einsatz": ["personaleinsatz"],
         "daten": ["standort", "leistung"], "anbieter": "TourPlan AG", "cloud": True, "beschaeftigte": 120}


@pytest.fixture(scope="module")
def server(corpus_data_dir):
    port = free_port()
    env = {**os.environ, "LB_DATA_DIR": str(corpus_data_dir), "LB_RATE_LIMIT_PER_MINUTE": "0",
           "LB_RATE_LIMIT_SEARCH_PER_MINUTE": "0", "LB_RATE_LIMIT_TUTOR_PER_MINUTE": "0",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("LB_LLM_BASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/health", timeout=120, proc=proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_briefing_json_and_downloads(server):
    from docx import Document as Docx
    from pypdf import PdfReader

    r = httpx.post(f"{server}/api/briefing", json=CASE, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    labels = {i["label"] for s in body["document"]["sections"] for i in s["items"]}
    assert {"Anhang III Nr. 4 KI-Verordnung", "§ 87 Abs. 1 Nr. 6 BetrVG", "Art. 35 DSGVO"} <= labels
    assert "keine Rechtsberatung" in body["markdown"] and body["document"]["stand"] == "2026-11-29"

    r = httpx.post(f"{server}/api/briefing?format=docx", json=CASE, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="briefing-2026-11-29.docx"' in r.headers["content-disposition"]
    text = "\n".join(p.text for p in Docx(io.BytesIO(r.content)).paragraphs)
    assert "Briefing für das Beratungsgespräch" in text and "Gebäudereinigung" in text

    r = httpx.post(f"{server}/api/check?format=pdf", json=CHECK, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages).split())
    assert "Prüfung eines KI-Systems für den Betriebsrat" in text and "Art. 26 KI-Verordnung" in text
    assert "keine Rechtsberatung" in text


@pytest.mark.parametrize("path, body, query, status, fragment", [
    ("/api/briefing", {}, "", 422, "Feld „branche“ fehlt"),
    ("/api/briefing", {"branche": "  "}, "", 422, "Bitte die Branche des Betriebs angeben"),
    ("/api/briefing", {"branche": "Bäckerei", "einsatz": ["wahrsagen"]}, "", 422, "Unbekannter Einsatzbereich"),
    ("/api/briefing", {"branche": "Bäckerei", "beschaeftigte": 0}, "", 422, "außerhalb des erlaubten Bereichs"),
    ("/api/briefing", {"branche": "Bäckerei", "farbe": "blau"}, "", 422, "Feld „farbe“ ist ungültig"),
    ("/api/briefing", {"branche": "Bäckerei"}, "?format=odt", 422, "Unbekanntes Format"),
    ("/api/briefing", {"branche": "x" * 201}, "", 422, "ist zu lang"),
    ("/api/check", {"beschreibung": " "}, "", 422, "Bitte beschreiben Sie, was das KI-System tut"),
    ("/api/check", {"beschreibung": "Chatbot", "daten": ["gedanken"]}, "", 422, "Unbekannte Datenart"),
    ("/api/check", {"beschreibung": "Chat\u0000bot"}, "", 422, "unzulässige Zeichen"),
    ("/api/perspectives", {"question": ""}, "", 422, "darf nicht leer sein"),
    ("/api/perspectives", {"question": "Was ist KI?", "roles": ["chef"]}, "", 422, "Unbekannte Rolle"),
])
def test_bad_input_gets_a_german_4xx(server, path, body, query, status, fragment):
    r = httpx.post(f"{server}{path}{query}", json=body, timeout=30)
    assert r.status_code == status, r.text
    assert fragment in r.json()["error"]


def test_non_json_is_refused_in_german(server):
    r = httpx.post(f"{server}/api/check", content=b"beschreibung=x",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "JSON" in r.json()["error"]


def test_perspectives_answer_once_per_role(server):
    r = httpx.post(f"{server}/api/perspectives",
                   json={"question": "Was muss ein Betrieb bei einer KI-Zeiterfassung beachten?"}, timeout=180)
    assert r.status_code == 200, r.text
    answers = r.json()["answers"]
    assert [a["role"] for a in answers] == ["owner", "works_council", "employee"]
    for a in answers:
        assert a["error"] is None and len(a["answer"]) > 80 and a["sources"], a["role"]
        assert a["session_id"] and a["message_id"]  # stored like every answer: feedback can follow
    assert [a["label"] for a in answers] == ["Geschäftsführung", "Betriebsrat", "Beschäftigte"]
    assert len({a["answer"] for a in answers}) == 3  # role-shaped, not the same text three times


def test_cli_briefing_and_check(tmp_path):
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "assistant", "briefing", "--branche", "Dachdecker", "--einsatz", "texte"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Briefing für das Beratungsgespräch") and "Art. 4 KI-Verordnung" in r.stdout
    out = tmp_path / "pruefung.pdf"
    r = subprocess.run([sys.executable, "-m", "assistant", "check", "--beschreibung", "Cobot mit Kamera",
                        "--einsatz", "maschinen", "--daten", "leistung", "-f", "pdf", "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(b"%PDF")
    r = subprocess.run([sys.executable, "-m", "assistant", "check", "--beschreibung", "x", "--daten", "gedanken"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "Unbekannte Angabe für --daten" in r.stderr


@pytest.mark.browser
def test_tutor_forms_and_a_download_in_the_browser(server, tmp_path):
    require_chromium()
    from docx import Document as Docx
    from playwright.sync_api import expect, sync_playwright
    from pypdf import PdfReader

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1100}, locale="de-DE", accept_downloads=True)
        page.goto(f"{server}/tutor/", wait_until="domcontentloaded")
        expect(page.get_by_text("KI-Lernbegleiter – Tutor").first).to_be_visible(timeout=30_000)

        # Briefing: fill the form, see the document, download the DOCX
        page.get_by_role("tab", name="Briefing (Beratung)").click()
        page.locator("#briefing-branche textarea, #briefing-branche input").first.fill("Tischlerei")
        page.locator("#briefing-beschaeftigte textarea, #briefing-beschaeftigte input").first.fill("25")
        page.locator("#briefing-betriebsrat").get_by_text("Es gibt einen Betriebsrat").click()
        page.locator("#briefing-einsatz").get_by_text("Zeiterfassung oder Ortung").click()
        page.locator("#briefing-sorgen textarea").fill("Das kostet zu viel")
        page.locator("#briefing-go").click()
        text = page.locator("#briefing-text")
        expect(text).to_contain_text("§ 87 Abs. 1 Nr. 6 BetrVG", timeout=60_000)
        expect(text).to_contain_text("keine Rechtsberatung")
        expect(text).to_contain_text("Einwand „Das kostet zu viel.“")
        page.screenshot(path=str(artifact("tutor-briefing.png")), full_page=True)
        with page.expect_download(timeout=30_000) as dl:
            page.locator("#briefing-docx").click()
        target = tmp_path / dl.value.suggested_filename
        dl.value.save_as(target)
        assert target.suffix == ".docx"
        docx_text = "\n".join(par.text for par in Docx(str(target)).paragraphs)
        assert "Tischlerei" in docx_text and "§ 87 Abs. 1 Nr. 6 BetrVG" in docx_text

        # Check: fill the form, see the document, download the PDF
        page.get_by_role("tab", name="KI-System prüfen (Betriebsrat)").click()
        page.locator("#check-beschreibung textarea").fill("Software sortiert Bewerbungen vor")
        page.locator("#check-einsatz").get_by_text("Personalauswahl").click()
        page.locator("#check-entscheidet").get_by_text("Das System trifft").click()
        page.locator("#check-go").click()
        text = page.locator("#check-text")
        expect(text).to_contain_text("Anhang III Nr. 4 KI-Verordnung", timeout=60_000)
        expect(text).to_contain_text("Frage 21")
        page.screenshot(path=str(artifact("tutor-check.png")), full_page=True)
        with page.expect_download(timeout=30_000) as dl:
            page.locator("#check-pdf").click()
        target = tmp_path / dl.value.suggested_filename
        dl.value.save_as(target)
        pdf_text = " ".join(" ".join(pg.extract_text() for pg in PdfReader(str(target)).pages).split())
        assert "Anhang III Nr. 4 KI-Verordnung" in pdf_text and "Art. 22 DSGVO" in pdf_text

        # Aus allen Blickwinkeln: three columns, each role-shaped
        page.get_by_role("tab", name="Aus allen Blickwinkeln").click()
        page.locator("#blickwinkel-frage textarea").fill("Was bedeutet KI-Kompetenz für unseren Betrieb?")
        page.locator("#blickwinkel-go").click()
        for role, label in (("owner", "Geschäftsführung"), ("works_council", "Betriebsrat"),
                            ("employee", "Beschäftigte")):
            column = page.locator(f"#blickwinkel-{role}")
            expect(column.locator(".lb-sources-short li").first).to_be_visible(timeout=120_000)
            expect(column.locator("h3")).to_have_text(label)
        texts = [page.locator(f"#blickwinkel-{r}").inner_text() for r in ("owner", "works_council", "employee")]
        assert len(set(texts)) == 3
        page.screenshot(path=str(artifact("tutor-blickwinkel.png")), full_page=True)
        browser.close()
