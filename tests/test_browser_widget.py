"""The embeddable chat widget and the demo page in a real Chromium, against a real uvicorn server
with the real corpus index (no mocks, except where an error response is forced with page.route)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .browser import artifact, launch, require_chromium
from .conftest import BIN, free_port, wait_http

pytestmark = pytest.mark.browser

QUESTION = "Was muss der Betriebsrat prüfen, wenn KI zur Leistungskontrolle eingeführt wird?"
ROLE_NAMES = ["Geschäftsführung", "Beschäftigte", "Betriebsrat", "Beratung"]
STORE_KEY = "ki-lernbegleiter"
DONE_TIMEOUT = 60_000


# ------------------------------------------------------------------------------------------ servers

class Server:
    """`python -m assistant serve` on a loopback port, as a user starts it."""

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LB_DATA_DIR": str(data_dir), "LB_RATE_LIMIT_PER_MINUTE": "0", **env}
        self.env.pop("LB_LLM_BASE_URL", None)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(self.port)],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_http(f"{self.base}/api/health", timeout=120, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(corpus_data_dir):
    s = Server(corpus_data_dir).start()
    r = httpx.get(f"{s.base}/widget.js")
    assert r.status_code == 200, "GET /widget.js must serve ui/widget/widget.js (assistant/web/api.py)"
    yield s.base
    s.stop()


@pytest.fixture
def page_errors():
    return []


def new_page(browser, errors, **context_args):
    ctx = browser.new_context(locale="de-DE", **context_args)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def shadow_eval(page, body: str):
    """Evaluate `body` with `root` = the widget's shadow root."""
    return page.evaluate(f"() => {{ const root = document.querySelector('ki-lernbegleiter').shadowRoot; {body} }}")


def active_in_widget(page) -> str | None:
    """Class list (plus data-role) of the focused element inside the widget, None if focus is outside."""
    return page.evaluate("""() => {
        const host = document.querySelector('ki-lernbegleiter');
        if (document.activeElement !== host) return null;
        const el = host.shadowRoot.activeElement;
        return el ? (el.className + (el.dataset.role ? ' ' + el.dataset.role : '')) : null;
    }""")


def chat_bodies(page) -> list[dict]:
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith("/api/chat") else None)
    return bodies


def stored(page) -> dict:
    return page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{STORE_KEY}') || '{{}}')")


def wait_answers(page, n: int) -> None:
    """Until n answers are complete (the feedback row appears once `done` arrived)."""
    page.locator(".lb-msg-bot .lb-fb").nth(n - 1).wait_for(state="visible", timeout=DONE_TIMEOUT)


SAMPLER = """() => {
  const root = document.querySelector('ki-lernbegleiter').shadowRoot;
  const samples = window.__lbSamples = [];
  const take = () => {
    const a = root.querySelectorAll('.lb-msg-bot .lb-answer');
    samples.push(a.length ? a[a.length - 1].textContent.length : 0);
  };
  new MutationObserver(take).observe(root, {subtree: true, childList: true, characterData: true});
  const tick = () => { take(); if (samples.length < 200000) requestAnimationFrame(tick); };
  tick();
}"""


# ------------------------------------------------------------------------------------------ main flow

