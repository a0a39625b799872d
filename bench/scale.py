"""Builds the synthetic scale indexes (one data dir per size; passage vectors composed from sentence vectors
of the configured embedder's ``embed_documents``, see synth.py) and times hybrid queries on each in a fresh
process (python -m bench.retrieval query; questions embedded at query time with ``embed_query``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, child_env, log, write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--synthetic-topics", type=int, default=120)
    ap.add_argument("--per-topic", type=int, default=20)
    ap.add_argument("--queries", type=int, default=300, help="hybrid queries per size, over all rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",") if x]

    from .common import embedder_facts, settings_embedder
    from .retrieval import build_scale, fidelity, merge_rounds
    from .synth import HEADINGS, Pool

    embedder, threads = settings_embedder()
    res: dict[str, Any] = {"embedder_threads": threads, "embedder": embedder_facts(embedder, threads)}
    pool = Pool.build(a.synthetic_topics, a.per_topic)
    log(f"embedding the sentence pool ({len(pool.sentences)} sentences, {len(pool.topics)} topics) once "
        f"with {embedder.name} (embed_documents)")
    cpu = time.process_time()
    secs = pool.embed(embedder, HEADINGS)
    res["pool"] = {"sentences": len(pool.sentences), "topics": len(pool.topics),
                   "corpus_topics": sum(1 for t in pool.topics if t[0].startswith("kurs-")),
                   "heading_lines": len(pool.heading_vecs), "embed_s": round(secs, 1),
                   "embed_cpu_s": round(time.process_time() - cpu, 1),
                   "sentences_per_s": round(len(pool.sentences) / secs, 1)}
    log("fidelity of composed vectors")
    res["fidelity"] = fidelity(pool, embedder)
    res["scales"] = {}
    for n in sizes:
        data_dir = a.work / f"scale-{n}"
        log(f"building {n} passages in {data_dir}")
        cpu = time.process_time()
        built = build_scale(pool, embedder, n, data_dir)
        built["build_cpu_s"] = round(time.process_time() - cpu, 1)
        res["scales"][str(n)] = {"build": built}
        write_json(a.out, res)
    del pool
    # Rounds interleave the sizes (1k, 10k, 100k, 1k, 10k, ...), each in a fresh process, so that a change in
    # the machine's load during the run does not fall on one size only.
    rounds: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    per_round = max(1, a.queries // a.rounds)
    for r in range(a.rounds):
        for n in sizes:
            data_dir = a.work / f"scale-{n}"
            qout = a.work / f"query-{n}-{r}.json"
            log(f"round {r + 1}/{a.rounds}: {per_round} hybrid queries on {n} passages (fresh process)")
            subprocess.run([sys.executable, "-m", "bench.retrieval", "query", "--data-dir", str(data_dir),
                            "--queries", str(per_round), "--seed", str(5 + r), "--profile", "60" if r == 0 else "0",
                            "--out", str(qout)], cwd=ROOT, env=child_env(data_dir), check=True, timeout=3600)
            rounds[n].append(json.loads(qout.read_text(encoding="utf-8")))
    for n in sizes:
        res["scales"][str(n)]["query"] = merge_rounds(rounds[n])
    write_json(a.out, res)


if __name__ == "__main__":
    main()
