"""Pieces of multi-process serving that need no servers: the encoder gate, thread counts, concurrent saves
of the lexical index into one data dir (workers of `serve --workers N` rebuild after the same ingest)."""

from __future__ import annotations

import threading
import time

from assistant.search.embeddings import EncodeGate
from assistant.search.lexical import LexicalIndex
from assistant.serving.workers import check, embedder_threads_for
from assistant.settings import Settings


def test_gate_lets_waiting_questions_go_first():
    gate = EncodeGate(1)
    order: list[str] = []
    release = threading.Event()

    def hold():
        with gate(urgent=False):
            release.wait(5)

    def job(name: str, urgent: bool):
        with gate(urgent):
            order.append(name)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    batch = threading.Thread(target=job, args=("answer sentences", False))
    batch.start()
    time.sleep(0.1)
    query = threading.Thread(target=job, args=("question", True))
    query.start()
    time.sleep(0.1)
    assert order == []  # both wait while one call runs
    release.set()
    for t in (holder, batch, query):
        t.join(5)
    assert order == ["question", "answer sentences"]


def test_gate_caps_concurrent_calls():
    gate = EncodeGate(2)
    running, peak, lock = [0], [0], threading.Lock()

    def job():
        with gate(urgent=False):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=job) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert peak[0] == 2


def test_embedder_threads_share_the_cores():
    assert embedder_threads_for(1, cores=2) == 2
    assert embedder_threads_for(2, cores=2) == 1
    assert embedder_threads_for(3, cores=2) == 1
    assert embedder_threads_for(2, cores=8) == 4


def test_check_refuses_several_workers_on_embedded_chroma(tmp_path):
    errors, warnings = check(Settings(data_dir=tmp_path), 2)
    assert errors and "LB_CHROMA_URL" in errors[0]
    assert any("LB_REDIS_URL" in w for w in warnings) and any("LB_DATABASE_URL" in w for w in warnings)
    assert check(Settings(data_dir=tmp_path), 1) == ([], [])
    errors, warnings = check(Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:9", redis_url="redis://x:1",
                                      database_url="postgresql+psycopg://u@h/db"), 4)
    assert errors == [] and warnings == []


def test_concurrent_saves_of_the_lexical_index_never_fail_nor_mix(tmp_path):
    target = tmp_path / "lexical" / "c"
    texts = ["Betriebsrat Mitbestimmung KI", "Datenschutz im Handwerk", "Kennzahlen der Wirkung"]
    indexes = [LexicalIndex.build(["a", "b", "c"][: n + 1], texts[: n + 1], f"{n + 1}:rev{n}") for n in range(3)]
    failures: list[BaseException] = []
    seen: list[tuple[str, int]] = []

    def writer(lex: LexicalIndex):
        try:
            for _ in range(15):
                lex.save(target)
        except BaseException as e:  # noqa: BLE001
            failures.append(e)

    def reader():
        for _ in range(60):
            for lex in indexes:
                got = LexicalIndex.load(target, lex.fingerprint)
                if got is not None:
                    seen.append((got.fingerprint, int(got.bm25.scores["num_docs"])))

    threads = [threading.Thread(target=writer, args=(lex,)) for lex in indexes] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert seen and all(int(fp.split(":")[0]) == n for fp, n in seen)  # meta and BM25 of one and the same save
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".lexical-")]  # no temp dirs left


def test_compose_gate_caps_composition_but_never_the_first_event():
    from assistant.serving.gate import ComposeGate

    gate = ComposeGate(1)
    inside, peak, lock = [0], [0], threading.Lock()
    firsts: list[float] = []
    closed: list[bool] = []

    def events():
        try:
            yield "meta"
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.05)  # composing
            with lock:
                inside[0] -= 1
            yield "delta"
            yield "done"
        finally:
            closed.append(True)

    t0 = time.monotonic()

    def consume():
        it = gate.wrap(events())
        assert next(it) == "meta"
        firsts.append(time.monotonic() - t0)
        assert list(it) == ["delta", "done"]

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == 1 and len(firsts) == 6
    assert max(firsts) < 0.05 * 3  # six first events did not queue behind six compositions (0.3 s)
    # a client that goes away: the inner stream is closed (the service stores the partial answer there)
    it = gate.wrap(events())
    next(it)
    next(it)
    it.close()
    assert len(closed) == 7


def test_compose_gate_off():
    from assistant.serving.gate import ComposeGate

    assert list(ComposeGate(0).wrap(iter(["meta", "delta", "done"]))) == ["meta", "delta", "done"]
    assert list(ComposeGate(2).wrap(iter([]))) == []


def test_waiting_questions_are_encoded_together_and_alike(embedder):
    """Concurrent questions share encoder calls (fewer calls than questions) and get the very vectors a
    question encoded alone gets."""
    import numpy as np

    questions = [f"Was muss der Betriebsrat bei KI beachten? Fall {i}" for i in range(12)]
    alone = {q: embedder._model.encode([q], True)[0] for q in questions[:3]}
    calls: list[int] = []
    original = embedder._model.encode

    def counting(texts, is_query):
        calls.append(len(texts))
        time.sleep(0.05)  # long enough for the others to queue
        return original(texts, is_query)

    embedder._model.encode = counting
    try:
        out: dict[str, np.ndarray] = {}
        threads = [threading.Thread(target=lambda q=q: out.__setitem__(q, embedder._encode_question(q)))
                   for q in questions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        embedder._model.encode = original
    assert set(out) == set(questions) and sum(calls) == len(questions)
    assert len(calls) < len(questions) and max(calls) > 1
    for q, v in alone.items():
        assert np.allclose(out[q][0] / np.linalg.norm(out[q][0]), v / np.linalg.norm(v), atol=1e-4)
