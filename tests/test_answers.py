"""Answers that answer (issue 11): whole blocks, role-shaped, honest declines, follow-ups that add.

Real E5 and real Chroma over the shipped corpus (the session fixture ``corpus_service``)."""

from __future__ import annotations

import re

import pytest
import yaml

from assistant.answers.compose import REFERRING
from assistant.roles import Role
from ingestion.blocks import squash

from .conftest import CORPUS, events_of

QUESTIONS = [
    (Role.owner, "Was darf ich in ChatGPT eingeben?"),
    (Role.works_council, "Was gehört alles in eine Betriebsvereinbarung zu KI?"),
    (Role.works_council, "Dürfen wir nen externen Sachverständigen dazuholen und wer zahlt das?"),
    (Role.employee, "muss ich jetzt ne schulung machen wegen KI?"),
    (Role.consultant, "wie steig ich beim kunden ins thema ki ein"),
    (Role.owner, "Welche Kennzahlen nehme ich, um zu sehen ob sich KI lohnt?"),
    (Role.employee, "darf mein chef mit der ki kontrollieren wie schnell ich arbeite?"),
    (Role.owner, "Was ist eigentlich KI-Readiness?"),
]
UNIT_IDS = {p.stem for p in CORPUS.rglob("*.md") if p.name != "README.md"}
_CITE = re.compile(r"\s*\[\d+\]")
_HEAD = re.compile(r"^\*\*[^*]{1,60}:\*\*\s*")


def _answer(svc, question, role, session=None):
    evs = events_of(svc.chat(question, role, session_id=session))
    text = "".join(d["text"] for e, d in evs if e == "delta")
    data = {e: d for e, d in evs}
    return text, data


def _paragraphs(text: str) -> list[str]:
    out = []
    for p in re.split(r"\n\s*\n", text):
        p = _HEAD.sub("", _CITE.sub("", p).strip())
        if p and not p.startswith("[") and not p.startswith("Zu „") and not re.fullmatch(r"\*\*[^*]+\*\*", p):
            out.append(p)
    return out


@pytest.fixture(scope="module")
def answers(corpus_service):
    return {(role, q): _answer(corpus_service, q, role) for role, q in QUESTIONS}


def test_answers_are_whole_blocks_of_the_course(corpus_service, answers):
    store = corpus_service.extractive.store()
    blocks = {squash(store.render(b)) for b in store.blocks.values()}
    for (role, q), (text, data) in answers.items():
        assert data["done"]["answerable"], q
        for p in _paragraphs(text):
            if p.startswith("[") and "](/kurs/" in p:
                continue  # the links line (aids, further units)
            flat = squash(p)
            assert flat in blocks or any(flat in b for b in blocks), (q, p[:120])  # a list with its intro is one block


def test_no_ids_disclaimers_or_dangling_openers(answers):
    for (role, q), (text, _data) in answers.items():
        plain = re.sub(r"\]\(/kurs/[a-z0-9-]+\)", "]", text)
        assert not any(re.search(rf"(?<![\w/-]){re.escape(i)}(?![\w-])", plain) for i in UNIT_IDS), (q, text)
        assert "keine Rechtsberatung" not in text, q
        assert not REFERRING.match(_paragraphs(text)[0]), (q, text[:200])
        assert "Worum geht es bei" not in text and "Beginnen Sie mit" not in text


def test_citations_point_to_sources(answers):
    for (role, q), (text, data) in answers.items():
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
        numbers = {s["n"] for s in data["sources"]}
        assert cited and cited <= numbers, (q, cited, numbers)


def test_lists_and_tables_are_shown_whole(corpus_service, answers):
    text, _ = answers[(Role.works_council, "Was gehört alles in eine Betriebsvereinbarung zu KI?")]
    assert re.search(r"^(- |\d+\. |\|)", text, re.M), text  # a list or table, not sentences picked from it
    store = corpus_service.extractive.store()
    for b in store.blocks.values():  # every list the answer shows has all of its items
        if b.kind == "list" and squash(store.render(b))[:60] in squash(text):
            assert squash(_CITE.sub("", store.render(b))) in squash(_CITE.sub("", text))


