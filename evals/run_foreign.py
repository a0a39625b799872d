"""Retrieval eval over foreign documents: evals/foreign/docs (excerpts of German federal labour and safety law,
see evals/foreign/SOURCES.md) with the questions of evals/foreign/questions.yaml.

    python -m evals.run_foreign            # fresh index in a temporary dir -> evals/results/foreign.md and .json
    python -m evals.run_foreign --docs DIR # the same documents kept elsewhere (file names as in questions.yaml)

From a tuning script, reuse one ingested service and score only the split you tune on:

    from evals.run_foreign import build_foreign_service, foreign_eval
    svc, _ = build_foreign_service(tmp_dir)                 # ingest once
    foreign_eval(svc, split="tune")["hybrid"]["all"]["MRR@10"]   # ... change weights, call again
    foreign_eval(svc, split="heldout")                      # report once at the end

Relevance is the rule of `seed_eval` in evals/run_seeds.py: a hit is relevant when its `source` ends with the
question's file name and its text contains one of the question's evidence strings (whitespace normalised).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from assistant.service import ChatService
from assistant.settings import Settings

from .metrics import summarise

ROOT = Path(__file__).resolve().parent.parent
FOREIGN = ROOT / "evals" / "foreign"
DOCS = FOREIGN / "docs"
QUESTIONS = FOREIGN / "questions.yaml"
RESULTS = ROOT / "evals" / "results"
MODES = ("lexical", "dense", "hybrid")
SPLITS = ("tune", "heldout")
PARTS = ("keyword", "paraphrase")
K = 10


def _norm(s: str) -> str:
    return " ".join(s.split())


def load_questions(split: str | None = None) -> list[dict[str, Any]]:
    """The questions of evals/foreign/questions.yaml, all or those of one split ('tune' or 'heldout')."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, not {split!r}")
    qs = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    return [q for q in qs if split is None or q["split"] == split]


def relevance(q: dict[str, Any], hits: Iterable[Any]) -> list[bool]:
    """Per hit (best first): from the question's file and containing one of its evidence strings."""
    ev = [_norm(e) for e in q["evidence"]]
    return [h.metadata.get("source", "").endswith(q["source"]) and any(e in _norm(h.text) for e in ev)
            for h in hits]


def _groups(q: dict[str, Any]) -> list[str]:
    part = "paraphrase" if q.get("paraphrase") else "keyword"
    return ["all", part, q["split"], f"{q['split']}/{part}"]