@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_full_flow(browser, server, page_errors, device):
    if device == "phone":
        page = new_page(browser, page_errors, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                        is_mobile=True, has_touch=True)
    else:
        page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    bodies = chat_bodies(page)
    page.goto(server + "/")
    expect = _expect()

    # the demo page is a real-looking site with the widget embedded by one tag
    expect(page.get_by_role("heading", level=1)).to_contain_text("KI im Betrieb")
    assert page.locator("script[src='/widget.js']").count() == 1
    launcher = page.locator(".lb-launcher")
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.click()
    panel = page.get_by_role("dialog", name="KI-Lernbegleiter")
    expect(panel).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    assert active_in_widget(page) == "lb-role owner", "focus moves into the panel (role picker)"
    if device == "phone":  # full screen
        page.wait_for_function("""() => document.querySelector('ki-lernbegleiter').shadowRoot
            .querySelector('.lb-panel').getAnimations().length === 0""")  # the opening slide-in
        box = {k: round(v) for k, v in panel.bounding_box().items()}
        assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box
        expect(launcher).to_be_hidden()

    # privacy note: what is stored, no IP, no cookies, retention days from the server
    privacy = panel.locator(".lb-privacy")
    expect(privacy).to_contain_text("30 Tagen")
    for part in ("Fragen, Antworten und Rückmeldungen", "zufälligen Sitzungs-ID", "Keine IP-Adresse", "keine Cookies"):
        expect(privacy).to_contain_text(part)

    # role picker with the four roles in plain German
    for name in ROLE_NAMES:
        expect(panel.get_by_role("button", name=re.compile("^" + name))).to_be_visible()
    panel.get_by_role("button", name=re.compile("^Betriebsrat")).click()
    expect(panel.locator(".lb-rolebar")).to_contain_text("Sie fragen als: Betriebsrat")
    expect(panel.locator(".lb-rolepicker")).to_be_hidden()
    assert active_in_widget(page) == "lb-input"

    # ask; the answer grows while it streams
    page.evaluate(SAMPLER)
    panel.get_by_role("textbox", name="Ihre Frage").fill(QUESTION)
    panel.get_by_role("button", name="Frage senden").click()
    wait_answers(page, 1)
    samples = page.evaluate("window.__lbSamples")
    answer = panel.locator(".lb-msg-bot .lb-answer").first
    final = len(answer.text_content())
    growth = sorted({s for s in samples if s > 0})
    assert final > 200 and growth[-1] == final
    assert len(growth) >= 3, f"answer appeared in {len(growth)} step(s): {growth[:10]}"
    assert bodies[0]["role"] == "works_council" and bodies[0]["session_id"] is None
    sid = stored(page)["sid"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", sid) and page.evaluate("KILernbegleiter.sessionId") == sid
    expect(answer.locator(".lb-cite").first).to_be_visible()  # inline [n] citations

    # numbered source chips (title, section) that expand to the cited passage
    first = panel.locator(".lb-msg-bot").first
    chips = first.locator(".lb-chip")
    assert chips.count() >= 1
    chip = chips.first
    expect(chip.locator(".lb-num")).to_have_text("1")
    assert chip.locator(".lb-chip-title").text_content().strip()
    assert chip.locator(".lb-chip-sub").text_content().strip()
    passage = first.locator(".lb-passage").first
    expect(passage).to_be_hidden()
    expect(chip).to_have_attribute("aria-expanded", "false")
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    expect(passage).to_be_visible()
    assert len(passage.locator(".lb-quote").text_content()) > 40
    chip.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(250)  # chevron transition
    page.screenshot(path=str(artifact(f"widget-{device}-answer.png")))

    # a follow-up chip sends that question; the second answer belongs to the same session
    follow = first.locator(".lb-follow").first
    follow_q = follow.text_content()
    follow.click()
    wait_answers(page, 2)
    expect(panel.locator(".lb-msg-user .lb-bubble").nth(1)).to_have_text(follow_q)
    assert len(bodies) == 2 and bodies[1]["session_id"] == sid and bodies[1]["question"] == follow_q
    assert stored(page)["sid"] == sid
    assert len(panel.locator(".lb-msg-bot .lb-answer").nth(1).text_content()) > 50

    # feedback on the first answer: thumbs down + remark + one "Quelle passt nicht"
    fb = first.locator(".lb-fb")
    fb.get_by_role("button", name="Nein, nicht hilfreich").click()
    expect(fb.get_by_role("button", name="Nein, nicht hilfreich")).to_have_attribute("aria-pressed", "true")
    fb.get_by_role("textbox", name="Anmerkung (freiwillig)").fill("Zu allgemein, bitte konkreter.")
    fb.get_by_role("checkbox", name="Quelle [1] passt nicht").check()
    fb.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(artifact(f"widget-{device}-feedback.png")))
    fb.get_by_role("button", name="Rückmeldung senden").click()
    expect(fb.locator(".lb-fb-status")).to_have_text("Danke für Ihre Rückmeldung!")
    export = httpx.get(f"{server}/api/sessions/{sid}").json()
    answers = [m for m in export["messages"] if m["kind"] == "assistant"]
    assert len(answers) == 2
    assert [(f["rating"], f["remark"], f["wrong_sources"]) for f in answers[0]["feedback"]] == [
        ("down", "Zu allgemein, bitte konkreter.", [1])]
    assert answers[1]["feedback"] == []

    assert page.context.cookies() == [], "nothing is stored in cookies"
    assert page.evaluate("Object.keys(sessionStorage)") == [STORE_KEY]
    assert page.evaluate("localStorage.length") == 0
    assert not page_errors
    page.context.close()


