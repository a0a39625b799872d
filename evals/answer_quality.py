"""Answer quality of the extractive answerer, the new one beside the first wave's (`make eval`).

    python -m evals.answer_quality [--data DIR] [--split tune|heldout|all]

Writes evals/results/answers.md and answers.json. On evals/answers/golden.yaml (questions written
the way people in each role ask, with key facts and the units that hold them) both answerers get
the same retrieval hits; per answer it counts mechanical defects and key facts found:
- dangling opener: a paragraph that starts by referring to text the reader never saw ("Trotzdem ...");
- unit id: a raw unit id in the text (a link target does not count);
- fragment: a line of fewer than four words that is neither a heading nor a citation ("Schulung.");
- disclaimer: the "keine Rechtsberatung" note quoted as content;
- template title: a sentence that wraps a unit title in quotes outside a link (old templates did);
- declined: an answerable question declined.
Across roles: for the first 5 tune questions per role, all four roles are asked; a question whose
answers are identical for two roles counts as "identical bodies". Follow-ups (items with
`verlauf`): paragraphs of the follow-up answer already in the first answer ("repeated blocks").
On evals/answers/decline.yaml the decline decision is measured per class and split.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from assistant.answers.answering import ExtractiveAnswerer
from assistant.answers.compose import REFERRING
from assistant.answers.prompts import TextSet
from assistant.roles import Role
from assistant.search.embeddings import create_embedder
from assistant.service import ChatService
from assistant.settings import Settings

from .golden import EVALS
from .legacy_answerer import ExtractiveAnswerer as LegacyAnswerer

DATA = EVALS / "answers"
RESULTS = EVALS / "results"
CORPUS = EVALS.parent / "corpus"
_LINK = re.compile(r"\]\(/kurs/[a-z0-9-]+\)")
_CITE = re.compile(r"\s*\[\d+\]")


def load(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def unit_ids() -> set[str]:
    return {p.stem for p in CORPUS.rglob("*.md") if p.name != "README.md"}


def titles() -> set[str]:
    out = set()
    for p in CORPUS.rglob("*.md"):
        m = re.search(r"^titel:\s*\"?(.+?)\"?\s*$", p.read_text(encoding="utf-8"), re.M)
        if m:
            out.add(m.group(1))
    return out


# --- defects ----------------------------------------------------------------------------------------

def paragraphs(text: str) -> list[str]:
    out = []
    for p in re.split(r"\n\s*\n", text):
        p = re.sub(r"^\*\*[^*]{1,60}:\*\*\s*", "", p.strip())  # a heading such as "**Für Sie als ...:**"
        if p:
            out.append(p)
    return out


def defects(text: str, ids: set[str], unit_titles: set[str], declined: bool = False) -> dict[str, int]:
    plain = _LINK.sub("]", text)
    lines = [_CITE.sub("", ln).strip(" -*") for ln in text.splitlines()]
    frag = [ln for ln in lines if ln and not ln.startswith(("|", "#")) and not ln.endswith(":") and
            not re.fullmatch(r"\*\*.*\*\*:?", ln) and len(ln.split()) < 4 and ln.endswith(".")]
    quoted = re.findall(r"„([^“]{3,120})“", re.sub(r"\[[^\]]*\]\(/kurs/[^)]*\)", "", text))
    return {
        "dangling_opener": int(any(REFERRING.match(p) for p in paragraphs(text)[:1])) if not declined else 0,
        "unit_id": int(any(re.search(rf"(?<![/\w-]){re.escape(i)}(?![\w-])", plain) for i in ids)),
        "fragment": int(bool(frag)),
        "disclaimer": int("keine Rechtsberatung" in text),
        "template_title": int(any(q in unit_titles for q in quoted)),
    }


def facts_found(text: str, facts: list[list[str]]) -> float | None:
    if not facts:
        return None
    low = text.lower()
    return sum(any(str(a).lower() in low for a in alts) for alts in facts) / len(facts)


# --- running -------------------------------------------------------------------------------------

def run_chat(svc: ChatService, question: str, role: Role | None, session: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"text": "", "sources": [], "followups": [], "declined": False}
    parts = []
    for ev in svc.chat(question, role, session_id=session):
        kind, data = ev["event"], ev["data"]
        if kind == "delta":
            parts.append(data["text"])
        elif kind == "meta":
            out["session"] = data.get("session_id")
            out["standalone"] = data.get("standalone_question", question)
        elif kind == "sources":
            out["sources"] = [s.get("doc_id") for s in data]
        elif kind == "followups":
            out["followups"] = data
        elif kind == "done":
            out["declined"] = not data.get("answerable", True)
    out["text"] = "".join(parts)
    return out


def run_legacy(svc: ChatService, legacy: LegacyAnswerer, question: str, role: Role | None) -> dict[str, Any]:
    hits = svc.search(question, role, svc.settings.top_k)
    hits = [h for h in hits if h.metadata.get("kind") != "frage"]  # the old answerer never saw them
    parts, declined = [], False
    for ev in legacy.stream(question, role, hits, {}, svc.retriever.lexical().idf):
        if ev["event"] == "delta":
            parts.append(ev["data"]["text"])
        elif ev["event"] == "done":
            declined = not ev["data"].get("answerable", True)
    return {"text": "".join(parts), "declined": declined}


def evaluate(svc: ChatService, split: str) -> dict[str, Any]:
    legacy_texts = TextSet("legacy", "-", yaml.safe_load((EVALS / "legacy_extractive.yaml").read_text("utf-8")))
    legacy = LegacyAnswerer(svc.index.embedder, legacy_texts, svc.index, max_sources=4)
    ids, unit_titles = unit_ids(), titles()
    items = [q for q in load("golden.yaml") if split == "all" or q.get("split") == split]
    rows = []
    for q in items:
        role = Role(q["rolle"])
        session = None
        first = None
        for earlier in q.get("verlauf") or []:
            first = run_chat(svc, earlier, role)
            session = first.get("session")
        new = run_chat(svc, q["frage"], role, session)
        old = run_legacy(svc, legacy, new.get("standalone", q["frage"]), role)
        row = {"id": q["id"], "role": q["rolle"], "art": q.get("art"), "question": q["frage"],
               "followup": bool(q.get("verlauf")), "nicht_im_kurs": bool(q.get("nicht_im_kurs"))}
        for name, ans in (("new", new), ("old", old)):
            row[name] = {"text": ans["text"], "declined": ans["declined"],
                         "defects": defects(ans["text"], ids, unit_titles, ans["declined"]),
                         "facts": facts_found(ans["text"], q.get("fakten") or [])}
        row["new"]["followups"] = new["followups"]
        row["new"]["units_cited"] = sorted({s for s in new["sources"] if s})
        row["new"]["gold_unit_cited"] = bool(set(q.get("einheiten") or []) & set(row["new"]["units_cited"]))
        if first is not None:
            before = {p for p in paragraphs(_CITE.sub("", first["text"])) if len(p) > 60}
            after = [p for p in paragraphs(_CITE.sub("", new["text"])) if len(p) > 60]
            row["new"]["repeated_blocks"] = sum(p in before for p in after)
        rows.append(row)
    # the same question for all four roles
    same = []
    tune = [q for q in load("golden.yaml") if q.get("split") == "tune" and not q.get("verlauf")]
    for role in Role:
        for q in [x for x in tune if x["rolle"] == role.value][:5]:
            texts = {r.value: run_chat(svc, q["frage"], r)["text"] for r in Role}
            same.append({"id": q["id"], "identical_pairs": sum(
                1 for a in texts for b in texts if a < b and texts[a] == texts[b] and texts[a])})
    return {"rows": rows, "same_question_all_roles": same}


def decline_eval(svc: ChatService) -> dict[str, Any]:
    idf = svc.retriever.lexical().idf
    out: dict[str, Any] = {}
    for q in load("decline.yaml"):
        hits = svc.search(q["frage"], None, svc.settings.top_k)
        d = svc.extractive.decide(q["frage"], hits, idf, svc.retriever.plan(q["frage"]).lexical)
        key = f"{q['klasse']}/{q['split']}"
        cell = out.setdefault(key, {"n": 0, "declined": 0})
        cell["n"] += 1
        cell["declined"] += int(not d.answerable)
    return out


def summary(res: dict[str, Any]) -> dict[str, Any]:
    rows = res["rows"]
    out: dict[str, Any] = {}
    for name in ("new", "old"):
        s: dict[str, Any] = {"n": len(rows)}
        for k in ("dangling_opener", "unit_id", "fragment", "disclaimer", "template_title"):
            s[k] = sum(r[name]["defects"][k] for r in rows)
        s["declined"] = sum(r[name]["declined"] for r in rows if not r["nicht_im_kurs"])
        f = [r[name]["facts"] for r in rows if r[name]["facts"] is not None]
        s["facts_mean"] = round(sum(f) / len(f), 3) if f else None
        s["all_facts"] = round(sum(x == 1.0 for x in f) / len(f), 3) if f else None
        out[name] = s
    fu = [r for r in rows if r["followup"]]
    out["new"]["followups_repeating"] = sum(1 for r in fu if r["new"].get("repeated_blocks"))
    out["new"]["followups"] = len(fu)
    out["new"]["gold_unit_cited"] = round(sum(r["new"]["gold_unit_cited"] for r in rows) / max(len(rows), 1), 3)
    out["new"]["identical_bodies"] = sum(1 for x in res["same_question_all_roles"] if x["identical_pairs"])
    out["new"]["identical_checked"] = len(res["same_question_all_roles"])
    return out


def render(res: dict[str, Any], split: str) -> str:
    s = res["summary"]
    lines = [f"# Answer quality ({res['date']}, split {split}, {s['new']['n']} golden questions)", "",
             "Produced by `python -m evals.answer_quality` (part of `make eval`). Both answerers get the same "
             "retrieval hits; definitions in the module docstring.", "",
             "| measure | first wave | new |", "|---|---|---|"]
    for k, label in (("dangling_opener", "answers opening with a dangling reference"),
                     ("unit_id", "answers with a raw unit id"), ("fragment", "answers with a fragment line"),
                     ("disclaimer", "answers quoting the disclaimer"),
                     ("template_title", "answers with a unit title in a template sentence"),
                     ("declined", "answerable questions declined"), ("facts_mean", "key facts found (mean share)"),
                     ("all_facts", "answers with all key facts")):
        lines.append(f"| {label} | {s['old'][k]} | {s['new'][k]} |")
    lines += ["", f"- follow-ups repeating a block of the previous answer: {s['new']['followups_repeating']} of "
                  f"{s['new']['followups']}",
              f"- questions asked by all four roles with identical answers for two roles: "
              f"{s['new']['identical_bodies']} of {s['new']['identical_checked']}",
              f"- a gold unit among the cited units: {s['new']['gold_unit_cited']}", "",
              "## Decline decision (evals/answers/decline.yaml)", "", "| class / split | n | declined |", "|---|---|---|"]
    for key, cell in sorted(res["decline"].items()):
        lines.append(f"| {key} | {cell['n']} | {cell['declined'] / cell['n']:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="an existing data dir with the corpus ingested (else a temp dir)")
    ap.add_argument("--split", default="all", choices=("tune", "heldout", "all"))
    ap.add_argument("--out", default="answers", help="file stem under evals/results")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        settings = Settings(data_dir=data, llm_base_url=None, warm_cache=False)
        svc = ChatService.build(settings, embedder=create_embedder(settings.embedder, settings.embedder_threads))
        if args.data is None:
            svc.ingest([CORPUS])
        res = evaluate(svc, args.split)
        res["decline"] = decline_eval(svc)
        res["date"] = dt.date.today().isoformat()
        res["summary"] = summary(res)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{args.out}.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
        (RESULTS / f"{args.out}.md").write_text(render(res, args.split), encoding="utf-8")
        print(render(res, args.split))
        svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