def foreign_eval(svc: ChatService, split: str | None = None, modes: Iterable[str] = MODES, k: int = K) -> dict:
    """R@1/5/10, MRR@10, nDCG@10 of `svc.search` (no role) over the foreign question set.

    Returns {mode: {group: metrics}} with the groups "all", "keyword", "paraphrase", and per split
    "tune", "heldout", "tune/keyword", "tune/paraphrase", "heldout/keyword", "heldout/paraphrase"
    (only the given split's groups when `split` is set), plus
    "ranks": {mode: {question id: rank of the first relevant hit or None}} for error analysis and
    "latency_ms": p50/p95 of the hybrid searches. `svc` must have evals/foreign/docs ingested.
    """
    qs = load_questions(split)
    out: dict[str, Any] = {"n_questions": len(qs), "split": split or "all", "ranks": {}}
    latencies: list[float] = []
    for mode in modes:
        rows: dict[str, list[list[bool]]] = {}
        ranks: dict[str, int | None] = {}
        for q in qs:
            t = time.perf_counter()
            hits = svc.search(q["question"], k=k, mode=mode)
            if mode == "hybrid":
                latencies.append((time.perf_counter() - t) * 1000)
            rel = relevance(q, hits)
            ranks[q["id"]] = rel.index(True) + 1 if any(rel) else None
            for g in _groups(q):
                rows.setdefault(g, []).append(rel)
        order = ["all", *PARTS, *(f"{s}{suffix}" for s in SPLITS for suffix in ("", "/keyword", "/paraphrase"))]
        out[mode] = {g: summarise(rows[g]) for g in order if g in rows}
        out["ranks"][mode] = ranks
    if latencies:
        lat = sorted(latencies)
        out["latency_ms"] = {"p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))]}
    return out


def build_foreign_service(data_dir: Path, docs: Path = DOCS, **build_kwargs: Any) -> tuple[ChatService, dict[str, Any]]:
    """A ChatService over a fresh index of the foreign documents in `data_dir`; returns it and ingest facts.
    `build_kwargs` go to ChatService.build (e.g. `embedder=` to share a loaded embedder)."""
    if not any(p.suffix in (".md", ".txt") for p in Path(docs).glob("*")):
        raise FileNotFoundError(f"no documents in {docs}: run `python evals/foreign/extract.py <git dir of "
                                "bundestag/gesetze>` (see evals/foreign/SOURCES.md)")
    t = time.perf_counter()
    svc = ChatService.build(Settings(data_dir=Path(data_dir)), **build_kwargs)
    report = svc.ingest([Path(docs)])
    facts = {"ingest_s": round(time.perf_counter() - t, 1), "files": report.counts,
             "passages": svc.index.count(), "embedder": svc.index.embedder.name}
    failed = [r for r in report.results if r.status == "failed"]
    if failed:
        raise RuntimeError(f"foreign docs failed to ingest: {failed}")
    return svc, facts


def _table(block: dict, modes: Iterable[str], groups: list[str]) -> list[str]:
    lines = ["| mode | subset | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|---|---|"]
    for mode in modes:
        for g in groups:
            m = block[mode][g]
            lines.append(f"| {mode} | {g} | {m['n']} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | "
                         f"{m['MRR@10']:.3f} | {m['nDCG@10']:.3f} |")
    return lines


def report_lines(res: dict, facts: dict) -> list[str]:
    qs = load_questions()
    n_para = sum(1 for q in qs if q.get("paraphrase"))
    n_docs = len({q["source"] for q in qs})
    lines = [f"# Foreign-document retrieval ({os.cpu_count()} cores)", "",
             f"{len(qs)} questions over {n_docs} excerpts of German federal law (evals/foreign/questions.yaml, "
             f"sources in evals/foreign/SOURCES.md); {n_para} paraphrase ({n_para / len(qs):.0%}), "
             f"{len(qs) - n_para} keyword; splits: "
             + ", ".join(f"{s} {sum(1 for q in qs if q['split'] == s)}" for s in SPLITS) + ".", "",
             f"Embedder `{facts['embedder']}`; ingest of {facts['passages']} passages in {facts['ingest_s']} s "
             f"(fresh index). Search without role, k = {K}. A hit is relevant when it comes from the question's "
             "file and contains one of its evidence strings (the rule of `seed_eval`).", "",
             "## By part", ""]
    lines += _table(res, MODES, ["all", *PARTS])
    lines += ["", "## By split (`heldout` is for reporting only; tune on `tune`)", ""]
    lines += _table(res, MODES, [f"{s}{x}" for s in SPLITS for x in ("", "/keyword", "/paraphrase")])
    misses = sorted(q for q, r in res["ranks"]["hybrid"].items() if r is None)
    lines += ["", f"Hybrid: no relevant passage in the top {K} for {len(misses)} questions"
              + (f" ({', '.join(misses)})." if misses else "."),
              f"Hybrid query latency: p50 {res['latency_ms']['p50']:.1f} ms, p95 {res['latency_ms']['p95']:.1f} ms.",
              "`keyword`: the question shares a content word (stemmed) with its evidence; `paraphrase`: none."]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Retrieval eval over evals/foreign (lexical, dense, hybrid).")
    ap.add_argument("--docs", type=Path, default=DOCS, help="folder with the documents (default: %(default)s)")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        svc, facts = build_foreign_service(Path(tmp) / "foreign", args.docs)
        try:
            res = foreign_eval(svc)
        finally:
            svc.close()
    lines = report_lines(res, facts)
    (RESULTS / "foreign.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "foreign.json").write_text(json.dumps({"cores": os.cpu_count(), **facts, **res}, indent=2,
                                                     ensure_ascii=False), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