def test_the_role_shapes_the_whole_answer(corpus_service):
    q = "Was muss ich beachten, wenn wir ein KI-Tool zur Arbeitszeiterfassung einführen?"
    texts = {r: _answer(corpus_service, q, r)[0] for r in Role}
    assert len(set(texts.values())) == 4, "four roles, four different answers"
    assert "Für Sie als Betriebsrat" in texts[Role.works_council] or "Rechtsgrundlage" in texts[Role.works_council]
    assert "BetrVG" in texts[Role.works_council]
    for r, t in texts.items():
        for other in Role:
            if other is not r:
                assert f"Für Sie als {other.label}" not in t


def test_colloquial_in_scope_question_is_answered_with_the_norm(answers):
    text, data = answers[(Role.works_council, "Dürfen wir nen externen Sachverständigen dazuholen und wer zahlt das?")]
    assert data["done"]["answerable"] and "§ 80 Abs. 3" in text


@pytest.mark.parametrize("question", ["Wie lange muss ein Ei kochen?", "Welche Steuerklasse ist für mich am besten?",
                                      "Wer hat die Fußball-WM 2014 gewonnen?", "Hallo, wie gehts dir heute?",
                                      "Was machst du so am Wochenende?"])
def test_off_topic_is_declined_without_unrelated_units(corpus_service, question):
    text, data = _answer(corpus_service, question, Role.owner)
    assert data["done"]["answerable"] is False
    assert data["sources"] == []
    assert "](/kurs/" not in text  # no unit is near an egg


def test_yes_no_question_leads_with_the_courses_short_answer(corpus_service):
    text, data = _answer(corpus_service, "Darf unser Betrieb die Gefühle der Beschäftigten per KI-Kamera auswerten?",
                         Role.owner)
    assert text.startswith("**Kurz gesagt:** Nein"), text[:200]


def test_followup_adds_instead_of_repeating(corpus_service):
    first, d1 = _answer(corpus_service, "Was ist KI-Readiness?", Role.works_council)
    second, _ = _answer(corpus_service, "Und gilt das auch für Azubis?", Role.works_council, d1["meta"]["session_id"])
    before = {squash(p) for p in _paragraphs(first) if len(p) > 60}
    assert not [p for p in _paragraphs(second) if len(p) > 60 and squash(p) in before]
    assert "Azubis" in second  # answered about them, or said plainly that the course does not cover them


def test_suggested_followups_are_real_questions_of_the_course(answers):
    authored = set()
    for p in CORPUS.rglob("*.md"):
        m = re.match(r"---\n(.*?)\n---\n", p.read_text(encoding="utf-8"), re.S)
        if m:
            authored |= {" ".join(q["frage"].split()) for q in (yaml.safe_load(m.group(1)) or {}).get("fragen") or []}
    for (role, q), (_text, data) in answers.items():
        assert data["followups"], q
        assert set(data["followups"]) <= authored, data["followups"]
        assert q not in data["followups"]


def test_unit_page_and_json(corpus_service):
    from fastapi.testclient import TestClient

    from assistant.web.api import create_app

    with TestClient(create_app(corpus_service.settings, corpus_service)) as client:
        page = client.get("/kurs/grundlagen-02-ki-readiness")
        assert page.status_code == 200 and "<h1>KI-Readiness</h1>" in page.text
        assert "Fragen aus der Praxis" in page.text and "grundlagen-02-ki-readiness</" not in page.text
        data = client.get("/api/units/grundlagen-02-ki-readiness").json()
        assert data["title"] == "KI-Readiness" and len(data["questions"]) >= 4
        assert any(s["heading_path"] == "Verständnisfragen" for s in data["sections"])
        missing = client.get("/api/units/gibt-es-nicht")
        assert missing.status_code == 404 and missing.json()["error"].startswith("Diese")
        assert client.get("/kurs/<script>").status_code == 404


def test_tutor_course_view_lists_the_authored_questions_once(corpus_service):
    from ui.tutor import document_passages, document_questions, render_document

    passages = document_passages(corpus_service, "grundlagen-02-ki-readiness")
    assert passages and all(p.metadata.get("kind") != "frage" for p in passages)
    questions = document_questions(corpus_service, "grundlagen-02-ki-readiness")
    assert 4 <= len(questions) <= 8
    page = render_document("KI-Readiness", passages, "", questions)
    assert "Fragen aus der Praxis" in page and questions[0].replace("&", "&amp;") in page
    body = page.split("Fragen aus der Praxis")[0]
    assert body.count("Der Betriebsrat kann darauf achten") == 1  # the question's block is not shown twice
