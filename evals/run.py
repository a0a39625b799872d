"""The eval run behind `make eval`: our system beside the textbook LangChain RAG, on two golden sets.

    python -m evals.run                 # writes evals/results/eval.md and eval.json
    python -m evals.run --write-floor   # also writes evals/results/baseline.json (the regression floor)

1. Corpus set (evals/corpus_questions.yaml) over corpus/: retrieval per role and overall (R@1, R@5, R@10,
   MRR@10, nDCG@10; relevant = passage of a gold unit), answers through ChatService.chat (key-fact coverage,
   citation precision by the validated judge in evals/citations.py, uncited sentences, length), and the
   decline decision (refusal recall and precision, false refusals) on the answerable and unanswerable questions.
2. Foreign-documents set (evals/seed_questions.yaml) over ../shared/seeds: retrieval overall and for the
   keyword / paraphrase subsets.
When LB_LLM_BASE_URL is set, the corpus-set answers are produced a second time by the LLM-configured service;
each answer is labelled with the answerer named in its meta event (and "fallback" when a notice event says
the LLM failed). Definitions and rules: evals/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.search.embeddings import USEEmbedder, create_embedder
from assistant.roles import Role
from assistant.service import ChatService
from assistant.settings import Settings
from ingestion.normalize import normalize_text

from . import citations, golden
from .langchain_baseline import LangChainBaseline
from .metrics import fact_coverage, length_stats, mean, refusal, summarise

RESULTS = golden.EVALS / "results"
FLOOR = RESULTS / "baseline.json"
TARGETS = {"corpus_R@5": 0.90, "seeds_R@5": 0.80, "refusal_recall": 0.90, "false_refusal_rate": 0.05,
           "citation_precision": 0.95}
OURS = "ours"
BASE = LangChainBaseline.name


def _norm(s: str) -> str:
    return " ".join(s.split())


# --- services and answers ---------------------------------------------------------------------------

def build_service(data_dir: Path, embedder: Any, llm: bool = False) -> ChatService:
    """Our service on data_dir; llm=False forces the extractive answerer, llm=True takes LB_LLM_* from the env."""
    kwargs: dict[str, Any] = {"data_dir": data_dir}
    if not llm:
        kwargs["llm_base_url"] = None
    settings = Settings(**kwargs)
    build_kw: dict[str, Any] = {"embedder": embedder}
    if "sessions" in inspect.signature(ChatService.build).parameters:
        build_kw["sessions"] = False  # every eval question is a fresh conversation; nothing to store
    return ChatService.build(settings, **build_kw)


def ask(svc: ChatService, question: str, role: str | None) -> dict[str, Any]:
    """One answer from ChatService.chat, called with keyword arguments only."""
    t = time.perf_counter()
    text: list[str] = []
    out: dict[str, Any] = {"sources": [], "notices": [], "answerable": None, "answerer": None, "error": None}
    for ev in svc.chat(question=question, role=Role(role) if role else None):
        kind, data = ev.get("event"), ev.get("data")
        if kind == "meta":
            out["answerer"] = data.get("answerer")
            out["decision"] = data.get("decision")
        elif kind == "delta":
            text.append(data.get("text", ""))
        elif kind == "reset":
            text.clear()
        elif kind == "notice":
            out["notices"].append(data)
        elif kind == "sources":
            out["sources"] = data or []
        elif kind == "done":
            out["answerable"] = data.get("answerable")
        elif kind == "error":
            out["error"] = data.get("message")
    out["text"] = "".join(text).strip()
    out["ms"] = (time.perf_counter() - t) * 1000
    if out["notices"]:
        out["answerer"] = f"{out['answerer']} (fallback)"
    return out


def declined(ans: dict[str, Any]) -> bool:
    """done.answerable is False; else the meta decision; else no sources and no citation at all."""
    if ans.get("answerable") is not None:
        return ans["answerable"] is False
    decision = ans.get("decision") or {}
    if "answerable" in decision:
        return decision["answerable"] is False
    return not ans.get("sources") and "[" not in ans.get("text", "")


# --- retrieval ----------------------------------------------------------------------------------------

def corpus_retrieval(svc: ChatService, questions: list[dict[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    rows = []
    for q in questions:
        hits = svc.search(q["question"], role=Role(q["role"]), k=k)
        docs = [h.metadata.get("doc_id") for h in hits]
        rows.append({"id": q["id"], "role": q["role"], "docs": docs[:5], "rel": [d in q["gold"] for d in docs]})
    return rows


def baseline_corpus_retrieval(bl: LangChainBaseline, questions: list[dict[str, Any]], k: int = 10) -> list[dict]:
    rows = []
    for q in questions:
        docs = [d.metadata.get("doc_id") for d in bl.search(q["question"], k=k)]
        rows.append({"id": q["id"], "role": q["role"], "docs": docs[:5], "rel": [d in q["gold"] for d in docs]})
    return rows


def seed_relevant(source: str, text: str, q: dict[str, Any]) -> bool:
    """The passage comes from the question's seed file and contains one of its evidence strings (whitespace
    and PDF hyphenation normalised the way our ingestion does)."""
    if not source.endswith(q["source"]):
        return False
    t = _norm(normalize_text(text))
    return any(_norm(e) in t for e in q["evidence"])


def seed_retrieval(svc: ChatService, questions: list[dict[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    return [{"id": q["id"], "paraphrase": bool(q.get("paraphrase")),
             "rel": [seed_relevant(str(h.metadata.get("source", "")), h.text, q)
                     for h in svc.search(q["question"], k=k)]} for q in questions]


def baseline_seed_retrieval(bl: LangChainBaseline, questions: list[dict[str, Any]], k: int = 10) -> list[dict]:
    return [{"id": q["id"], "paraphrase": bool(q.get("paraphrase")),
             "rel": [seed_relevant(str(d.metadata.get("source", "")), d.page_content, q)
                     for d in bl.search(q["question"], k=k)]} for q in questions]


def by_role(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {r: summarise([x["rel"] for x in rows if x["role"] == r]) for r in golden.ROLES}
    out["all"] = summarise([x["rel"] for x in rows])
    return out


def seed_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"all": summarise([r["rel"] for r in rows]),
            "keyword": summarise([r["rel"] for r in rows if not r["paraphrase"]]),
            "paraphrase": summarise([r["rel"] for r in rows if r["paraphrase"]])}


# --- answers ---------------------------------------------------------------------------------------

def score_answers(answers: dict[str, dict[str, Any]], data: dict[str, Any], judge: citations.Judge) -> list[dict]:
    """Per-question rows for one system: answers maps question id -> answer dict (see ask())."""
    rows = []
    for q in data["questions"] + data["unanswerable"]:
        ans = answers.get(q["id"])
        if ans is None:
            continue
        answerable_q = "gold" in q
        row: dict[str, Any] = {"id": q["id"], "role": q["role"], "answerable": answerable_q,
                               "answerer": ans.get("answerer"), "declined": declined(ans),
                               "styles": golden.styles(q), "ms": round(ans.get("ms", 0.0), 1),
                               "error": ans.get("error"), "text": ans.get("text", "")}
        if answerable_q:
            cov, missed = fact_coverage(q["facts"], "" if row["declined"] else row["text"])
            row.update(coverage=cov, missed=missed)
        if not row["declined"] and ans.get("text"):
            j = citations.judge_answer(judge, row["text"], ans.get("sources") or [])
            row.update(citations=j["pairs"], uncited=j["uncited"])
        rows.append(row)
    return rows


def slim(rows: list[dict[str, Any]], keep_text: bool = True) -> list[dict[str, Any]]:
    """Per-question rows for eval.json: judged pairs reduced to counts plus the unsupported ones."""
    out = []
    for r in rows:
        r = dict(r)
        pairs = r.pop("citations", [])
        r["citations"] = {"pairs": len(pairs), "supported": sum(p["supported"] for p in pairs),
                          "unsupported": [p for p in pairs if not p["supported"]]}
        if not keep_text:
            r.pop("text", None)
            r.pop("uncited", None)
        out.append(r)
    return out


def answer_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def block(rs: list[dict[str, Any]]) -> dict[str, Any]:
        ans_q = [r for r in rs if r["answerable"]]
        answered = [r for r in rs if not r["declined"]]
        pairs = [p for r in answered for p in r.get("citations", [])]
        uncited = sum(len(r.get("uncited", [])) for r in answered)
        return {
            "n_answerable": len(ans_q),
            "answered": sum(not r["declined"] for r in ans_q),
            "key_fact_coverage": mean([r["coverage"] for r in ans_q]),
            "all_facts_rate": mean([1.0 if r["coverage"] == 1.0 else 0.0 for r in ans_q]),
            "citation_pairs": len(pairs),
            "citation_precision": sum(p["supported"] for p in pairs) / len(pairs) if pairs else float("nan"),
            "answers_all_citations_supported": mean([1.0 if all(p["supported"] for p in r.get("citations", []))
                                                     else 0.0 for r in answered if r.get("citations")]),
            "uncited_share": uncited / (uncited + len(pairs)) if uncited + len(pairs) else float("nan"),
            "length": length_stats([r["text"] for r in ans_q if not r["declined"]]),
            "refusal": refusal([r["declined"] for r in rs if not r["answerable"]],
                               [r["declined"] for r in rs if r["answerable"]]),
            "latency_ms_p50": statistics.median([r["ms"] for r in rs]) if rs else float("nan"),
        }

    out = {r: block([x for x in rows if x["role"] == r]) for r in golden.ROLES}
    out["all"] = block(rows)
    held = [x for x in rows if not golden.seen_by_calibration(x["id"])]
    out["refusal_not_calibrated"] = refusal([r["declined"] for r in held if not r["answerable"]],
                                            [r["declined"] for r in held if r["answerable"]])
    return out


def kinds_summary(rows: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    kind = {q["id"]: q.get("kind", "?") for q in data["unanswerable"]}
    out: dict[str, Any] = {}
    for r in rows:
        if not r["answerable"]:
            k = out.setdefault(kind[r["id"]], {"n": 0, "declined": 0})
            k["n"] += 1
            k["declined"] += r["declined"]
    return out


def styles_summary(ret_rows: list[dict[str, Any]], ans_rows: list[dict[str, Any]],
                   data: dict[str, Any]) -> dict[str, Any]:
    styles = {q["id"]: golden.styles(q) for q in data["questions"]}
    cov = {r["id"]: r.get("coverage") for r in ans_rows if r["answerable"]}
    out: dict[str, Any] = {}
    for name in ("typo", "du", "short", "situational", "none"):
        ids = [i for i, s in styles.items() if (name in s if name != "none" else not s)]
        rels = [r["rel"] for r in ret_rows if r["id"] in ids]
        out[name] = {"n": len(ids), "R@5": summarise(rels)["R@5"] if rels else float("nan"),
                     "key_fact_coverage": mean([cov[i] for i in ids if cov.get(i) is not None])}
    return out


# --- report ----------------------------------------------------------------------------------------

def _f(x: Any, nd: int = 3) -> str:
    if isinstance(x, float):
        return "–" if x != x else f"{x:.{nd}f}"
    return str(x)


def _gap(value: float, target: float, higher: bool = True) -> str:
    if value != value:
        return "–"
    ok = value >= target if higher else value <= target
    return "met" if ok else f"missed by {abs(value - target):.3f}"


def render(res: dict[str, Any]) -> str:
    c, s = res["corpus"], res["seeds"]
    systems = list(c["answers"])
    ours = c["answers"][OURS]["all"]
    L = [f"# Evals: KI-Lernbegleiter vs. textbook LangChain RAG", "",
         f"{res['created']} · commit {res['commit']} (working tree{'' if res['clean'] else ' with uncommitted changes'}) · "
         f"{res['cores']} cores · run {res['seconds']:.0f} s · embedder {res['embedder']}", "",
         f"Answerers: {', '.join(f'`{k}` = {v}' for k, v in res['answerers'].items())}. "
         "Definitions, matching rules and the citation judge: [evals/README.md](../README.md).", "",
         "## Targets", "",
         "| target | goal | ours | baseline | status (ours) |", "|---|---|---|---|---|"]
    rows = [
        ("R@5, corpus set", TARGETS["corpus_R@5"], c["retrieval"][OURS]["all"]["R@5"], c["retrieval"][BASE]["all"]["R@5"], True),
        ("R@5, foreign-documents set", TARGETS["seeds_R@5"], s[OURS]["all"]["R@5"], s[BASE]["all"]["R@5"], True),
        ("refusal recall", TARGETS["refusal_recall"], ours["refusal"]["recall"],
         c["answers"][BASE]["all"]["refusal"]["recall"], True),
        ("false refusals", TARGETS["false_refusal_rate"], ours["refusal"]["false_refusal_rate"],
         c["answers"][BASE]["all"]["refusal"]["false_refusal_rate"], False),
        ("citation precision", TARGETS["citation_precision"], ours["citation_precision"],
         c["answers"][BASE]["all"]["citation_precision"], True),
    ]
    for name, goal, v, b, hi in rows:
        L.append(f"| {name} | {'≥' if hi else '≤'} {goal:.2f} | {_f(v)} | {_f(b)} | {_gap(v, goal, hi)} |")
    for extra in systems[2:]:
        e = c["answers"][extra]["all"]
        L.append(f"| refusal recall / false refusals / citation precision, `{extra}` | | "
                 f"{_f(e['refusal']['recall'])} / {_f(e['refusal']['false_refusal_rate'])} / "
                 f"{_f(e['citation_precision'])} | | |")
    L += ["", "## Corpus set: retrieval (role given; relevant = passage of a gold unit)", "",
          "| role | system | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|---|---|"]
    for role in (*golden.ROLES, "all"):
        for sysname in (OURS, BASE):
            m = c["retrieval"][sysname][role]
            L.append(f"| {role} | {sysname} | {m['n']} | {_f(m['R@1'])} | {_f(m['R@5'])} | {_f(m['R@10'])} | "
                     f"{_f(m['MRR@10'])} | {_f(m['nDCG@10'])} |")
    L += ["", "## Corpus set: answers", "",
          "Key facts over all answerable questions (a false refusal scores 0); citation precision over the "
          "(sentence, citation) pairs of the answers given; length over answers given (declines excluded).", "",
          "| role | system | answered / answerable | key-fact coverage | all facts | citation precision | "
          "uncited sentences | chars mean / median | words mean / median |",
          "|---|---|---|---|---|---|---|---|---|"]
    for role in (*golden.ROLES, "all"):
        for sysname in systems:
            m = c["answers"][sysname][role]
            ln = m["length"]
            L.append(f"| {role} | {sysname} | {m['answered']} / {m['n_answerable']} | {_f(m['key_fact_coverage'])} | "
                     f"{_f(m['all_facts_rate'])} | {_f(m['citation_precision'])} ({m['citation_pairs']}) | "
                     f"{_f(m['uncited_share'])} | {_f(ln.get('chars_mean', float('nan')), 0)} / "
                     f"{_f(ln.get('chars_median', float('nan')), 0)} | {_f(ln.get('words_mean', float('nan')), 0)} / "
                     f"{_f(ln.get('words_median', float('nan')), 0)} |")
    L += ["", "## Corpus set: declining", "",
          "Positive class = declined. Recall: unanswerable questions declined; precision: declines that were right; "
          "false refusals: answerable questions declined.", "",
          "| role | system | unanswerable | refusal recall | refusal precision | false refusals |",
          "|---|---|---|---|---|---|"]
    for role in (*golden.ROLES, "all"):
        for sysname in systems:
            r = c["answers"][sysname][role]["refusal"]
            L.append(f"| {role} | {sysname} | {r['n_unanswerable']} | {_f(r['recall'])} | {_f(r['precision'])} | "
                     f"{_f(r['false_refusal_rate'])} ({r['declined_answerable']} of {r['n_answerable']}) |")
    hc = c["answers"][OURS]["refusal_not_calibrated"]
    L += ["", f"Questions never seen by the threshold fit (evals/calibrate.py on commit bdaf4ba): refusal recall "
          f"{_f(hc['recall'])} ({hc['n_unanswerable']} unanswerable), false refusals {_f(hc['false_refusal_rate'])} "
          f"({hc['n_answerable']} answerable).", "",
          "| kind of unanswerable question | n | " + " | ".join(f"declined, {s}" for s in systems) + " |",
          "|---|---|" + "---|" * len(systems)]
    for k, v in c["kinds"][OURS].items():
        L.append(f"| {k} | {v['n']} | " + " | ".join(str(c["kinds"][s].get(k, {}).get("declined", "–"))
                                                   for s in systems) + " |")
    L += ["", "### By wording", "", "Styles overlap (a question can be short and have a typo); `none` = no style.", "",
          "| style | n | R@5 ours | R@5 baseline | key facts ours | key facts baseline |", "|---|---|---|---|---|---|"]
    for k, v in c["styles"][OURS].items():
        b = c["styles"][BASE][k]
        L.append(f"| {k} | {v['n']} | {_f(v['R@5'])} | {_f(b['R@5'])} | {_f(v['key_fact_coverage'])} | "
                 f"{_f(b['key_fact_coverage'])} |")
    L += ["", "## Foreign-documents set (../shared/seeds ingested as documents)", "",
          "Relevant = a passage from the question's seed file containing one of its evidence strings. "
          "`paraphrase`: questions sharing no content word with the evidence.", "",
          "| subset | system | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|---|---|"]
    for sub in ("all", "keyword", "paraphrase"):
        for sysname in (OURS, BASE):
            m = s[sysname][sub]
            L.append(f"| {sub} | {sysname} | {m['n']} | {_f(m['R@1'])} | {_f(m['R@5'])} | {_f(m['R@10'])} | "
                     f"{_f(m['MRR@10'])} | {_f(m['nDCG@10'])} |")
    j = res["judge"]
    a = j["at_threshold"]
    L += ["", "## Citation judge (validated)", "",
          f"Rule: {j['rule']}; threshold {j['threshold']}. On the {a['n']} hand-labelled pairs of "
          f"evals/citation_labels.yaml: accuracy {_f(a['accuracy'])}, precision {_f(a['precision'])}, "
          f"recall {_f(a['recall'])} (positive = supported), specificity {_f(a['specificity'])} "
          f"(tp {a['tp']}, tn {a['tn']}, fp {a['fp']}, fn {a['fn']}); 5-fold cross-validated accuracy of the "
          f"threshold choice {_f(j['cv5_accuracy'])}. Without the number rule: accuracy "
          f"{_f(j['without_number_rule']['accuracy'])}.", "",
          "| kind of pair | n | labelled supported | judge correct |", "|---|---|---|---|"]
    for k, v in j["by_kind"].items():
        L.append(f"| {k} | {v['n']} | {v['supported']} | {v['judge_correct']} |")
    L += ["", "## Misses (ours)", ""]
    miss = res["misses"]
    L.append(f"- Corpus questions without a gold unit in the top 5 ({len(miss['r5'])}): "
             + ", ".join(f"{m['id']} ({m['question'][:60]}…)" if len(m['question']) > 60 else f"{m['id']} ({m['question']})"
                         for m in miss["r5"]))
    L.append(f"- Answerable questions declined ({len(miss['false_refusals'])}): "
             + ", ".join(f"{m['id']} ({m['question']})" for m in miss["false_refusals"]))
    L.append(f"- Unanswerable questions answered ({len(miss['not_declined'])}): "
             + ", ".join(f"{m['id']} ({m['question']})" for m in miss["not_declined"]))
    L.append(f"- Citation pairs judged unsupported ({len(miss['unsupported'])}): "
             + "; ".join(f"{m['id']} [{','.join(map(str, m['cited']))}] {m['score']}: „{m['sentence'][:70]}“"
                         for m in miss["unsupported"][:15]) + (" …" if len(miss["unsupported"]) > 15 else ""))
    L += ["", f"Per-question rows (hits, answers, missed facts, judged pairs): evals/results/eval.json.", ""]
    return "\n".join(L)


# --- main ------------------------------------------------------------------------------------------

def _git() -> tuple[str, bool]:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=golden.ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=golden.ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return head, not dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def floor_from(res: dict[str, Any]) -> dict[str, Any]:
    c = res["corpus"]
    ours = c["answers"][OURS]
    return {
        "what": "Committed figures of OUR system (extractive answerer), the floor for tests/test_evals.py: the test "
                "fails when corpus R@5 or refusal recall drops more than 3 points below these. Update deliberately "
                "with `python -m evals.run --write-floor` and commit.",
        "created": res["created"], "commit": res["commit"],
        "corpus": {"R@5": c["retrieval"][OURS]["all"]["R@5"],
                   "R@5_by_role": {r: c["retrieval"][OURS][r]["R@5"] for r in golden.ROLES},
                   "refusal_recall": ours["all"]["refusal"]["recall"],
                   "false_refusal_rate": ours["all"]["refusal"]["false_refusal_rate"],
                   "key_fact_coverage": ours["all"]["key_fact_coverage"],
                   "citation_precision": ours["all"]["citation_precision"],
                   "n_questions": c["retrieval"][OURS]["all"]["n"],
                   "n_unanswerable": ours["all"]["refusal"]["n_unanswerable"]},
        "seeds": {"R@5": res["seeds"][OURS]["all"]["R@5"]},
    }


def rerender() -> int:
    """eval.md from the rows in eval.json (after a change of the report layout; the figures are not recomputed
    except the per-system style and kind tables, which are derived from the stored rows)."""
    res = json.loads((RESULTS / "eval.json").read_text(encoding="utf-8"))
    data = golden.corpus_set()
    rows = res["corpus"]["rows"]
    res["corpus"]["kinds"] = {name: kinds_summary(r, data) for name, r in rows["answers"].items()}
    res["corpus"]["styles"] = {name: styles_summary(rows["retrieval"][name], rows["answers"][name], data)
                               for name in (OURS, BASE)}
    (RESULTS / "eval.json").write_text(json.dumps(res, ensure_ascii=False, default=str), encoding="utf-8")
    (RESULTS / "eval.md").write_text(render(res), encoding="utf-8")
    print(render(res))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write-floor", action="store_true", help="also write evals/results/baseline.json")
    ap.add_argument("--render", action="store_true", help="only re-render eval.md from eval.json (no run)")
    args = ap.parse_args(argv)
    if args.render:
        return rerender()
    started = time.perf_counter()
    data = golden.corpus_set()
    seeds_q = golden.seed_set()
    embedder = create_embedder(Settings().embedder, Settings().embedder_threads)  # the app's default (E5)
    judge = citations.Judge(USEEmbedder(threads=2).embed)  # the judge was validated with USE: keep it
    res: dict[str, Any] = {"created": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
                           "embedder": embedder.name}
    res["commit"], res["clean"] = _git()
    cwd = os.getcwd()
    os.chdir(golden.ROOT)
    try:
        with tempfile.TemporaryDirectory(prefix="lb-eval-") as tmp:
            tmp = Path(tmp)
            t = time.perf_counter()
            corpus_svc = build_service(tmp / "corpus", embedder)
            corpus_svc.ingest([golden.CORPUS])
            seeds_svc = build_service(tmp / "seeds", embedder)
            seeds_svc.ingest([golden.SEEDS])
            bl_corpus = LangChainBaseline([golden.CORPUS], tmp / "bl-corpus", embedder, "corpus")
            bl_seeds = LangChainBaseline([golden.SEEDS], tmp / "bl-seeds", embedder, "seeds")
            res["index_s"] = round(time.perf_counter() - t, 1)
            print(f"indexed in {res['index_s']} s", file=sys.stderr)

            ret_ours = corpus_retrieval(corpus_svc, data["questions"])
            ret_base = baseline_corpus_retrieval(bl_corpus, data["questions"])
            seeds_ours = seed_retrieval(seeds_svc, seeds_q)
            seeds_base = baseline_seed_retrieval(bl_seeds, seeds_q)

            everything = data["questions"] + data["unanswerable"]
            answers: dict[str, dict[str, dict[str, Any]]] = {OURS: {}, BASE: {}}
            for q in everything:
                answers[OURS][q["id"]] = ask(corpus_svc, q["question"], q["role"])
                t = time.perf_counter()
                answers[BASE][q["id"]] = {**bl_corpus.answer(q["question"]), "ms": 0.0}
                answers[BASE][q["id"]]["ms"] = (time.perf_counter() - t) * 1000
            print(f"answered {len(everything)} questions", file=sys.stderr)
            res["answerers"] = {OURS: ", ".join(sorted({str(a.get('answerer')) for a in answers[OURS].values()})),
                                BASE: "first sentence of each top-4 passage, no decline"}
            if os.environ.get("LB_LLM_BASE_URL"):
                llm_svc = build_service(tmp / "corpus", embedder, llm=True)
                llm_answers = {q["id"]: ask(llm_svc, q["question"], q["role"]) for q in everything}
                labels = sorted({str(a.get("answerer")) for a in llm_answers.values()})
                if labels != [res["answerers"][OURS]]:
                    answers["llm"] = llm_answers
                    res["answerers"]["llm"] = ", ".join(labels)
                    print(f"LLM answers: {labels}", file=sys.stderr)
    finally:
        os.chdir(cwd)

    qtext = {q["id"]: q["question"] for q in everything}
    rows = {name: score_answers(a, data, judge) for name, a in answers.items()}
    res["corpus"] = {
        "retrieval": {OURS: by_role(ret_ours), BASE: by_role(ret_base)},
        "answers": {name: answer_summary(r) for name, r in rows.items()},
        "kinds": {name: kinds_summary(r, data) for name, r in rows.items()},
        "styles": {OURS: styles_summary(ret_ours, rows[OURS], data), BASE: styles_summary(ret_base, rows[BASE], data)},
        "rows": {"retrieval": {OURS: ret_ours, BASE: ret_base},
                 "answers": {name: slim(r, keep_text=name != BASE) for name, r in rows.items()}},
    }
    res["seeds"] = {OURS: seed_summary(seeds_ours), BASE: seed_summary(seeds_base),
                    "rows": {OURS: seeds_ours, BASE: seeds_base}}
    res["judge"] = citations.validate(embedder.embed)
    res["judge"].pop("scores", None)
    res["misses"] = {
        "r5": [{"id": r["id"], "question": qtext[r["id"]], "top5": r["docs"][:5]} for r in ret_ours if not any(r["rel"][:5])],
        "false_refusals": [{"id": r["id"], "question": qtext[r["id"]]} for r in rows[OURS] if r["answerable"] and r["declined"]],
        "not_declined": [{"id": r["id"], "question": qtext[r["id"]]} for r in rows[OURS] if not r["answerable"] and not r["declined"]],
        "unsupported": [{"id": r["id"], **p} for r in rows[OURS] for p in r.get("citations", []) if not p["supported"]],
    }
    res["seconds"] = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = render(res)
    (RESULTS / "eval.md").write_text(md, encoding="utf-8")
    (RESULTS / "eval.json").write_text(json.dumps(res, ensure_ascii=False, default=str), encoding="utf-8")
    if args.write_floor:
        FLOOR.write_text(json.dumps(floor_from(res), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
