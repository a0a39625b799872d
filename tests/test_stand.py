"""The Stand of cited passages: in every API source, shown by widget and tutor, a one-line German
notice when a cited unit is older than a change of a norm it cites, and the age warning of the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from rich.console import Console

from assistant.normen import months_before, stale_units, unit_bodies

from .conftest import CORPUS

OLD_UNIT = """---
id: alte-einheit
titel: "KI-Kompetenz im Betrieb (alt)"
typ: lernsequenz
baustein: fuehrung
rollen: [owner]
schlagworte: [KI-Kompetenz, Schulung, Art. 4]
stand: 2025-06-01
quellen: ["001 Kap. 3.2"]
---

# KI-Kompetenz im Betrieb (alt)

## Pflicht zur KI-Kompetenz

Nach Art. 4 KI-Verordnung müssen Betriebe, die KI einsetzen, ihr Personal im Umgang mit KI schulen.
Die Schulung zur KI-Kompetenz soll zu den Aufgaben der Beschäftigten passen und regelmäßig wiederholt werden.
Eine kurze Schulung zur KI-Kompetenz für alle Beschäftigten ist ein guter Anfang für kleine Betriebe.
"""


def _sse(text: str) -> list[tuple[str, object]]:
    events, kind = [], None
    for line in text.splitlines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((kind, json.loads(line.split(":", 1)[1].strip())))
    return events


def test_api_sources_carry_the_stand_of_their_unit(corpus_service):
    from fastapi.testclient import TestClient

    from assistant.web.api import create_app

    app = create_app(corpus_service.settings, corpus_service)
    with TestClient(app) as client:
        r = client.post("/api/chat", json={"question": "Muss ich meine Beschäftigten zu KI schulen?",
                                           "role": "owner"})
        assert r.status_code == 200
        events = _sse(r.text)
    sources = dict(events)["sources"]
    assert sources, events
    stand = {fm["id"]: fm["stand"] for fm, _ in unit_bodies(CORPUS).values()}
    for s in sources:
        assert s["stand"] == stand[s["doc_id"]].isoformat(), s  # the unit's front matter `stand`
    assert "notice" not in [k for k, _ in events]  # no shipped unit is older than a change of a norm it cites


@pytest.fixture(scope="module")
def old_unit_service(tmp_path_factory, embedder):
    from assistant.service import ChatService
    from assistant.settings import Settings

    root = tmp_path_factory.mktemp("old-corpus")
    (root / "alte-einheit.md").write_text(OLD_UNIT, encoding="utf-8")
    svc = ChatService.build(Settings(data_dir=root / "data"), embedder=embedder,  # warn after 12 months
                            sessions=False)
    report = svc.ingest([root / "alte-einheit.md"])
    assert report.counts["added"] == 1, report.results
    assert svc.norms is not None  # the shipped register: Art. 4 KI-Verordnung changed on 29.11.2026
    return svc


def test_notice_when_a_cited_unit_is_older_than_a_change_of_its_norm(old_unit_service):
    events = [(e["event"], e["data"]) for e in old_unit_service.chat(
        "Müssen Betriebe ihr Personal nach Art. 4 KI-Verordnung zur KI-Kompetenz schulen?")]
    kinds = [k for k, _ in events]
    sources = dict(events)["sources"]
    assert sources and sources[0]["stand"] == "2025-06-01", events
    notices = [d["message"] for k, d in events if k == "notice"]
    assert len(notices) == 1 and kinds.index("notice") == kinds.index("sources") + 1
    msg = notices[0]
    assert "\n" not in msg and "Stand 01.06.2025" in msg and "Art. 4 KI-Verordnung" in msg and "29.11.2026" in msg
    assert kinds[-1] == "done"


def test_cli_warns_about_units_older_than_the_configured_age(old_unit_service, monkeypatch):
    from assistant import cli

    buf = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buf, width=400, no_color=True))
    cli._warn_stale(old_unit_service, old_unit_service.settings)
    text = buf.getvalue()
    assert "Warnung" in text and "alte-einheit (01.06.2025)" in text and "12 Monate" in text and "LB_STAND_WARN_MONTHS" in text

    buf.truncate(0)
    old_unit_service.settings.stand_warn_months = 0  # 0 disables the warning
    try:
        cli._warn_stale(old_unit_service, old_unit_service.settings)
    finally:
        old_unit_service.settings.stand_warn_months = 12
    assert "Warnung" not in buf.getvalue()


def test_stale_units_and_month_arithmetic():
    metas = [{"doc_id": "a", "stand": "2025-01-10"}, {"doc_id": "a", "stand": "2025-01-10"},
             {"doc_id": "b", "stand": "2026-11-29"}, {"source": "x.pdf"}, {"doc_id": "c", "stand": "2024-06-01"}]
    today = dt.date(2026, 11, 29)
    assert stale_units(metas, 12, today) == [("c", dt.date(2024, 6, 1)), ("a", dt.date(2025, 1, 10))]
    assert stale_units(metas, 0, today) == []
    assert months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 1, 15), 12) == dt.date(2025, 1, 15)


def test_tutor_shows_the_stand_of_a_source():
    from ui.tutor import sources_html

    html = sources_html([{"n": 1, "title": "Glossar", "heading_path": "KI-Kompetenz", "stand": "2026-11-29",
                          "text": "…"}])
    assert "Stand: 29.11.2026" in html
    assert "Stand" not in sources_html([{"n": 1, "title": "Eigene Datei", "text": "…"}])
