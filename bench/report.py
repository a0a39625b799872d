"""Turns the collected benchmark figures into evals/results/bench.md (targets met or missed)."""

from __future__ import annotations

from typing import Any

TARGETS = [
    # key, label, limit, unit
    ("retrieval_p95_10k", "Hybrid retrieval p95 at 10k chunks", 50.0, "ms"),
    ("retrieval_p95_100k", "Hybrid retrieval p95 at 100k chunks", 200.0, "ms"),
    ("first_event_p95_single", "Chat: first event p95, single user", 300.0, "ms"),
    ("first_event_p95_load", "Chat: first event p95, 50 concurrent streams", 1000.0, "ms"),
    ("errors_load", "Chat: errors under load", 0, "errors"),
    ("peak_rss", "Server peak RSS (VmHWM)", 1024.0, "MiB"),
]


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def target_values(res: dict[str, Any]) -> dict[str, Any]:
    scales = res.get("scale", {}).get("scales", {})
    chat = res.get("chat", {})
    return {
        "retrieval_p95_10k": _get(scales, "10000", "query", "hybrid", "p95"),
        "retrieval_p95_100k": _get(scales, "100000", "query", "hybrid", "p95"),
        "first_event_p95_single": _get(chat, "single", "first_event_ms", "p95"),
        "first_event_p95_load": _get(chat, "load", "first_event_ms", "p95"),
        "errors_load": _get(chat, "load", "errors"),
        "peak_rss": _get(chat, "server", "peak_rss_vmhwm_mb"),
    }


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    vals = target_values(res)
    out = []
    for key, label, limit, unit in TARGETS:
        v = vals.get(key)
        if v is None:
            out.append({"key": key, "target": label, "limit": limit, "unit": unit, "value": None,
                        "met": None, "by": "not measured"})
            continue
        met = v <= limit
        if unit == "errors":
            by = "0 errors" if met else f"{v} errors"
        else:
            diff = v - limit
            by = (f"{-diff:.0f} {unit} under ({v / limit:.2f}x of the limit)" if met
                  else f"{diff:.0f} {unit} over ({v / limit:.1f}x the limit)")
        out.append({"key": key, "target": label, "limit": limit, "unit": unit, "value": v, "met": met, "by": by})
    return out


def embedder_of(res: dict[str, Any]) -> dict[str, Any]:
    """Name, dim, threads and OpenMP wait policy of the embedder the steps ran with (from their results)."""
    for step in ("ingest", "scale"):
        e = (res.get(step) or {}).get("embedder")
        if isinstance(e, dict) and e.get("name"):
            return e
    return {"name": "the configured embedder", "dim": "?", "threads": "?"}