def _expect():
    from playwright.sync_api import expect

    return expect


# ------------------------------------------------------------------------------------------ keyboard

def test_keyboard_only(browser, server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    bodies = chat_bodies(page)
    page.goto(server + "/")
    page.locator(".lb-launcher").wait_for()
    for _ in range(80):  # the launcher is in the page's tab order
        page.keyboard.press("Tab")
        if active_in_widget(page) == "lb-launcher":
            break
    else:
        pytest.fail("Tab never reached the widget's button")
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="KI-Lernbegleiter")
    expect(panel).to_be_visible()
    assert active_in_widget(page) == "lb-role owner"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert active_in_widget(page) == "lb-role works_council"
    page.keyboard.press("Enter")
    assert active_in_widget(page) == "lb-input"
    expect(panel.locator(".lb-rolebar")).to_contain_text("Betriebsrat")

    page.keyboard.type("Was muss der Betriebsrat prüfen,")
    page.keyboard.press("Shift+Enter")  # a new line, nothing sent
    page.keyboard.type("wenn KI zur Leistungskontrolle eingeführt wird?")
    textbox = panel.get_by_role("textbox", name="Ihre Frage")
    assert textbox.input_value() == "Was muss der Betriebsrat prüfen,\nwenn KI zur Leistungskontrolle eingeführt wird?"
    assert bodies == []
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    assert len(bodies) == 1 and "\n" in bodies[0]["question"]
    assert textbox.input_value() == ""

    for _ in range(40):  # backwards from the input into the answer: source chips are reachable
        page.keyboard.press("Shift+Tab")
        if (active_in_widget(page) or "").startswith("lb-chip"):
            break
    else:
        pytest.fail("Shift+Tab never reached a source chip")
    page.keyboard.press("Enter")
    assert panel.locator(".lb-chip[aria-expanded=true]").count() == 1
    expect(panel.locator(".lb-passage:visible")).to_have_count(1)

    page.keyboard.press("Escape")  # closes and returns the focus to the button
    expect(panel).to_be_hidden()
    assert active_in_widget(page) == "lb-launcher"
    expect(page.locator(".lb-launcher")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")  # reopens; the role is known, so the focus goes to the input
    expect(panel).to_be_visible()
    assert active_in_widget(page) == "lb-input"
    assert not page_errors
    page.context.close()


def test_aria_roles_and_german_labels(browser, server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860}, reduced_motion="reduce")
    page.goto(server + "/")
    launcher = page.get_by_role("button", name=re.compile("Fragen zu KI\\? – KI-Lernbegleiter öffnen"))
    expect(launcher).to_have_attribute("aria-haspopup", "dialog")
    launcher.click()
    dialog = page.get_by_role("dialog", name="KI-Lernbegleiter")
    expect(dialog).to_be_visible()
    log = dialog.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(dialog.get_by_role("group", name="Wer fragt?")).to_be_visible()
    dialog.get_by_role("button", name=re.compile("^Beratung")).click()
    expect(dialog.get_by_role("status")).to_have_text("Rolle gewählt: Beratung.")
    for name in ("Chat schließen", "Frage senden", "Rolle ändern"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    # nothing to delete yet: no "Verlauf löschen" (tests/test_browser_polish.py covers it with a history)
    expect(dialog.get_by_role("button", name=re.compile("^Verlauf löschen"))).to_be_hidden()
    expect(dialog.get_by_role("textbox", name="Ihre Frage")).to_be_visible()
    # prefers-reduced-motion: no animation anywhere in the widget
    assert shadow_eval(page, "return getComputedStyle(root.querySelector('.lb-panel')).animationName") == "none"
    # the host page's CSS (serif body, 62.5% root size, uppercase buttons) does not reach in
    style = shadow_eval(page, """const s = getComputedStyle(root.querySelector('.lb-send'));
        return [s.fontFamily, s.fontSize, s.textTransform];""")
    assert "system-ui" in style[0] and style[1] == "15px" and style[2] == "none", style
    assert not page_errors
    page.context.close()


# ------------------------------------------------------------------------------------------ options

def test_data_attribute_options(browser, server, page_errors):
    """data-role, data-lang=en, data-position=left, data-accent, data-api on a page of the same origin."""
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Embed</title></head><body>'
            f'<h1>Host page</h1><script src="/widget.js" data-role="works_council" data-lang="en" '
            f'data-position="left" data-accent="#b00020" data-title="Tutor" data-api="{server}" defer></script>'
            f'</body></html>')
    page.route(f"{server}/embed-test", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(f"{server}/embed-test")
    launcher = page.locator(".lb-launcher")
    expect(launcher).to_contain_text("Questions about AI?")
    box = launcher.bounding_box()
    assert box["x"] < 40, box  # left
    colors = shadow_eval(page, "const s = getComputedStyle(root.querySelector('.lb-launcher')); return [s.backgroundColor, s.color];")
    assert colors == ["rgb(176, 0, 32)", "rgb(255, 255, 255)"], colors
    launcher.click()
    dialog = page.get_by_role("dialog", name="Tutor")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close chat")).to_be_visible()
    expect(dialog.locator(".lb-rolepicker")).to_be_hidden()  # preset role: no picker
    expect(dialog.locator(".lb-rolebar")).to_contain_text("Asking as: Works council")
    expect(dialog.locator(".lb-privacy")).to_contain_text("30 days")
    bodies = chat_bodies(page)
    dialog.get_by_role("textbox", name="Your question").fill("Welche Rechte hat der Betriebsrat bei KI-Systemen?")
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    assert bodies[0]["role"] == "works_council"
    assert not page_errors
    page.context.close()


def test_only_one_global_and_no_cookies(browser, server, page_errors):
    script = "() => Object.getOwnPropertyNames(window)"
    page = new_page(browser, page_errors)
    page.route("**/widget.js", lambda route: route.abort())
    page.goto(server + "/")
    page.wait_for_load_state("load")
    without = set(page.evaluate(script))
    page.context.close()

    page = new_page(browser, page_errors)
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    page.locator(".lb-privacy").filter(has_text="30 Tagen").wait_for()
    with_widget = set(page.evaluate(script))
    assert with_widget - without == {"KILernbegleiter"}
    assert page.evaluate("typeof customElements.get('ki-lernbegleiter')") == "undefined"
    api = page.evaluate("Object.keys(KILernbegleiter).sort()")
    assert api == sorted(["version", "open", "close", "toggle", "ask", "setRole", "clearHistory", "sessionId"])
    assert page.evaluate("Object.isFrozen(KILernbegleiter)")
    assert page.context.cookies() == []
    assert not page_errors
    page.context.close()


# ------------------------------------------------------------------------------------------ safety

XSS_MD = """---
id: sicherheitstest-werkstatt
titel: Werkstattordnung Zwergenhobel
typ: umsetzungshilfe
baustein: sicherheit
rollen: [employee]
schlagworte: [Zwergenhobel, Werkstattordnung]
stand: 2025-01-01
quellen: ["Test"]
---
# Werkstattordnung Zwergenhobel

## Regeln für den Zwergenhobel

Der Zwergenhobel wird in der Werkstatt nur mit Schutzbrille und Gehörschutz benutzt. <script>window.__xss=1</script> Nach der Arbeit wird der Zwergenhobel gereinigt und im Schrank verschlossen.

Ein Bild vom Zwergenhobel: <img src=x onerror="window.__xss=1"> Der Zwergenhobel darf nur von eingewiesenen Beschäftigten bedient werden.

Mehr zum Zwergenhobel: [klick](javascript:window.__xss=1) steht in der Werkstattordnung.
"""


@pytest.fixture
def xss_server(tmp_path):
    corpus = tmp_path / "xss-corpus"
    corpus.mkdir()
    (corpus / "werkstatt.md").write_text(XSS_MD, encoding="utf-8")
    data = tmp_path / "xss-data"
    exe = shutil.which("lernbegleiter", path=str(BIN)) or str(BIN / "lernbegleiter")
    r = subprocess.run([exe, "ingest", str(corpus)], env={**os.environ, "LB_DATA_DIR": str(data)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Ergebnis: 1 neu," in r.stdout, r.stdout + r.stderr
    s = Server(data).start()
    yield s.base
    s.stop()


def test_markup_in_passages_stays_inert_text(browser, xss_server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 900})
    dialogs, requests = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(xss_server + "/")
    page.locator(".lb-launcher").click()
    page.get_by_role("button", name=re.compile("^Beschäftigte")).click()
    # Two layers: ingest screening strips active markup from documents (ingestion/screening.py), and the
    # widget renders whatever reaches it as text. The document's markup must not come back at all; markup the
    # user types shows as literal text in the user's own bubble.
    typed = 'Wie wird der Zwergenhobel benutzt? <img src=x onerror="window.__xss=1"> <b>fett</b>'
    page.get_by_role("textbox", name="Ihre Frage").fill(typed)
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    expect(page.locator(".lb-msg-user .lb-bubble").first).to_have_text(typed)
    answer = page.locator(".lb-msg-bot .lb-answer").first
    expect(answer).to_contain_text("Zwergenhobel")
    script, img, link = (re.compile(r"<script"), re.compile(r"onerror"), re.compile(r"javascript:"))
    for literal in (script, img, link):
        expect(answer).not_to_contain_text(literal)
    chip = page.locator(".lb-chip").first
    chip.click()
    passage = page.locator(".lb-passage").first
    expect(passage).to_be_visible()
    expect(passage).to_contain_text("Zwergenhobel")
    for literal in (script, img, link):
        expect(passage).not_to_contain_text(literal)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    # no active element from content; the widget's own two static links ("Jetzt lernen", data sheet) excepted
    assert shadow_eval(page, "return root.querySelectorAll('script, img, iframe, object, embed, "
                             "a:not(.lb-learn):not(.lb-datasheet)').length") == 0
    assert not dialogs and not [u for u in requests if u.rstrip("/").endswith("/x")]
    passage.scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("widget-xss-inert.png")))
    assert not page_errors
    page.context.close()


