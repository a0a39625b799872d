"""The widget's "Aus allen Blickwinkeln" (issue #14): under an answer, one action asks POST /api/perspectives for
the same question and shows the answers for Geschäftsführung, Betriebsrat and Beschäftigte as accessible tabs.
Real Chromium against a real `lernbegleiter serve` with the corpus index (fixtures of test_browser_widget.py);
only the error case forces a failure with page.route."""

from __future__ import annotations

import json
import re

import pytest

from .browser import artifact
from .test_browser_widget import (  # noqa: F401 (fixtures)
    QUESTION, _expect, active_in_widget, browser, new_page, page_errors, server, shadow_eval, wait_answers,
)

pytestmark = pytest.mark.browser

TABS = ["Geschäftsführung", "Betriebsrat", "Beschäftigte"]
PERSP_TIMEOUT = 120_000  # three answers, one per role

STATUS_SAMPLER = """() => {
  const root = document.querySelector('ki-lernbegleiter').shadowRoot;
  const seen = window.__lbPersp = [];
  new MutationObserver(() => {
    root.querySelectorAll('.lb-persp-status').forEach(s => {
      const t = s.textContent; if (t && seen[seen.length - 1] !== t) seen.push(t);
    });
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


def perspective_bodies(page) -> list[dict]:
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data))
            if r.url.endswith("/api/perspectives") and r.method == "POST" else None)
    return bodies


def ask_as_works_council(page, server):
    page.goto(server + "/")
    page.locator(".lb-launcher").click()
    panel = page.get_by_role("dialog", name="KI-Lernbegleiter")
    panel.get_by_role("button", name=re.compile("^Betriebsrat")).click()
    panel.get_by_role("textbox", name="Ihre Frage").fill(QUESTION)
    panel.get_by_role("button", name="Frage senden").click()
    wait_answers(page, 1)
    return panel


def selected(tablist) -> list[str]:
    return [t.get_attribute("aria-selected") for t in tablist.get_by_role("tab").all()]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_perspectives_as_tabs(browser, server, page_errors, device):
    expect = _expect()
    if device == "phone":
        page = new_page(browser, page_errors, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                        is_mobile=True, has_touch=True)
    else:
        page = new_page(browser, page_errors, viewport={"width": 1366, "height": 900})
    bodies = perspective_bodies(page)
    panel = ask_as_works_council(page, server)
    answer = panel.locator(".lb-msg-bot").first

    # the action under the answer, closed; nothing asked yet
    action = answer.get_by_role("button", name="Aus allen Blickwinkeln")
    expect(action).to_be_visible()
    expect(action).to_have_attribute("aria-expanded", "false")
    assert bodies == []

    page.evaluate(STATUS_SAMPLER)
    action.click()
    tablist = answer.get_by_role("tablist", name="Antworten nach Rolle")
    expect(tablist).to_be_visible(timeout=PERSP_TIMEOUT)
    expect(action).to_have_attribute("aria-expanded", "true")
    assert bodies == [{"question": QUESTION, "roles": ["owner", "works_council", "employee"]}]
    seen = page.evaluate("window.__lbPersp")
    assert seen[0] == "Antworten aus drei Blickwinkeln werden erstellt …", seen
    expect(answer.locator(".lb-persp-status")).to_have_text(
        "Drei Antworten bereit. Mit den Pfeiltasten wechseln Sie zwischen den Rollen.")

    # three tabs in German; the asker's own role (Betriebsrat) is selected and focused
    tabs = tablist.get_by_role("tab")
    expect(tabs).to_have_text(TABS)
    assert selected(tablist) == ["false", "true", "false"]
    assert active_in_widget(page) == "lb-tab works_council", "the focus moves to the selected tab"
    for i in range(3):  # tab <-> panel wiring, only the selected tab is in the tab order
        tab = tabs.nth(i)
        tp = answer.locator("#" + tab.get_attribute("aria-controls"))
        assert tp.get_attribute("role") == "tabpanel"
        assert tp.get_attribute("aria-labelledby") == tab.get_attribute("id")
        assert tab.get_attribute("tabindex") == ("0" if i == 1 else "-1")
    page.wait_for_timeout(400)  # smooth scroll into view
    page.screenshot(path=str(artifact(f"widget-perspectives-{device}-betriebsrat.png")))

    # switch by click: each panel has its own answer text and sources; the others are hidden
    texts = {}
    for i, name in enumerate(TABS):
        tablist.get_by_role("tab", name=name).click()
        assert selected(tablist) == ["true" if j == i else "false" for j in range(3)]
        visible = answer.get_by_role("tabpanel")
        expect(visible).to_have_count(1)  # hidden panels are not in the accessibility tree
        expect(visible).to_have_attribute("aria-labelledby", tabs.nth(i).get_attribute("id"))
        body = visible.locator(".lb-answer")
        texts[name] = body.text_content().strip()
        assert len(texts[name]) > 150, (name, texts[name])
        assert visible.locator(".lb-persp-src li").count() >= 1
        assert visible.locator(".lb-persp-src .lb-chip-title").first.text_content().strip()
    assert len(set(texts.values())) == 3, "each role gets its own answer"
    assert "Betriebsrat" in texts["Betriebsrat"]

    # switch by keyboard: arrows move focus and selection (wrapping), Home/End jump
    tabs.nth(0).focus()
    page.keyboard.press("ArrowRight")
    assert active_in_widget(page) == "lb-tab works_council" and selected(tablist) == ["false", "true", "false"]
    page.keyboard.press("ArrowRight")
    assert active_in_widget(page) == "lb-tab employee" and selected(tablist) == ["false", "false", "true"]
    expect(answer.get_by_role("tabpanel").locator(".lb-answer")).to_have_text(texts["Beschäftigte"])
    page.keyboard.press("ArrowRight")  # wraps to the first
    assert active_in_widget(page) == "lb-tab owner" and selected(tablist) == ["true", "false", "false"]
    page.keyboard.press("ArrowLeft")  # and back round to the last
    assert active_in_widget(page) == "lb-tab employee"
    page.keyboard.press("Home")
    assert active_in_widget(page) == "lb-tab owner"
    page.keyboard.press("End")
    assert active_in_widget(page) == "lb-tab employee" and selected(tablist) == ["false", "false", "true"]
    page.keyboard.press("Tab")  # out of the tab list into the visible panel
    assert (active_in_widget(page) or "").startswith("lb-tabpanel")
    tablist.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifact(f"widget-perspectives-{device}-beschaeftigte.png")))

    # safe rendering: no markup from the server, links only to http(s) or the app's own pages (/kurs/...)
    region = answer.locator(".lb-persp-box")
    assert region.locator("script, img, iframe, object, embed, style").count() == 0
    for href in region.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))"):
        assert re.match(r"^https?://", href), href
        assert not href.startswith(server) or "/kurs/" in href or "/lernen/" in href, href

    # the action toggles the loaded tabs without asking again
    action.click()
    expect(action).to_have_attribute("aria-expanded", "false")
    expect(tablist).to_be_hidden()
    action.click()
    expect(tablist).to_be_visible()
    assert len(bodies) == 1
    assert not page_errors
    page.context.close()


def test_perspectives_error_then_retry(browser, server, page_errors):
    expect = _expect()
    page = new_page(browser, page_errors, viewport={"width": 1366, "height": 900})
    panel = ask_as_works_council(page, server)
    answer = panel.locator(".lb-msg-bot").first
    text_before = answer.locator(".lb-answer").first.text_content()

    page.route("**/api/perspectives", lambda route: route.fulfill(
        status=429, content_type="application/json", headers={"Retry-After": "7"},
        body=json.dumps({"error": "Zu viele Fragen in kurzer Zeit. Bitte warten Sie 7 Sekunden."}, ensure_ascii=False)))
    answer.get_by_role("button", name="Aus allen Blickwinkeln").click()
    status = answer.locator(".lb-persp-status")
    expect(status).to_contain_text("Die Blickwinkel konnten nicht geladen werden. Zu viele Fragen in kurzer Zeit.")
    expect(answer.get_by_role("tablist")).to_have_count(0)
    page.unroute("**/api/perspectives")

    page.route("**/api/perspectives", lambda route: route.abort())
    status.get_by_role("button", name="Erneut versuchen").click()
    expect(status).to_contain_text("Der Lernbegleiter ist gerade nicht erreichbar")
    page.unroute("**/api/perspectives")

    status.get_by_role("button", name="Erneut versuchen").click()
    expect(answer.get_by_role("tablist")).to_be_visible(timeout=PERSP_TIMEOUT)
    expect(answer.get_by_role("tab")).to_have_count(3)
    expect(answer.get_by_role("tabpanel")).to_have_count(1)
    assert answer.locator(".lb-answer").first.text_content() == text_before, "the chat answer stays as it was"
    assert shadow_eval(page, "return root.querySelectorAll('.lb-persp-err').length") == 0
    assert not page_errors
    page.context.close()
