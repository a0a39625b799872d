"""The learning page (/lernen) in a real Chromium against a real `python -m assistant serve`, on desktop
and phone: start the works-council path, read a unit with its authored questions, take the quiz with a
wrong answer, see it in "Wiederholen" (and, a day later, answer it), download the record, delete my data.
Plus the widget's "Jetzt lernen" link and the tutor's "Lernpfad" tab. Screenshots in tests/artifacts/."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from assistant.learning.quiz import parse_quiz_file

from .browser import artifact, launch, require_chromium
from .conftest import CORPUS, free_port, wait_http

pytestmark = pytest.mark.browser
UNIT = "grundlagen-01-grundlagen-der-ki"
SOLUTIONS = {it.id: it for it in parse_quiz_file(CORPUS / "_quiz" / f"{UNIT}.yaml")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("learning-browser") / "data"
    port = free_port()
    log = open(data.parent / "server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)],
                            env={**os.environ, "LB_DATA_DIR": str(data), "LB_WARM_CACHE": "0",
                                 "LB_RATE_LIMIT_PER_MINUTE": "0"}, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/health", timeout=120, proc=proc)
    yield base, data
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _page(browser, device):
    if device == "phone":
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, accept_downloads=True, locale="de-DE")
    else:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="de-DE")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, errors


def _choose(fieldset, item, wrong: bool):
    if item.typ == "wahr_falsch":
        truth = item.richtig if not wrong else not item.richtig
        idx = [0 if truth else 1]
    elif wrong:
        idx = [next(i for i in range(len(item.optionen)) if i not in item.richtig)]
    else:
        idx = list(item.richtig)
    for i in idx:
        fieldset.locator("input").nth(i).check()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_learning_flow(browser, server, device):
    from playwright.sync_api import expect

    base, data = server
    ctx, page, errors = _page(browser, device)
    shot = lambda name: page.screenshot(path=str(artifact(f"learning-{device}-{name}.png")), full_page=True)  # noqa: E731

    # start page for the preset role (as the widget's "Jetzt lernen" opens it)
    page.goto(f"{base}/lernen/?rolle=works_council")
    expect(page.get_by_role("heading", level=2)).to_have_text("Ihr Lernpfad als Betriebsrat: 9 Einheiten, ca. 3 Stunden")
    expect(page.locator("button.role[data-role=works_council]")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("link", name="Was wird gespeichert?").first).to_be_visible()
    shot("1-start")
    page.get_by_label("Name für den Nachweis (freiwillig)").fill("Erika Muster")
    page.get_by_role("button", name="Lernpfad starten").click()
    expect(page.get_by_text("0 von 9 Einheiten abgeschlossen")).to_be_visible()
    lid = page.evaluate("JSON.parse(localStorage.getItem('ki-lernbegleiter-lernen')).id")
    shot("2-path")

    # read the unit: text, Stand, and the authored questions for the role with links into the text
    page.get_by_role("button", name="Einheit lesen: Grundlagen der KI").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grundlagen der KI")
    expect(page.locator("#a-worum-geht-es")).to_be_visible()
    asked = page.locator(".asked li")
    expect(asked.first).to_contain_text("BR")  # the works-council question of this unit
    asked.first.get_by_role("link").click()
    expect(page.locator("#a-was-das-fuer-sie-heisst-betriebsrat")).to_be_in_viewport()
    shot("3-unit")

    # the quiz, first item wrong on purpose
    page.get_by_role("button", name="Weiter zum Quiz").click()
    fieldsets = page.locator("fieldset")
    expect(fieldsets.first).to_be_visible()
    n = fieldsets.count()
    page.get_by_role("button", name="Auswerten").click()  # nothing chosen: German hint, nothing sent
    expect(page.get_by_role("alert")).to_contain_text(f"Bitte beantworten Sie alle Fragen ({n} offen)")
    ids = [fieldsets.nth(i).get_attribute("data-item") for i in range(n)]
    for i, item_id in enumerate(ids):
        _choose(fieldsets.nth(i), SOLUTIONS[item_id], wrong=(i == 0))
    page.get_by_role("button", name="Auswerten").click()
    first = fieldsets.first.locator(".result")
    expect(first).to_have_class("result bad")
    expect(first).to_contain_text(SOLUTIONS[ids[0]].erklaerung)
    expect(first).to_contain_text("kommt unter „Wiederholen“ wieder")
    expect(first.get_by_role("link")).to_have_attribute("href", f"/lernen/?einheit={UNIT}#" + _anchor(SOLUTIONS[ids[0]].abschnitt))
    expect(page.locator(".result.ok")).to_have_count(n - 1)
    expect(page.get_by_role("status")).to_have_text(f"{n - 1} von {n} richtig.")
    shot("4-quiz")

    # back on the path: unit done, the wrong item waits in "Wiederholen"
    page.get_by_role("link", name="Zurück zum Lernpfad").click()
    expect(page.get_by_text("1 von 9 Einheiten abgeschlossen")).to_be_visible()
    review = page.locator("#wiederholen")
    expect(review).to_contain_text("1 Frage kommt später wieder")
    shot("5-path-after-quiz")

    # a day later (attempt moved back in the real database): the item is due and comes back
    with sqlite3.connect(data / "sessions.db") as db:
        db.execute("UPDATE lb_quiz_attempts SET at = datetime(at, '-2 days') WHERE learner_id = ?", (lid,))
    page.reload()
    expect(review).to_contain_text("1 Frage ist jetzt zur Wiederholung fällig")
    review.get_by_role("button", name="Jetzt wiederholen").click()
    expect(page.locator("fieldset")).to_have_count(1)
    expect(page.locator("fieldset").first).to_have_attribute("data-item", ids[0])
    shot("6-review")
    _choose(page.locator("fieldset").first, SOLUTIONS[ids[0]], wrong=False)
    page.get_by_role("button", name="Auswerten").click()
    expect(page.locator(".result.ok")).to_have_count(1)
    page.get_by_role("link", name="Zurück zum Lernpfad").click()
    expect(review).to_contain_text("Gerade ist nichts zu wiederholen")
    expect(review).to_contain_text("1 Frage kommt später wieder")  # the second round, after seven days

    # the record
    with page.expect_download() as dl:
        page.get_by_role("button", name="Nachweis herunterladen (PDF)").click()
    pdf = Path(dl.value.path()).read_bytes()
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Erika Muster" in text and "Grundlagen der KI" in text and f"{n - 1} von {n} richtig" in text
    assert "kein Zertifikat" in text

    # delete my data
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Alle meine Lerndaten löschen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Lerndaten sind gelöscht")
    shot("7-deleted")
    assert page.evaluate("localStorage.getItem('ki-lernbegleiter-lernen')") is None
    assert httpx.get(f"{base}/api/learning/learners/{lid}").status_code == 404
    if device == "phone":  # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors, errors
    ctx.close()


def _anchor(abschnitt: str) -> str:
    from assistant.learning.catalog import anchor

    return anchor(abschnitt)


def test_widget_offers_jetzt_lernen_for_the_preset_role(browser, server):
    from playwright.sync_api import expect

    base, _ = server
    ctx, page, errors = _page(browser, "desktop")
    page.set_content(f'<html lang="de"><body><script src="{base}/widget.js" data-role="works_council"></script></body></html>')
    page.locator(".lb-launcher").click()
    link = page.locator(".lb-learn")
    expect(link).to_have_text("Jetzt lernen")
    expect(link).to_have_attribute("href", f"{base}/lernen/?rolle=works_council")
    expect(page.locator(".lb-datasheet")).to_have_attribute("href", f"{base}/was-wird-gespeichert")
    page.wait_for_function("""() => document.querySelector('ki-lernbegleiter').shadowRoot
        .querySelector('.lb-panel').getAnimations().length === 0""")  # the opening fade-in
    page.screenshot(path=str(artifact("learning-widget.png")))
    with ctx.expect_page() as popup:
        link.click()
    learn = popup.value
    expect(learn.get_by_role("heading", level=2)).to_contain_text("Ihr Lernpfad als Betriebsrat")
    assert not errors, errors
    ctx.close()


def test_tutor_has_a_lernpfad_tab(browser, server):
    from playwright.sync_api import expect

    base, _ = server
    ctx, page, errors = _page(browser, "desktop")
    page.goto(f"{base}/tutor/", wait_until="domcontentloaded")
    expect(page.get_by_role("link", name="Was wird gespeichert?").first).to_be_visible(timeout=60_000)
    page.get_by_role("tab", name="Lernpfad").click()
    frame = page.frame_locator("#tutor-lernpfad iframe")
    expect(frame.get_by_role("button", name="Lernpfad starten")).to_be_visible(timeout=30_000)
    frame.locator("button.role[data-role=owner]").click()
    expect(frame.get_by_role("heading", level=2)).to_contain_text("Ihr Lernpfad als Geschäftsführung")
    page.screenshot(path=str(artifact("learning-tutor-tab.png")))
    ctx.close()


def test_team_page_shows_aggregates_only(browser, server):
    from playwright.sync_api import expect

    base, _ = server
    ctx, page, errors = _page(browser, "desktop")
    page.goto(f"{base}/lernen/?team=1")
    page.get_by_label("Name des Teams").fill("Dachdeckerei Beispiel")
    page.get_by_role("button", name="Team anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("Team-Code für die Beschäftigten")
    code = page.get_by_label("Team-Code").input_value()
    assert page.get_by_label("Team-Schlüssel").input_value()
    ids = [httpx.post(f"{base}/api/learning/learners", json={"role": "employee", "display_name": f"Xaver Nummer{i}"}
                      ).json()["learner_id"] for i in range(5)]
    first = httpx.get(f"{base}/api/learning/paths/employee").json()["steps"][0]["unit_id"]
    for lid in ids[:4]:
        httpx.put(f"{base}/api/learning/learners/{lid}/team", json={"team_code": code})
        httpx.post(f"{base}/api/learning/learners/{lid}/progress", json={"unit_id": first, "event": "completed"})
    page.get_by_role("button", name="Übersicht anzeigen").click()
    expect(page.get_by_text("Mitglieder: weniger als 5.")).to_be_visible()
    httpx.put(f"{base}/api/learning/learners/{ids[4]}/team", json={"team_code": code})
    page.get_by_role("button", name="Übersicht anzeigen").click()
    expect(page.get_by_text("Mitglieder: 5.")).to_be_visible()
    expect(page.locator("td", has_text="80 %")).to_have_count(1)
    assert "Xaver" not in page.locator("main").inner_text()
    page.screenshot(path=str(artifact("learning-team.png")), full_page=True)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Team-Übersicht als PDF").click()
    text = PdfReader(io.BytesIO(Path(dl.value.path()).read_bytes())).pages[0].extract_text()
    assert "Mitglieder im Team: 5" in text and "Xaver" not in text
    assert not errors, errors
    ctx.close()