# ------------------------------------------------------------------------------------------ errors

def test_server_down_then_retry_keeps_the_question(browser, corpus_data_dir, tmp_path, page_errors):
    expect = _expect()
    data = tmp_path / "data-copy"
    shutil.copytree(corpus_data_dir, data, ignore=shutil.ignore_patterns("sessions.db*"))
    srv = Server(data).start()
    try:
        page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
        page.goto(srv.base + "/")
        page.locator(".lb-launcher").click()
        page.get_by_role("button", name=re.compile("^Betriebsrat")).click()
        page.locator(".lb-privacy").filter(has_text="30 Tagen").wait_for()
        srv.stop()

        box = page.get_by_role("textbox", name="Ihre Frage")
        box.fill(QUESTION)
        page.keyboard.press("Enter")
        error = page.locator(".lb-error")
        expect(error).to_contain_text("Der Lernbegleiter ist gerade nicht erreichbar")
        retry = error.get_by_role("button", name="Erneut versuchen")
        expect(retry).to_be_visible()
        assert box.input_value() == QUESTION, "the typed question is back in the input"
        expect(page.locator(".lb-msg-user .lb-bubble")).to_have_text(QUESTION)

        srv.start()  # same port
        retry.click()
        wait_answers(page, 1)
        expect(page.locator(".lb-error")).to_have_count(0)
        assert box.input_value() == ""
        assert len(page.locator(".lb-msg-bot .lb-answer").first.text_content()) > 200
        assert not page_errors
        page.context.close()
    finally:
        srv.stop()


