"""One suite, two backends: embedded Chroma under the data directory and a real `chroma run` server."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from assistant.search.index import EmbedderMismatch, PassageIndex


class OtherEmbedder:
    """A second real embedder identity (vectors from USE, different name) to test the mismatch guard."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, "other-embedder", inner.dim

    def embed(self, texts):
        return self.inner.embed(texts)

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture(params=["embedded", "server"])
def make_index(request, tmp_path, embedder):
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    name = f"t{uuid.uuid4().hex[:10]}"  # the server is shared by the session: own collection per test

    def make(emb=None, rebuild=False):
        return PassageIndex(emb or embedder, name, str(tmp_path / "chroma"), url, rebuild=rebuild)

    return make


def _meta(source, n=2, h="h1"):
    return {"source": source, "file_hash": h, "n_chunks": n, "doc_title": "T", "baustein": "organisation"}


def test_add_query_get_delete(make_index):
    idx = make_index()
    texts = ["Der Betriebsrat hat bei technischen Überwachungseinrichtungen ein Mitbestimmungsrecht.",
             "Ein Exoskelett entlastet den Rücken beim Heben schwerer Lasten."]
    idx.upsert(["a", "b"], texts, texts, [_meta("x.md"), _meta("x.md")])
    assert idx.count() == 2
    scores = idx.dense(idx.embedder.embed_query("Mitbestimmung bei Überwachung"), 5)
    assert max(scores, key=scores.get) == "a"
    assert 0 < scores["a"] <= 1.0001
    assert [p.id for p in idx.get(["b", "a"])] == ["b", "a"]
    assert idx.file_states()["x.md"] == {"hashes": {"h1"}, "expected": {2}, "count": 2}
    fp = idx.fingerprint()
    idx.delete_ids(["a"])
    assert idx.count() == 1 and idx.fingerprint() != fp
    assert "a" not in idx.dense(idx.embedder.embed_query("Mitbestimmung"), 5)


def test_filters_restrict_dense_search(make_index):
    idx = make_index()
    idx.upsert(["a", "b"], ["Datenschutz im Betrieb.", "Datenschutz in der Praxis."], ["x", "y"],
               [_meta("x.md", 1), {**_meta("y.md", 1), "baustein": "sicherheit"}])
    got = idx.dense(idx.embedder.embed_query("Datenschutz"), 5, where={"baustein": "sicherheit"})
    assert set(got) == {"b"}


def test_other_embedder_is_refused_unless_rebuilt(make_index, embedder):
    idx = make_index()
    idx.upsert(["a"], ["Text über KI."], ["Text über KI."], [_meta("x.md", 1)])
    with pytest.raises(EmbedderMismatch) as err:
        make_index(OtherEmbedder(embedder))
    assert embedder.name in str(err.value) and "other-embedder" in str(err.value)
    assert "lernbegleiter ingest" in str(err.value) and "neu aufgebaut" in str(err.value)
    rebuilt = make_index(OtherEmbedder(embedder), rebuild=True)
    assert rebuilt.count() == 0
    assert (rebuilt.passages.metadata or {})["lb_embedder"] == "other-embedder"


def test_vectors_are_ours_not_chromas_default(make_index):
    idx = make_index()
    idx.upsert(["a"], ["Kurzer Text."], ["Kurzer Text."], [_meta("x.md", 1)])
    got = idx.passages.get(ids=["a"], include=["embeddings"])
    vec = np.asarray(got["embeddings"][0])
    assert vec.shape == (idx.embedder.dim,)
    assert np.allclose(vec, idx.embedder.embed_documents(["Kurzer Text."])[0], atol=1e-5)
