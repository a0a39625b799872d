"""The reference from the foundation issue's study, rebuilt on our seed question set: raw seed text in
800-character chunks, BM25 with Snowball stemming (bm25s' own tokenizer), USE vectors per chunk,
plain reciprocal-rank fusion (k=60). Same relevance rule as evals/run_seeds.py.

    python -m evals.baseline_fusion
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import Stemmer
import yaml
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.search.embeddings import USEEmbedder

from .metrics import summarise

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"


def _norm(s: str) -> str:
    return " ".join(s.split())


def main() -> dict:
    splitter = RecursiveCharacterTextSplitter(chunk_size=800, chunk_overlap=0)
    chunks: list[tuple[str, str]] = []
    for p in sorted(SEEDS.glob("*.txt")):
        chunks += [(p.name, c) for c in splitter.split_text(p.read_text(encoding="utf-8"))]
    texts = [c for _, c in chunks]
    stemmer = Stemmer.Stemmer("german")
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize(texts, stopwords="de", stemmer=stemmer, show_progress=False), show_progress=False)
    emb = USEEmbedder()
    vecs = emb.embed(texts)
    qs = yaml.safe_load((ROOT / "evals" / "seed_questions.yaml").read_text(encoding="utf-8"))["questions"]
    rows: dict[str, list] = {"lexical": [], "dense": [], "fusion": []}
    para: dict[str, list] = {k: [] for k in rows}
    for q in qs:
        res, _ = bm25.retrieve(bm25s.tokenize([q["question"]], stopwords="de", stemmer=stemmer, show_progress=False),
                               k=50, show_progress=False)
        lex = list(res[0])
        dense = list(np.argsort(-(vecs @ emb.embed([q["question"]])[0]))[:50])
        fused: dict[int, float] = {}
        for ranking in (lex, dense):
            for r, i in enumerate(ranking, 1):
                fused[int(i)] = fused.get(int(i), 0.0) + 1 / (60 + r)
        ev = [_norm(e) for e in q["evidence"]]
        for name, ranking in (("lexical", lex), ("dense", dense),
                              ("fusion", sorted(fused, key=fused.get, reverse=True))):
            rel = [chunks[int(i)][0] == q["source"] and any(e in _norm(chunks[int(i)][1]) for e in ev)
                   for i in ranking[:10]]
            rows[name].append(rel)
            if q.get("paraphrase"):
                para[name].append(rel)
    out = {k: {"all": summarise(rows[k]), "paraphrase": summarise(para[k]),
               "keyword": summarise([r for r, q in zip(rows[k], qs) if not q.get("paraphrase")])} for k in rows}
    for k, v in out.items():
        print(k, {s: f"R@1 {m['R@1']:.3f} R@5 {m['R@5']:.3f} MRR@10 {m['MRR@10']:.3f}" for s, m in v.items()})
    return out


if __name__ == "__main__":
    main()