def _sse(*events: tuple[str, object]) -> str:
    return "".join(f"event: {e}\r\ndata: {json.dumps(d, ensure_ascii=False)}\r\n\r\n" for e, d in events)


CUT_STREAM = _sse(("meta", {"session_id": None, "message_id": "x"}), ("delta", {"text": "Der Anfang "}),
                  ("delta", {"text": "einer Antwort"}))
ERROR_STREAM = _sse(("meta", {"session_id": None, "message_id": "x"}),
                    ("error", {"message": "Bei der Beantwortung ist ein interner Fehler aufgetreten."}))


@pytest.mark.parametrize("status, body, ctype, message", [
    (429, {"error": "Zu viele Fragen in kurzer Zeit. Bitte warten Sie 12 Sekunden und versuchen Sie es dann erneut."},
     "application/json", "Bitte warten Sie 12 Sekunden"),
    (500, "Internal Server Error", "text/plain", "Auf dem Server ist ein Fehler aufgetreten (Status 500)"),
    (503, {"error": "egal"}, "application/json", "Auf dem Server ist ein Fehler aufgetreten (Status 503)"),
    (422, {"error": "Feld „question“ ist zu lang (höchstens 2000 Zeichen)."}, "application/json",
     "Feld „question“ ist zu lang"),
    (200, CUT_STREAM, "text/event-stream", "Die Verbindung wurde unterbrochen"),
    (200, ERROR_STREAM, "text/event-stream", "Bei der Beantwortung ist ein interner Fehler aufgetreten."),
], ids=["429", "500", "503", "422", "cut-stream", "error-event"])
def test_error_responses_show_german_message_and_retry(browser, server, page_errors, status, body, ctype, message):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    page.get_by_role("button", name=re.compile("^Betriebsrat")).click()

    def forced(route):
        headers = {"Retry-After": "12"} if status == 429 else {}
        route.fulfill(status=status, content_type=ctype, headers=headers,
                      body=body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))

    page.route("**/api/chat", forced)
    box = page.get_by_role("textbox", name="Ihre Frage")
    box.fill(QUESTION)
    page.keyboard.press("Enter")
    error = page.locator(".lb-error")
    expect(error).to_contain_text(message)
    assert box.input_value() == QUESTION
    page.unroute("**/api/chat")
    error.get_by_role("button", name="Erneut versuchen").click()
    wait_answers(page, 1)
    expect(page.locator(".lb-error")).to_have_count(0)
    expect(page.locator(".lb-msg-bot")).to_have_count(1)
    assert box.input_value() == ""
    assert not page_errors
    page.context.close()


