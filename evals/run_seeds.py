"""Retrieval evals: ../shared/seeds as foreign documents (evals/seed_questions.yaml) and the shipped
corpus (evals/corpus_questions.yaml), each for lexical, dense and hybrid search; plus the decline rule.

    python -m evals.run_seeds            # writes evals/results/retrieval.md and .json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from assistant.roles import Role
from assistant.service import ChatService
from assistant.settings import Settings

from . import baseline_fusion
from .metrics import summarise

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
RESULTS = ROOT / "evals" / "results"
MODES = ("lexical", "dense", "hybrid")


def _norm(s: str) -> str:
    return " ".join(s.split())


def seed_eval(svc: ChatService) -> dict:
    qs = yaml.safe_load((ROOT / "evals" / "seed_questions.yaml").read_text(encoding="utf-8"))["questions"]
    out: dict = {}
    latencies: list[float] = []
    for mode in MODES:
        rows, para, keyword = [], [], []
        for q in qs:
            t = time.perf_counter()
            hits = svc.search(q["question"], k=10, mode=mode)
            if mode == "hybrid":
                latencies.append((time.perf_counter() - t) * 1000)
            ev = [_norm(e) for e in q["evidence"]]
            rel = [h.metadata.get("source", "").endswith(q["source"]) and any(e in _norm(h.text) for e in ev)
                   for h in hits]
            rows.append(rel)
            (para if q.get("paraphrase") else keyword).append(rel)
        out[mode] = {"all": summarise(rows), "keyword": summarise(keyword), "paraphrase": summarise(para)}
    lat = sorted(latencies)
    out["latency_ms"] = {"p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))]}
    return out


def corpus_eval(svc: ChatService) -> dict:
    data = yaml.safe_load((ROOT / "evals" / "corpus_questions.yaml").read_text(encoding="utf-8"))
    out: dict = {}
    for mode in MODES:
        per_role: dict[str, list] = {}
        for q in data["questions"]:
            role = Role(q["role"])
            hits = svc.search(q["question"], role=role, k=10, mode=mode)
            per_role.setdefault(q["role"], []).append([h.metadata.get("doc_id") in q["gold"] for h in hits])
        out[mode] = {r: summarise(rows) for r, rows in per_role.items()}
        out[mode]["all"] = summarise([r for rows in per_role.values() for r in rows])
    # decline rule: answered vs declined
    idf = svc.retriever.lexical().idf
    answered = [svc.answerer.decide(q["question"], svc.search(q["question"], Role(q["role"])), idf).answerable
                for q in data["questions"]]
    declined = [not svc.answerer.decide(q["question"], svc.search(q["question"]), idf).answerable
                for q in data["unanswerable"]]
    tp, fn = sum(declined), len(declined) - sum(declined)
    fp = sum(1 for a in answered if not a)
    out["refusal"] = {"recall": tp / len(declined), "precision": tp / max(tp + fp, 1),
                      "false_refusal_rate": fp / len(answered), "n_unanswerable": len(declined),
                      "n_answerable": len(answered)}
    return out


def _table(title: str, block: dict, keys: list[str], modes=MODES) -> list[str]:
    lines = [f"### {title}", "", "| mode | subset | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|---|---|"]
    for mode in modes:
        for k in keys:
            m = block[mode][k]
            lines.append(f"| {mode} | {k} | {m['n']} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | "
                         f"{m['MRR@10']:.3f} | {m['nDCG@10']:.3f} |")
    return lines + [""]


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            t = time.perf_counter()
            seeds_svc = ChatService.build(Settings(data_dir=Path(tmp) / "seeds"))
            seeds_svc.ingest([SEEDS])
            seeds_ingest_s = time.perf_counter() - t
            t = time.perf_counter()
            corpus_svc = ChatService.build(Settings(data_dir=Path(tmp) / "corpus"), embedder=seeds_svc.index.embedder)
            corpus_svc.ingest([ROOT / "corpus"])
            corpus_ingest_s = time.perf_counter() - t
            seeds = seed_eval(seeds_svc)
            for name, block in baseline_fusion.main().items():
                seeds[f"baseline {name}"] = block
            corpus = corpus_eval(corpus_svc)
        finally:
            os.chdir(cwd)
    result = {"cores": os.cpu_count(), "seeds": seeds, "corpus": corpus,
              "ingest_s": {"seeds": round(seeds_ingest_s, 1), "corpus": round(corpus_ingest_s, 1)},
              }
    lines = [f"# Retrieval evals ({os.cpu_count()} cores)", "",
             f"Ingest: seeds {seeds_ingest_s:.1f} s, corpus {corpus_ingest_s:.1f} s (fresh index, USE embedder).", ""]
    lines += _table("Seeds as foreign documents (evals/seed_questions.yaml)", seeds, ["all", "keyword", "paraphrase"],
                    ("baseline lexical", "baseline dense", "baseline fusion") + MODES)
    lines.append("`baseline *`: the study's setup (raw text, 800-char chunks, bm25s stemming, USE, RRF k=60), "
                 "evals/baseline_fusion.py. `keyword`: questions sharing words with the answer; `paraphrase`: none.")
    lines.append("")
    lines.append(f"Hybrid query latency over the seeds: p50 {seeds['latency_ms']['p50']:.1f} ms, "
                 f"p95 {seeds['latency_ms']['p95']:.1f} ms")
    lines.append("")
    lines += _table("Shipped corpus (evals/corpus_questions.yaml, doc-level gold, role given)", corpus,
                    ["all", "owner", "employee", "works_council", "consultant"])
    r = corpus["refusal"]
    lines.append(f"Decline rule on the corpus: refusal recall {r['recall']:.3f} ({r['n_unanswerable']} unanswerable), "
                 f"precision {r['precision']:.3f}, false refusals {r['false_refusal_rate']:.3f} "
                 f"of {r['n_answerable']} answerable.")
    (RESULTS / "retrieval.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "retrieval.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
