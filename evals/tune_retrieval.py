"""Fusion refit and retrieval variants, measured on our own question sets.

    python -m evals.tune_retrieval [--embedder e5] [--cache DIR]   # writes evals/results/fusion.md + .json

Builds (or reuses, under ``--cache``) one index per document set with the chosen embedder:
the shipped corpus (evals/corpus_questions.yaml, unit-level gold, role given), ../shared/seeds
(evals/seed_questions.yaml) and the foreign set (evals/foreign/, when present, split into
``tune`` and ``heldout``). For every question the lexical and the dense candidates (50 each) are
collected once; the fusion weights and the RRF constant are then chosen on a grid by the mean of
R@5 and MRR@10 over the tuning sets only (corpus, seeds, foreign ``tune``). The held-out foreign
split is reported, never used to choose. Variants (typo correction off, dense on the corrected
question, ...) are measured the same way and reported with their numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from assistant.search.embeddings import create_embedder
from assistant.search.retrieval import Retriever
from assistant.roles import Role
from assistant.service import ChatService
from assistant.settings import Settings

from .metrics import summarise
from .run import seed_relevant

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
FOREIGN = ROOT / "evals" / "foreign"
RESULTS = ROOT / "evals" / "results"

W_DENSE = (0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.4, 1.7, 2.0)
RRF_K = (5, 10, 20, 40, 60)


def _sets() -> dict[str, dict[str, Any]]:
    """name -> {docs: [paths], questions: [{question, role, relevant(meta, text) -> bool, ...}]}"""
    out: dict[str, dict[str, Any]] = {}
    corpus = yaml.safe_load((ROOT / "evals" / "corpus_questions.yaml").read_text(encoding="utf-8"))
    out["corpus"] = {"docs": [ROOT / "corpus"], "questions": [
        {"id": q["id"], "question": q["question"], "role": q["role"], "part": "typo" if q.get("typo") else "plain",
         "rel": (lambda g: lambda meta, text: meta.get("doc_id") in g)(set(q["gold"]))}
        for q in corpus["questions"]]}
    seeds = yaml.safe_load((ROOT / "evals" / "seed_questions.yaml").read_text(encoding="utf-8"))["questions"]
    out["seeds"] = {"docs": [SEEDS], "questions": [
        {"id": q["id"], "question": q["question"], "role": None,
         "part": "paraphrase" if q.get("paraphrase") else "keyword",
         "rel": (lambda qq: lambda meta, text: seed_relevant(str(meta.get("source", "")), text, qq))(q)}
        for q in seeds]}
    fq = FOREIGN / "questions.yaml"
    if fq.exists():
        data = yaml.safe_load(fq.read_text(encoding="utf-8"))
        qs = data["questions"] if isinstance(data, dict) else data
        for split in ("tune", "heldout"):
            out[f"foreign-{split}"] = {"docs": [FOREIGN / "docs"], "index": "foreign", "questions": [
                {"id": q["id"], "question": q["question"], "role": None,
                 "part": "paraphrase" if q.get("paraphrase") else "keyword",
                 "rel": (lambda qq: lambda meta, text: seed_relevant(str(meta.get("source", "")), text, qq))(q)}
                for q in qs if q.get("split") == split]}
    return out


def _service(cache: Path, name: str, docs: list[Path], embedder: Any) -> ChatService:
    svc = ChatService.build(Settings(data_dir=cache / name), embedder=embedder, sessions=False)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        t = time.perf_counter()
        report = svc.ingest(docs)
        print(f"{name}: {report.summary_de()} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    finally:
        os.chdir(cwd)
    return svc


def collect(svc: ChatService, questions: list[dict[str, Any]], dense_query: Callable[[str, str], str] | None = None,
            correct: bool = True) -> list[dict[str, Any]]:
    """Per question: both candidate lists, the metadata needed for the role factor, relevance per id."""
    r: Retriever = svc.retriever
    rows = []
    for q in questions:
        if correct:
            lex, dense, plan = r.candidates(q["question"])
        else:
            from assistant.search.retrieval import expand_query

            lex = r.lexical().search(expand_query(q["question"]), 50)
            dense = r.index.dense(r.index.embedder.embed_query(q["question"]), 50)
            plan = None
        if dense_query is not None and plan is not None:
            dense = r.index.dense(r.index.embedder.embed_query(dense_query(q["question"], plan.lexical)), 50)
        stored = {p.id: p for p in r.index.get(sorted(set(lex) | set(dense)))}
        rows.append({"q": q, "lex": lex, "dense": dense,
                     "meta": {pid: p.metadata for pid, p in stored.items()},
                     "rel": {pid: bool(q["rel"](p.metadata, p.text)) for pid, p in stored.items()}})
    return rows


def score(r: Retriever, rows: list[dict[str, Any]], w_dense: float, rrf_k: int, roles: bool = True,
          part: str | None = None) -> dict[str, float]:
    ranked = []
    for row in rows:
        if part and row["q"]["part"] != part:
            continue
        role = Role(row["q"]["role"]) if roles and row["q"]["role"] else None
        fused = r.fuse(row["lex"], row["dense"], role, 10, {"lexical": 1.0, "dense": w_dense}, rrf_k, row["meta"])
        ranked.append([row["rel"].get(pid, False) for pid, _, _ in fused])
    return summarise(ranked)


def objective(m: dict[str, dict[str, float]], tune: list[str]) -> float:
    return statistics.mean((m[s]["R@5"] + m[s]["MRR@10"]) / 2 for s in tune)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="e5")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lb-tune"))
    args = ap.parse_args(argv)
    sets = _sets()
    embedder = create_embedder(args.embedder, 2)
    services: dict[str, ChatService] = {}
    collected: dict[str, list[dict[str, Any]]] = {}
    variants: dict[str, dict[str, list[dict[str, Any]]]] = {"no typo correction": {}, "dense on corrected": {}}
    for name, spec in sets.items():
        key = spec.get("index", name)
        if key not in services:
            services[key] = _service(args.cache / args.embedder, key, spec["docs"], embedder)
        svc = services[key]
        collected[name] = collect(svc, spec["questions"])
        variants["no typo correction"][name] = collect(svc, spec["questions"], correct=False)
        variants["dense on corrected"][name] = collect(svc, spec["questions"],
                                                       dense_query=lambda q, lexical: lexical)
    tune = [s for s in collected if s != "foreign-heldout"]
    r = next(iter(services.values())).retriever
    grid = []
    for w in W_DENSE:
        for k in RRF_K:
            m = {s: score(r, rows, w, k) for s, rows in collected.items()}
            grid.append({"w_dense": w, "rrf_k": k, "objective": objective(m, tune), "sets": m})
    grid.sort(key=lambda g: (-g["objective"], g["w_dense"], g["rrf_k"]))
    best = grid[0]
    shipped = Retriever.FUSION["default"]  # the weights shipped before the refit (the USE study's)
    current = next((g for g in grid if (g["w_dense"], g["rrf_k"]) == shipped), None)

    def at_best(rows_by_set: dict[str, list[dict[str, Any]]], **kw: Any) -> dict[str, dict[str, float]]:
        return {s: score(r, rows, best["w_dense"], best["rrf_k"], **kw) for s, rows in rows_by_set.items()}

    table: dict[str, dict[str, dict[str, float]]] = {
        f"{args.embedder} hybrid (refit: dense {best['w_dense']}, k {best['rrf_k']})": best["sets"],
        f"{args.embedder} lexical only": {s: score(r, rows, 0.0, best["rrf_k"]) for s, rows in collected.items()},
        f"{args.embedder} dense only": {s: score(r, [{**row, "lex": {}} for row in rows], 1.0, best["rrf_k"])
                                        for s, rows in collected.items()},
        "without role factor": at_best(collected, roles=False),
    }
    if current:
        table[f"{args.embedder} hybrid, shipped weights (dense {current['w_dense']}, k {current['rrf_k']})"] = current["sets"]
    for name, rows_by_set in variants.items():
        table[name] = at_best(rows_by_set)
    parts = {s: {p: score(r, rows, best["w_dense"], best["rrf_k"], part=p)
                 for p in sorted({row["q"]["part"] for row in rows})} for s, rows in collected.items()}
    res = {"embedder": embedder.name, "tune_sets": tune, "best": {k: best[k] for k in ("w_dense", "rrf_k", "objective")},
           "table": table, "parts": parts, "grid": [{k: g[k] for k in ("w_dense", "rrf_k", "objective")} for g in grid]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"fusion-{args.embedder}"
    (RESULTS / f"{name}.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    lines = [f"# Fusion refit: {embedder.name}", "",
             f"Chosen on {', '.join(tune)} by mean (R@5 + MRR@10)/2; `foreign-heldout` never used to choose.", "",
             "| variant | set | n | R@1 | R@5 | MRR@10 |", "|---|---|---|---|---|---|"]
    for variant, by_set in table.items():
        for s, m in by_set.items():
            lines.append(f"| {variant} | {s} | {m['n']} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['MRR@10']:.3f} |")
    lines += ["", "Parts at the refit weights:", "", "| set | part | n | R@1 | R@5 | MRR@10 |", "|---|---|---|---|---|---|"]
    for s, by_part in parts.items():
        for p, m in by_part.items():
            lines.append(f"| {s} | {p} | {m['n']} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['MRR@10']:.3f} |")
    lines += ["", "Top of the grid:", "", "| dense weight | rrf k | objective |", "|---|---|---|"]
    lines += [f"| {g['w_dense']} | {g['rrf_k']} | {g['objective']:.4f} |" for g in grid[:8]]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