def test_unknown_session_is_dropped_and_the_question_retried(browser, server, page_errors):
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    bodies = chat_bodies(page)
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    page.get_by_role("button", name=re.compile("^Geschäftsführung")).click()
    page.get_by_role("textbox", name="Ihre Frage").fill("Was ist KI-Readiness?")
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    old = stored(page)["sid"]
    assert httpx.delete(f"{server}/api/sessions/{old}").status_code == 204  # e.g. expired on the server
    page.get_by_role("textbox", name="Ihre Frage").fill("Welche Schritte empfehlen Sie zuerst?")
    page.keyboard.press("Enter")
    wait_answers(page, 2)
    assert [b["session_id"] for b in bodies] == [None, old, None]
    new = stored(page)["sid"]
    assert new and new != old
    assert httpx.get(f"{server}/api/sessions/{new}").status_code == 200
    assert not page_errors
    page.context.close()


def test_delete_history(browser, server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    page.get_by_role("button", name=re.compile("^Beratung")).click()
    page.get_by_role("textbox", name="Ihre Frage").fill("Wie begleite ich einen Betrieb bei der Einführung von KI?")
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    sid = stored(page)["sid"]
    assert httpx.get(f"{server}/api/sessions/{sid}").status_code == 200
    page.get_by_role("button", name=re.compile("^Verlauf löschen")).click()
    page.get_by_role("group", name="Wirklich löschen?").get_by_role("button", name="Löschen").click()
    expect(page.locator(".lb-status")).to_have_text("Der Verlauf wurde gelöscht.")
    expect(page.locator(".lb-msg")).to_have_count(0)
    assert httpx.get(f"{server}/api/sessions/{sid}").status_code == 404
    assert stored(page).get("sid") is None
    assert stored(page).get("role") == "consultant"  # the role choice stays
    assert not page_errors
    page.context.close()


def test_history_is_restored_after_reload(browser, server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1280, "height": 860})
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    page.get_by_role("button", name=re.compile("^Beschäftigte")).click()
    page.get_by_role("textbox", name="Ihre Frage").fill("Was darf ich in ChatGPT eingeben?")
    page.keyboard.press("Enter")
    wait_answers(page, 1)
    text = page.locator(".lb-msg-bot .lb-answer").first.text_content()
    page.reload()
    page.locator(".lb-launcher").click()
    expect(page.locator(".lb-msg-user .lb-bubble")).to_have_text("Was darf ich in ChatGPT eingeben?")
    expect(page.locator(".lb-msg-bot .lb-answer").first).to_have_text(text)
    expect(page.locator(".lb-rolebar")).to_contain_text("Beschäftigte")
    assert page.locator(".lb-msg-bot .lb-chip").count() >= 1
    assert not page_errors
    page.context.close()
