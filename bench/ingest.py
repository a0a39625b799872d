"""Ingestion throughput: the real embedder's rate (passages via ``embed_documents``, questions via
``embed_query``), the course corpus end to end, generated German PDFs (parse rate over all pages; end to
end incl. embeddings over a part of them)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .common import CORPUS, index_size, log, write_json


class TimingEmbedder:
    """Wraps the real embedder and adds up the seconds spent embedding passages (``embed_documents``,
    what ``PassageIndex.upsert`` calls); the other three forms are passed through and counted apart."""

    def __init__(self, real) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.seconds = 0.0          # embed_documents only
        self.texts = 0
        self.other_seconds = 0.0    # embed_query / embed_queries / embed (none expected during ingest)
        self.other_calls = 0

    def embed_documents(self, texts):
        t = time.perf_counter()
        try:
            return self.real.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - t
            self.texts += len(texts)

    def _other(self, fn, arg):
        t = time.perf_counter()
        try:
            return fn(arg)
        finally:
            self.other_seconds += time.perf_counter() - t
            self.other_calls += 1

    def embed_query(self, text):
        return self._other(self.real.embed_query, text)

    def embed_queries(self, texts):
        return self._other(self.real.embed_queries, texts)

    def embed(self, texts):
        return self._other(self.real.embed, texts)


def embed_rate(embedder, n_passages: int, n_queries: int) -> dict[str, Any]:
    """Passages (900 characters of course text) through ``embed_documents`` in one call, as ingest does;
    real German questions through ``embed_query`` one at a time, as retrieval does."""
    from .common import fresh_questions, questions, summary_ms
    from .synth import corpus_topics

    sents = [s for _, _, ss in corpus_topics() for s in ss]
    text = " ".join(sents)
    passages = [text[i * 900:(i + 1) * 900] for i in range(n_passages + 4)]
    embedder.embed_documents(passages[n_passages:])  # warm-up on other texts (the embedder may cache vectors)
    passages = passages[:n_passages]
    uncached = fresh_questions(embedder)
    t = time.perf_counter()
    embedder.embed_documents(passages)
    p_s = time.perf_counter() - t
    qs = [q for q, _ in questions()]
    qs = [qs[i % len(qs)] for i in range(n_queries)]
    for q in qs[:5]:
        embedder.embed_query(q)
    lat = []
    t = time.perf_counter()
    for q in qs:
        t1 = time.perf_counter()
        embedder.embed_query(q)
        lat.append(time.perf_counter() - t1)
    q_s = time.perf_counter() - t
    rate = n_passages / p_s
    return {"passages": n_passages, "passage_chars": 900, "passages_per_s": round(rate, 2),
            "queries": n_queries, "queries_per_s": round(n_queries / q_s, 1), "query_ms": summary_ms(lat),
            "question_cache_bypassed": uncached,
            "hours_for_100k_passages": round(100_000 / rate / 3600, 2)}


def _ingest(data_dir: Path, paths: list[Path], embedder) -> tuple[dict[str, Any], Any]:
    from assistant.service import ChatService
    from assistant.settings import Settings

    timing = TimingEmbedder(embedder)
    svc = ChatService.build(Settings(data_dir=data_dir), embedder=timing)
    t = time.perf_counter()
    report = svc.ingest(paths)
    secs = time.perf_counter() - t
    c = report.counts
    chunks = sum(r.chunks for r in report.results if r.status in ("added", "updated"))
    out = {"files": c["added"] + c["updated"], "failed": c["failed"], "chunks": chunks, "seconds": round(secs, 2),
           "chunks_per_s": round(chunks / secs, 2), "files_per_s": round((c["added"] + c["updated"]) / secs, 3),
           "embed_seconds": round(timing.seconds, 2), "embed_share": round(timing.seconds / secs, 3),
           "embedded_passages": timing.texts,
           "embedded_passages_per_s": round(timing.texts / timing.seconds, 2) if timing.seconds else None,
           "other_embed_calls": timing.other_calls, "other_embed_seconds": round(timing.other_seconds, 2)}
    return out, svc


def corpus(data_dir: Path, embedder) -> dict[str, Any]:
    out, svc = _ingest(data_dir, [CORPUS], embedder)
    t = time.perf_counter()
    again = svc.ingest([CORPUS])
    out["rerun_unchanged_s"] = round(time.perf_counter() - t, 2)
    out["rerun_counts"] = again.counts
    out["size"] = index_size(data_dir, svc.index.count())
    return out


def pdfs(work: Path, embedder, pages: int, e2e_pages: int, pool_topics: int = 40) -> dict[str, Any]:
    from ingestion.chunking import chunk_document
    from ingestion.loaders import load

    from .synth import Pool, write_pdfs

    pool = Pool.build(pool_topics, 20)
    pdf_dir = work / "pdfs"
    t = time.perf_counter()
    files = write_pdfs(pool, pdf_dir, pages)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    chunks = chars = n_pages = 0
    per_file: dict[Path, int] = {}
    for f in files:
        doc = load(f)
        cs = chunk_document(doc, f.name, "x", 900, 150)
        per_file[f] = max((s.page or 0) for s in doc.sections)
        n_pages += per_file[f]
        chunks += len(cs)
        chars += sum(len(s.text) for s in doc.sections)
    parse_s = time.perf_counter() - t
    out: dict[str, Any] = {
        "pages": n_pages, "files": len(files), "generate_s": round(gen_s, 2),
        "parse": {"seconds": round(parse_s, 2), "pages_per_s": round(n_pages / parse_s, 1),
                  "chunks": chunks, "chunks_per_page": round(chunks / n_pages, 2),
                  "chars_per_page": round(chars / n_pages), "what": "pypdf load + normalise + chunk, no index"},
        "bytes_on_disk_mb": round(sum(f.stat().st_size for f in files) / 2**20, 2),
    }
    # end to end (load, chunk, embed, Chroma write, lexical rebuild) over the first files
    subset, got = [], 0
    for f in files:
        if got >= e2e_pages:
            break
        subset.append(f)
        got += per_file[f]
    data_dir = work / "pdf-data"
    e2e, svc = _ingest(data_dir, subset, embedder)
    e2e["pages"] = got
    e2e["pages_per_s"] = round(got / e2e["seconds"], 2)
    e2e["size"] = index_size(data_dir, svc.index.count())
    out["end_to_end"] = e2e
    if got < n_pages:
        per_page = e2e["seconds"] / got
        out["end_to_end_all_pages_estimate_s"] = round(per_page * n_pages, 1)
        out["end_to_end_note"] = (f"end to end measured on {got} of {n_pages} pages; "
                                  f"all pages extrapolated linearly at {per_page:.2f} s/page")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--corpus-data", type=Path, required=True)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--e2e-pages", type=int, default=300)
    ap.add_argument("--embed-passages", type=int, default=64)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    from .common import embedder_facts, settings_embedder

    embedder, threads = settings_embedder()
    res: dict[str, Any] = {"embedder_threads": threads}
    log(f"embedding rate ({embedder.name}, {threads} threads)")
    res["embedder"] = {**embedder_facts(embedder, threads),
                       **embed_rate(embedder, a.embed_passages, max(50, a.embed_passages * 2))}
    log("corpus ingest (end to end)")
    res["corpus"] = corpus(a.corpus_data, embedder)
    log(f"PDFs: {a.pages} pages generated and parsed, {a.e2e_pages} end to end")
    res["pdf"] = pdfs(a.work, embedder, a.pages, a.e2e_pages)
    write_json(a.out, res)


if __name__ == "__main__":
    main()