def _ms(s: dict[str, Any] | None, key: str) -> str:
    if not s or s.get(key) is None:
        return "–"
    v = s[key]
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    cores = m["cpu_count"]
    L: list[str] = []
    w = L.append
    mode = "QUICK (reduced sizes, not comparable to the targets)" if res["quick"] else "full"
    w("# Performance benchmarks (`make bench`)")
    w("")
    w(f"Run {res['started']} – mode **{mode}** – **{cores} cores** (os.cpu_count(); affinity {m.get('cpu_affinity')}), "
      f"{m.get('cpu_model') or 'unknown CPU'}, {m.get('mem_total_gb')} GB RAM, Python {m['python']}. "
      f"Commit {res.get('git', {}).get('commit', '?')}{' + uncommitted changes' if res.get('git', {}).get('dirty') else ''}. "
      f"`make bench` wall time: **{res['total_s'] / 60:.1f} min**.")
    w("")
    w(f"Load average (1/5/15 min) at start {m['loadavg_1_5_15']}, at end {res.get('loadavg_end')} – "
      "the machine is shared; a load above the core count means other processes took CPU from the benchmark, "
      "which inflates latencies (see notes). Per step (before → after): " + "; ".join(
          f"{k} {res[k]['loadavg_before_after'][0][0]} → {res[k]['loadavg_before_after'][1][0]}"
          for k in ("ingest", "chat", "scale") if isinstance(res.get(k), dict) and res[k].get("loadavg_before_after")) + ".")
    w("")
    ov = res.get("lb_overrides") or {}
    emb = embedder_of(res)
    threads = (res.get("ingest") or res.get("scale") or {}).get("embedder_threads")
    w("Settings: " + ("**default stack** (no LB_ overrides)" if not ov else
                      "**LB_ overrides in effect: " + ", ".join(f"{k}={v}" for k, v in ov.items()) + "**")
      + f"; embedder **{emb['name']}** ({emb.get('dim')}-dim)"
      + (f", {threads} threads (LB_EMBEDDER_THREADS)" if threads else "")
      + (f", OMP_WAIT_POLICY={emb['omp_wait_policy']}" if emb.get("omp_wait_policy") else "") + ".")
    w("")
    w("## Targets")
    w("")
    w("| target | limit | measured | cores | verdict |")
    w("|---|---|---|---|---|")
    for v in res["verdicts"]:
        val = "–" if v["value"] is None else (f"{v['value']:,.1f} {v['unit']}" if v["unit"] != "errors" else str(v["value"]))
        lim = f"≤ {v['limit']:,.0f} {v['unit']}" if v["unit"] != "errors" else "0"
        verdict = "not measured" if v["met"] is None else ("**met**" if v["met"] else "**missed**")
        w(f"| {v['target']} | {lim} | {val} | {cores} | {verdict}: {v['by']} |")
    w("")
    ing0 = res.get("ingest")
    if ing0:
        e0, c0 = ing0["embedder"], ing0["corpus"]
        w(f"Ingest with {e0['name']} (not a target): **{e0['passages_per_s']:.1f} passages/s** embedding 900-character "
          f"passages (`embed_documents`), corpus/ end to end **{c0['chunks_per_s']:.1f} chunks/s** "
          f"(embedding {c0['embed_share'] * 100:.0f} % of the time); 100k passages would take ≈ "
          f"{e0['hours_for_100k_passages']:.1f} h. The retrieval and chat figures include {e0['name']} query "
          "encoding (`embed_query`) of every question.")
        w("")

    ing = res.get("ingest")
    if ing:
        e = ing["embedder"]
        c = ing["corpus"]
        p = ing["pdf"]
        w("## Ingestion throughput")
        w("")
        w("| what | figure | cores |")
        w("|---|---|---|")
        w(f"| {e['name']}, 900-character passages (`embed_documents`, one call of {e['passages']}) | {e['passages_per_s']:.1f} passages/s (100k passages ≈ {e['hours_for_100k_passages']:.1f} h) | {cores} |")
        if e.get("query_ms"):
            w(f"| {e['name']}, questions one at a time (`embed_query`, {e['queries']} real questions) | "
              f"p50 {_ms(e['query_ms'], 'p50')} / p95 {_ms(e['query_ms'], 'p95')} ms, {e['queries_per_s']:.0f} questions/s | {cores} |")
        elif e.get("sentences_per_s"):
            w(f"| {e['name']}, single sentences | {e['sentences_per_s']:.0f} sentences/s | {cores} |")
        w(f"| corpus/ end to end ({c['files']} Markdown files → {c['chunks']} chunks, incl. embeddings, Chroma, BM25) | "
          f"{c['seconds']:.1f} s = **{c['chunks_per_s']:.1f} chunks/s**, {c['files_per_s']:.2f} files/s; embedding {c['embed_share'] * 100:.0f} % of the time | {cores} |")
        w(f"| corpus/ re-run, all unchanged | {c['rerun_unchanged_s']:.2f} s | {cores} |")
        w(f"| generated German PDFs: parse ({p['pages']} pages, {p['files']} files, {p['parse']['chars_per_page']} chars/page; pypdf + normalise + chunk) | "
          f"{p['parse']['seconds']:.1f} s = **{p['parse']['pages_per_s']:.0f} pages/s**, {p['parse']['chunks_per_page']:.2f} chunks/page | {cores} |")
        pe = p["end_to_end"]
        w(f"| PDFs end to end ({pe['pages']} pages → {pe['chunks']} chunks, incl. embeddings, Chroma, BM25) | "
          f"{pe['seconds']:.1f} s = **{pe['pages_per_s']:.2f} pages/s, {pe['chunks_per_s']:.1f} chunks/s**; embedding {pe['embed_share'] * 100:.0f} % | {cores} |")
        if p.get("end_to_end_all_pages_estimate_s"):
            w(f"| PDFs end to end, all {p['pages']} pages (extrapolated, not measured) | ≈ {p['end_to_end_all_pages_estimate_s'] / 60:.1f} min | {cores} |")
        w(f"| PDF generation (reportlab, not part of the product) | {p['generate_s']:.1f} s for {p['pages']} pages | {cores} |")
        w("")

    sc = res.get("scale")
    if sc:
        w("## Hybrid retrieval latency by index size")
        w("")
        rounds = next(iter(sc["scales"].values())).get("query", {}).get("rounds", 1)
        w("`ChatService.search(question, role, mode=\"hybrid\")`, each figure one call (embed the question with "
          f"{emb['name']} `embed_query`, BM25, Chroma HNSW, "
          f"fetch passages, fusion); {rounds} rounds that interleave the sizes, each round a fresh process with 10 "
          "warm-up questions first. p95 of each round in the last column shows how much the shared machine moved the figures.")
        w("")
        w("| chunks | p50 ms | p95 ms | p99 ms | mean ms | queries/s | CPU ms/query | lexical-only p50 | dense-only p50 | first query ms | open + BM25 load s | cores | p95 per round |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        prev = None
        growth = []
        for n, s in sc["scales"].items():
            q = s.get("query")
            if not q:
                w(f"| {int(n):,} | – | – | – | – | – | – | – | – | – | – | {cores} | – |")
                continue
            h = q["hybrid"]
            w(f"| {int(n):,} | {_ms(h, 'p50')} | {_ms(h, 'p95')} | {_ms(h, 'p99')} | {_ms(h, 'mean')} | {q['queries_per_s']} | "
              f"{q.get('cpu_ms_per_query', '–')} | "
              f"{_ms(q['other_modes'].get('lexical'), 'p50')} | {_ms(q['other_modes'].get('dense'), 'p50')} | {q['first_query_ms']:,.0f} | "
              f"{q['open_s'] + q['lexical_load_s']:.1f} | {cores} | {', '.join(f'{x:.0f}' for x in q.get('hybrid_p95_per_round', []))} |")
            if prev:
                growth.append(f"{int(prev[0]):,} → {int(n):,} chunks ({int(n) // int(prev[0])}x): p50 ×{h['p50'] / prev[1]['p50']:.1f}, p95 ×{h['p95'] / prev[1]['p95']:.1f}")
            prev = (n, h)
        w("")
        if growth:
            w("Growth: " + "; ".join(growth) + ".")
            w("")
        w("Each step of a hybrid search timed on its own (the same calls `Retriever.search` makes; p50 / p95 ms). "
          "`count` runs once per query inside `PassageIndex.dense`; `fingerprint` (count + collection metadata) "
          "at most every 2 s; `get hits` fetches text and metadata of all fused candidates (up to 100):")
        w("")
        labels = {"embed_query": f"embed question ({emb['name']})", "query_plan": "query plan (typos, synonyms)",
                  "bm25_search": "BM25", "chroma_count": "Chroma count()",
                  "chroma_query_50": "Chroma HNSW top-50", "chroma_get_hits": "Chroma get hits", "fingerprint": "fingerprint"}
        w("| chunks | " + " | ".join(labels.values()) + " |")
        w("|---|" + "---|" * len(labels))
        for n, s in sc["scales"].items():
            stg = s.get("query", {}).get("stages")
            if stg:
                w(f"| {int(n):,} | " + " | ".join(f"{_ms(stg.get(k), 'p50')} / {_ms(stg.get(k), 'p95')}" for k in labels) + " |")
        w("")
        w("Where the time goes (cProfile over 60 hybrid queries per size in the first round, ms per query; profiling adds overhead, compare shares):")
        w("")
        stage_names: list[str] = []
        for s in sc["scales"].values():
            for k in (s.get("query", {}).get("profile", {}).get("stages_ms_per_query") or {}):
                if k not in stage_names:
                    stage_names.append(k)
        w("| chunks | total | " + " | ".join(stage_names) + " |")
        w("|---|---|" + "---|" * len(stage_names))
        for n, s in sc["scales"].items():
            pr = s.get("query", {}).get("profile")
            if pr:
                st = pr["stages_ms_per_query"]
                w(f"| {int(n):,} | {pr['total_ms_per_query']:.1f} | " + " | ".join(f"{st.get(k, 0):.1f}" for k in stage_names) + " |")
        w("")
        w("Building the scale indexes (not a target; through the real `PassageIndex.upsert` and `Retriever.rebuild_lexical`):")
        w("")
        w("| chunks | Chroma write s | chunks/s | BM25 build s | Chroma MB | BM25 MB | MB per 1k chunks | query process peak RSS MB |")
        w("|---|---|---|---|---|---|---|---|")
        for n, s in sc["scales"].items():
            b = s["build"]
            z = b["size"]
            w(f"| {int(n):,} | {b['chroma_write_s']:.1f} | {b['chroma_write_per_s']:.0f} | {b['lexical_build_s']:.1f} | "
              f"{z['chroma_mb']:.1f} | {z['lexical_mb']:.1f} | {z['mb_per_1k_chunks']:.2f} | {s.get('query', {}).get('query_process_rss_mb', '–')} |")
        w("")

    chat = res.get("chat")
    if chat:
        s1, ld, sv = chat.get("single", {}), chat.get("load", {}), chat.get("server", {})
        w("## Chat (POST /api/chat, extractive, SSE) on a real uvicorn server")
        w("")
        w("| scenario | requests | errors | first event p50 / p95 / p99 ms | done p50 / p95 / p99 ms | server retrieval p50 / p95 ms | throughput | cores |")
        w("|---|---|---|---|---|---|---|---|")

        def row(name: str, d: dict[str, Any], thr: bool = True) -> None:
            if not d:
                return
            fe, dn, rt = d.get("first_event_ms"), d.get("done_ms"), d.get("server_retrieval_ms")
            w(f"| {name} | {d.get('requests')} | {d.get('errors')} | {_ms(fe, 'p50')} / {_ms(fe, 'p95')} / {_ms(fe, 'p99')} | "
              f"{_ms(dn, 'p50')} / {_ms(dn, 'p95')} / {_ms(dn, 'p99')} | {_ms(rt, 'p50')} / {_ms(rt, 'p95')} | "
              f"{(str(d.get('throughput_rps')) + ' chats/s') if thr and d.get('throughput_rps') is not None else '–'} | {cores} |")

        row("single user, sequential", s1)
        row(f"{ld.get('clients')} concurrent clients, {ld.get('duration_s', 0):.0f} s (closed loop)", ld)
        if ld.get("steady_state"):
            row("… of which started after the first 10 s", ld["steady_state"], thr=False)
        w("")
        w(f"Server CPU per chat (user + system, all threads, /proc): single user {s1.get('server_cpu_ms_per_chat')} ms, "
          f"under load {ld.get('server_cpu_ms_per_chat')} ms; under load the server kept {ld.get('server_cores_busy')} of "
          f"{cores} cores busy ({ld.get('server_cpu_s')} CPU-s); the load driver itself used {ld.get('client_cpu_s')} CPU-s.")
        w("")
        if ld.get("error_kinds"):
            w("Errors under load: " + ", ".join(f"{k}: {v}" for k, v in ld["error_kinds"].items()) + ".")
            w("")
        w(f"Answers: single user {s1.get('answered')} answered / {s1.get('declined')} declined; under load "
          f"{ld.get('answered')} / {ld.get('declined')}. Requests still running at the end of the load phase were allowed "
          f"to finish (unfinished after the grace period: {ld.get('unfinished_at_grace')}); load phase wall time {ld.get('wall_s')} s.")
        w("")
        prof = chat.get("load_profile")
        if prof and prof.get("samples"):
            w(f"Server under load, py-spy ({prof['samples']} samples, all threads; share of samples in which a function is on the stack):")
            w("")
            w("| function (file) | inclusive % | | leaf function (file) | self % |")
            w("|---|---|---|---|---|")
            for (fi, pi), (fs, ps) in zip(prof["inclusive_pct"], prof["self_pct"]):
                w(f"| {fi} | {pi} | | {fs} | {ps} |")
            w("")
        w("## Memory and disk")
        w("")
        w("| what | figure | cores |")
        w("|---|---|---|")
        w(f"| server peak RSS, VmHWM after the load (embedded Chroma, {emb['name']}, extractive) | **{sv.get('peak_rss_vmhwm_mb')} MiB** | {cores} |")
        w(f"| server RSS after start / after single user / after load | {sv.get('rss_after_start_mb')} / {sv.get('rss_after_single_mb')} / {sv.get('rss_after_load_mb')} MiB | {cores} |")
        w(f"| server start until /api/health answers | {sv.get('startup_s')} s | {cores} |")
        if ing:
            z = ing["corpus"]["size"]
            w(f"| index on disk, corpus ({z['chunks']} chunks): Chroma {z['chroma_mb']} MB + BM25 {z['lexical_mb']} MB | **{z['mb_per_1k_chunks']:.2f} MB per 1k chunks** | {cores} |")
        if sc:
            for n, s in sc["scales"].items():
                z = s["build"]["size"]
                w(f"| index on disk, synthetic {int(n):,} chunks: Chroma {z['chroma_mb']} MB + BM25 {z['lexical_mb']} MB | **{z['mb_per_1k_chunks']:.2f} MB per 1k chunks** | {cores} |")
        w("")
    if res.get("threads"):
        render_threads(res["threads"], cores, w)
    if res.get("errors"):
        w("## Steps that failed")
        w("")
        for step, msg in res["errors"].items():
            w(f"- {step}: {msg}")
        w("")
    if res.get("analysis"):
        w(res["analysis"].rstrip())
        w("")
    w(METHOD.format(**method_values(res)).rstrip())
    w("")
    return "\n".join(L)


def method_values(res: dict[str, Any]) -> dict[str, Any]:
    sc = res.get("scale", {})
    pool = sc.get("pool", {})
    fid = sc.get("fidelity", {})
    chat = res.get("chat", {})
    cfg = res.get("config", {})
    emb = embedder_of(res)
    rate = (res.get("ingest") or {}).get("embedder", {}).get("hours_for_100k_passages")
    return {"embedder": emb["name"], "dim": emb.get("dim", "?"), "threads": emb.get("threads", "?"),
            "hours_100k": f"≈ {rate:.1f} h" if rate else "hours","sentences": pool.get("sentences", "?"), "topics": pool.get("topics", "?"),
            "corpus_topics": pool.get("corpus_topics", "?"), "pool_s": pool.get("embed_s", "?"),
            "cos_mean": fid.get("cos_mean", "?"), "cos_min": fid.get("cos_min", "?"),
            "corr": fid.get("pairwise_similarity_corr", "?"), "fid_n": fid.get("sample", "?"),
            "queries": cfg.get("queries", "?"), "single": cfg.get("single", "?"), "clients": cfg.get("clients", "?"),
            "seconds": cfg.get("seconds", "?"), "pages": cfg.get("pages", "?"), "e2e_pages": cfg.get("e2e_pages", "?"),
            "port": chat.get("server", {}).get("port", "?"),
            "server_cmd": chat.get("server", {}).get("cmd", "python -m assistant serve"),
            "server_env": chat.get("server", {}).get("env", "LB_RATE_LIMIT_PER_MINUTE=0")}


METHOD = """## How this was measured

- **Machine**: every figure carries the core count; the tables name `os.cpu_count()`. Wall-clock times on a shared
  machine: other processes running at the same time make every latency longer, never shorter.
- **Ingestion**: `ChatService.ingest` (the code path of `lernbegleiter ingest`) into a fresh data dir under a temp
  folder, real {embedder} embedder ({threads} threads), embedded Chroma, BM25 rebuild included. The embedder is wrapped
  only to add up the seconds it spends in `embed_documents` (the passage form `PassageIndex.upsert` calls). PDFs: {pages} A4 pages of German text (course sentences and template sentences about KI
  in trades) written with reportlab (Helvetica, headings, page-number footers, ~2,000+ characters a page);
  parse rate = `ingestion.loaders.load` + `chunk_document` over all of them; end to end over the first
  {e2e_pages} pages (whole files of 50 pages; `BENCH_PDF_E2E_PAGES` sets how many).
- **Scale indexes (1k / 10k / 100k chunks)**: embedding 100k real passages with {embedder} on 2 cores would take
  {hours_100k} (see the embedder rate), so passage vectors are *composed*: a pool of {sentences} distinct German sentences
  ({corpus_topics} topics from corpus/ – real course text – plus template sentences on trade × KI-theme topics,
  {topics} topics in all) and their title/heading lines were each embedded once with the real {embedder}
  embedder in its passage form (`embed_documents`; {pool_s} s). A passage is 5–8 sentences of one topic (30 % also 1–2 of another), ~800 characters, unique text,
  with corpus-like metadata (source, doc_title, heading_path, baustein, typ, rollen, schlagworte, …); its vector is
  the L2-normalised sum of its heading-line vector and its sentence vectors (dimension {dim}, the real embedder's).
  Checked on {fid_n} passages against really embedding them (`embed_documents`): cosine {cos_mean} on average (min {cos_min}); the
  pairwise similarity structure agrees with the real one at r = {corr}. Passages were written through the real
  `PassageIndex.upsert` (batches of 5,000; a stand-in embedder returns the composed vectors under the real
  embedder's name and dimension), and the BM25 index was built by the real `Retriever.rebuild_lexical`.
  Queries: {queries} real German questions from `evals/corpus_questions.yaml` with their roles, embedded by the
  real {embedder} embedder at query time (`embed_query`, inside every timed call; never composed; the embedder's
  text → vector cache is bypassed for questions – `bench.common.fresh_questions` – because the benchmark repeats
  the same questions and a cached question would cost nothing), through `ChatService.search(..., mode="hybrid")` in a fresh process per size.
- **Chat**: the app's server, `{server_cmd}` on 127.0.0.1 (free port, here {port}) with the corpus index built above
  and `{server_env}`: `bench/whatif_server.py` is `python -m assistant serve` with one patch, the embedder's text →
  vector cache never answers an `embed_query` for a question (the load repeats a few hundred questions, real users
  rarely do); passage-sentence vectors of the extractive answerer stay cached as in the app, warmed by the
  warm-up and single-user chats. Client: httpx + asyncio in the benchmark process (it shares the 2 cores with the
  server). Single user: 3 warm-up chats, then {single} chats one after another. Load: {clients} closed-loop SSE
  clients for {seconds} s (each starts the next chat when its stream has ended; questions from the same file,
  random order); every request is bounded by a timeout, the whole phase by a grace period, then the driver stops.
  *First event* = first complete `data:` line (the `meta` event, sent after retrieval and the answer decision);
  *done* = the `done` event. Errors = non-200 answers, `error` events, streams without `done`, timeouts, transport errors.
- **RSS**: `/proc/<pid>/status` of the uvicorn process: VmHWM (kernel peak) after the load phase, VmRSS sampled
  every 0.25 s. **Disk**: bytes under `<data dir>/chroma` + `<data dir>/lexical` divided by chunks / 1,000.
"""


def render_threads(th: dict[str, Any], cores: int, w) -> None:
    """The embedder thread study (bench/threads.py): query-encoding latency per LB_EMBEDDER_THREADS / OMP_WAIT_POLICY."""
    sets = th.get("settings") or {}
    if not sets:
        return
    w("## Embedder threads: LB_EMBEDDER_THREADS × OMP_WAIT_POLICY")
    w("")
    carried = th.get("carried_over_from")
    when = f"run {th.get('started')}" + (f", carried over from the report of {carried.get('report_started')} "
                                          f"(commit {((carried.get('git') or {}).get('commit'))}; not re-run this time)"
                                          if carried else "")
    if th.get("separate_run"):
        when += "; a separate run taken into this report, not part of this `make bench` run"
    w(f"`python -m bench.threads` ({when}): for each setting the real server (`bench/whatif_server.py`, which only "
      "logs the duration of each embedder call) answers "
      f"{th.get('single')} chats of one user, then {th.get('clients')} concurrent closed-loop SSE streams for "
      f"{th.get('seconds'):.0f} s (the `bench.chat` machinery). *Query encoding* = one `embed_query` call of retrieval; "
      "*answer embed* = one symmetric `embed` call of the extractive answerer (the question and up to ~40 sentences). "
      f"Settings ran one after another, {th.get('repeat')} round(s); {cores} cores; the load average before each "
      "run is given because the machine is shared.")
    w("")
    w("| threads | wait policy | query encoding, single user p50 / p95 ms | query encoding, under load p50 / p95 ms | "
      "answer embed call under load p50 / p95 ms | first event p95, single | first event p50 / p95, under load | "
      "done p95, under load | chats/s under load | server CPU ms/chat (load) | errors | load avg before |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def lst(xs: list[Any], fmt: str = "{:,.0f}") -> str:
        return ", ".join("–" if x is None else fmt.format(x) for x in xs) or "–"

    for _key, st in sets.items():
        w(f"| {st['threads']} | {st['omp_wait_policy']}{''.join(' + ' + e for e in st.get('extra_env') or [])} | {_ms(st['single_query_ms'], 'p50')} / {_ms(st['single_query_ms'], 'p95')} | "
          f"**{_ms(st['load_query_ms'], 'p50')} / {_ms(st['load_query_ms'], 'p95')}** | "
          f"{_ms(st['load_embed_call_ms'], 'p50')} / {_ms(st['load_embed_call_ms'], 'p95')} | "
          f"{lst(st['single_first_event_p95_ms'])} | {lst(st['load_first_event_p50_ms'])} / {lst(st['load_first_event_p95_ms'])} | "
          f"{lst(st['load_done_p95_ms'])} | {lst(st['load_throughput_rps'], '{:.2f}')} | "
          f"{lst(st['server_cpu_ms_per_chat_load'])} | {st['load_errors']} | {lst(st['loadavg_before'], '{:.1f}')} |")
    w("")
    if th.get("errors"):
        w("Settings that failed: " + "; ".join(th["errors"]) + ".")
        w("")
    if th.get("note"):
        w(th["note"].rstrip())
        w("")
