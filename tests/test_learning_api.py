"""The learning API against a real `python -m assistant serve` (SQLite, and a real PostgreSQL via
LB_DATABASE_URL): paths, units, quiz, attempts, progress, record PDF, teams, pages, German 4xx."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from assistant.learning.quiz import parse_quiz_file

from .conftest import CORPUS, free_port, wait_http
from .pg import MISSING, pg_bin, postgres_server

UNIT = "grundlagen-01-grundlagen-der-ki"


@pytest.fixture(scope="module")
def pg_url():
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING + " — CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip(MISSING)
    with postgres_server(free_port()) as url:
        yield url


def _serve(data: Path, **env: str):
    port = free_port()
    log = open(data.parent / f"server-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)],
                            env={**os.environ, "LB_DATA_DIR": str(data), "LB_WARM_CACHE": "0",
                                 "LB_RATE_LIMIT_SESSIONS_PER_MINUTE": "0", **env},
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    wait_http(f"http://127.0.0.1:{port}/api/health", timeout=120, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory):
    data = tmp_path_factory.mktemp(f"learning-{request.param}") / "data"
    env = {"LB_DATABASE_URL": request.getfixturevalue("pg_url")} if request.param == "postgresql" else {}
    proc, url = _serve(data, **env)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def api(base):
    with httpx.Client(base_url=base, timeout=30) as c:
        yield c


def _learner(api, role="works_council", name=None) -> str:
    r = api.post("/api/learning/learners", json={"role": role, "display_name": name})
    assert r.status_code == 201, r.text
    return r.json()["learner_id"]


def test_paths_units_and_quiz(api):
    paths = api.get("/api/learning/paths").json()["paths"]
    assert [p["role"] for p in paths] == ["owner", "employee", "works_council", "consultant"]
    wc = api.get("/api/learning/paths/works_council").json()
    assert wc["headline"] == "Ihr Lernpfad als Betriebsrat: 9 Einheiten, ca. 3 Stunden"
    assert all(s["warum"] and s["minuten"] > 0 for s in wc["steps"]) and wc["steps"][0]["quiz_items"] >= 3
    unit = api.get(f"/api/learning/units/{UNIT}", params={"role": "works_council"}).json()
    assert unit["titel"] == "Grundlagen der KI" and '<h2 id="a-worum-geht-es">' in unit["html"]
    assert unit["fragen"] and all("works_council" in q["rollen"] for q in unit["fragen"])
    assert unit["fragen"][0]["anchor"] in unit["html"]
    quiz = api.get(f"/api/learning/units/{UNIT}/quiz").json()
    assert 3 <= len(quiz["items"]) <= 5 and quiz["titel"] == "Grundlagen der KI"
    assert not any("richtig" in it or "erklaerung" in it for it in quiz["items"])  # no solutions before answering


def test_learning_flow_with_record_pdf(api):
    lid = _learner(api, name="Erika Muster")
    assert api.post(f"/api/learning/learners/{lid}/progress",
                    json={"unit_id": UNIT, "event": "time", "seconds": 600}).status_code == 200
    items = api.get(f"/api/learning/units/{UNIT}/quiz").json()["items"]
    solutions = {it.id: it for it in parse_quiz_file(CORPUS / "_quiz" / f"{UNIT}.yaml")}
    answers = {it["id"]: solutions[it["id"]].solution() for it in items}
    first = solutions[items[0]["id"]]  # answered wrong on purpose
    answers[first.id] = (not first.richtig if first.typ == "wahr_falsch"
                         else [next(i for i in range(len(first.optionen)) if i not in first.richtig)])
    r = api.post(f"/api/learning/learners/{lid}/attempts", json={"answers": answers})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["total"] == len(items) and all("erklaerung" in x and "richtig" in x for x in res["results"])
    wrong = [x["item_id"] for x in res["results"] if not x["correct"]]
    assert wrong == [first.id] and res["correct"] == len(items) - 1
    prog = api.get(f"/api/learning/learners/{lid}/progress").json()
    assert prog["path"]["completed"] == 1 and sorted(r["item_id"] for r in prog["reviews"]["later"]) == sorted(wrong)
    pdf = api.get(f"/api/learning/learners/{lid}/record.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    vid = pdf.headers["x-verification-id"]
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert "Erika Muster" in text and f"Prüf-ID {vid}" in text and "Grundlagen der KI" in text
    assert f"{res['correct']} von {res['total']} richtig" in text and "kein Zertifikat" in text
    assert api.get(f"/api/learning/records/{vid}").json()["completed_units"] == 1
    exp = api.get(f"/api/learning/learners/{lid}").json()
    assert len(exp["attempts"]) == len(items) and exp["records"][0]["verification_id"] == vid
    assert api.delete(f"/api/learning/learners/{lid}").status_code == 204
    gone = api.get(f"/api/learning/learners/{lid}/progress")
    assert gone.status_code == 404 and "gelöscht" in gone.json()["error"]
    assert api.get(f"/api/learning/records/{vid}").status_code == 404


@pytest.mark.parametrize("method, path, body, status, german", [
    ("post", "/api/learning/learners", {"role": "chef"}, 422, "Bitte wählen Sie eine Rolle"),
    ("post", "/api/learning/learners", {}, 422, "Feld „role“ fehlt"),
    ("post", "/api/learning/learners", {"role": "owner", "display_name": "a\u0000b"}, 422, "unzulässige Zeichen"),
    ("post", "/api/learning/learners", {"role": "owner", "display_name": "x" * 121}, 422, "zu lang"),
    ("get", "/api/learning/paths/chef", None, 404, "Einen Lernpfad für diese Rolle gibt es nicht"),
    ("get", "/api/learning/units/gibt-es-nicht", None, 404, "Diese Lerneinheit gibt es nicht"),
    ("get", "/api/learning/units/../../etc/passwd", None, 404, "gibt es nicht"),
    ("get", "/api/learning/units/ueberblick-betriebsrat/quiz", None, 404, "kein Quiz"),
    ("get", "/api/learning/learners/unbekannt/progress", None, 404, "Diese Lerndaten gibt es nicht"),
    ("get", "/api/learning/learners/unbekannt/record.pdf", None, 404, "Diese Lerndaten gibt es nicht"),
    ("delete", "/api/learning/learners/unbekannt", None, 404, "Diese Lerndaten gibt es nicht"),
    ("get", "/api/learning/records/nichtda", None, 404, "keinen Nachweis"),
    ("get", "/api/learning/teams/NICHTDA/summary", None, 404, "kein Team"),
    ("post", "/api/learning/teams", {"name": "   "}, 422, "Namen"),
])
def test_bad_requests_get_german_errors(api, method, path, body, status, german):
    r = api.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    assert german in r.json()["error"]


def test_bad_attempts_and_progress_get_german_errors(api):
    lid = _learner(api)
    item = api.get(f"/api/learning/units/{UNIT}/quiz").json()["items"][0]["id"]
    cases = [({"answers": {}}, "„answers“"), ({"answers": {item: "ja"}}, "falschen Typ"),
             ({"answers": {item: [0, 1, 2, 3]}}, "passt nicht zur Frageart"),
             ({"answers": {"gibt-es-nicht-1": [0]}}, "unbekannte Frage-ID"),
             ({"answers": {"<script>": [0]}}, "unbekannte Frage-ID")]
    for body, german in cases:
        r = api.post(f"/api/learning/learners/{lid}/attempts", json=body)
        assert r.status_code == 422 and german in r.json()["error"], (body, r.text)
    r = api.post(f"/api/learning/learners/{lid}/progress", json={"unit_id": UNIT, "event": "gelesen"})
    assert r.status_code == 422 and "event" in r.json()["error"]
    r = api.post(f"/api/learning/learners/{lid}/progress", json={"unit_id": "gibt-es-nicht", "event": "opened"})
    assert r.status_code == 404 and "Lerneinheit" in r.json()["error"]
    r = api.post(f"/api/learning/learners/{lid}/attempts", content=b"{kein json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "kein gültiges JSON" in r.json()["error"]
    assert api.get(f"/api/learning/learners/{lid}").json()["attempts"] == []  # nothing stored by bad input


def test_team_summary_over_http(api):
    team = api.post("/api/learning/teams", json={"name": "Tischlerei"}).json()
    code, key = team["team_code"], team["owner_key"]
    ids = [_learner(api, "employee") for _ in range(5)]
    for lid in ids[:4]:
        assert api.put(f"/api/learning/learners/{lid}/team", json={"team_code": code}).status_code == 200
    r = api.get(f"/api/learning/teams/{code}/summary")
    assert r.status_code == 403 and "Team-Schlüssel" in r.json()["error"]
    s = api.get(f"/api/learning/teams/{code}/summary", headers={"X-Team-Key": key}).json()
    assert s["members"] is None and s["min_group"] == 5
    api.put(f"/api/learning/learners/{ids[4]}/team", json={"team_code": code})
    s = api.get(f"/api/learning/teams/{code}/summary", headers={"X-Team-Key": key}).json()
    assert s["members"] == 5 and not any(i in str(s) for i in ids)
    pdf = api.get(f"/api/learning/teams/{code}/record.pdf", headers={"X-Team-Key": key})
    assert pdf.status_code == 200 and "Mitglieder im Team: 5" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()


def test_pages_are_served(api):
    page = api.get("/lernen/")
    assert page.status_code == 200 and "/lernen/learning.js" in page.text and 'lang="de"' in page.text
    assert api.get("/lernen/learning.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/lernen/secret.py").status_code == 404
    sheet = api.get("/was-wird-gespeichert")
    assert sheet.status_code == 200 and "Was wird gespeichert?" in sheet.text
    assert "{{" not in sheet.text and "730 Tage" in sheet.text and "30 Tage" in sheet.text
    assert "weniger als fünf Personen" in sheet.text and "§ 87 Abs. 1 Nr. 6 BetrVG" in sheet.text


def test_switching_the_role_keeps_the_progress(api):
    lid = _learner(api, "employee", name="Max")
    api.post(f"/api/learning/learners/{lid}/progress", json={"unit_id": UNIT, "event": "completed"})
    r = api.patch(f"/api/learning/learners/{lid}", json={"role": "works_council"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["role"] == "works_council" and p["path"]["completed"] == 1 and p["display_name"] == "Max"
    r = api.patch(f"/api/learning/learners/{lid}", json={"clear_name": True})
    assert r.json()["display_name"] is None
    r = api.patch(f"/api/learning/learners/{lid}", json={"role": "azubi"})
    assert r.status_code == 422 and "Bitte wählen Sie eine Rolle" in r.json()["error"]
