"""Metrics of the evals: ranking (over lists of booleans, best first), key-fact coverage, refusal, length.

Ranking: a question has one relevance list (is the passage at rank i relevant?). R@k = 1 when any of the
first k passages is relevant; MRR@10 = 1/rank of the first relevant passage; nDCG@10 is binary with one
ideal relevant item (the first relevant passage counts, 1/log2(rank+1)), because unit-level gold makes every
passage of a gold unit relevant and there is no meaningful ideal ordering among them.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata

from assistant.german import content_words, stem


def recall_at(rel: list[bool], k: int) -> float:
    return 1.0 if any(rel[:k]) else 0.0


def mrr_at(rel: list[bool], k: int) -> float:
    for i, r in enumerate(rel[:k], 1):
        if r:
            return 1.0 / i
    return 0.0


def ndcg_at(rel: list[bool], k: int) -> float:
    """Binary nDCG with one ideal relevant item (first relevant hit counts)."""
    for i, r in enumerate(rel[:k], 1):
        if r:
            return 1.0 / math.log2(i + 1)
    return 0.0


def summarise(rows: list[list[bool]]) -> dict[str, float]:
    n = max(len(rows), 1)
    return {
        "n": len(rows),
        "R@1": sum(recall_at(r, 1) for r in rows) / n,
        "R@5": sum(recall_at(r, 5) for r in rows) / n,
        "R@10": sum(recall_at(r, 10) for r in rows) / n,
        "MRR@10": sum(mrr_at(r, 10) for r in rows) / n,
        "nDCG@10": sum(ndcg_at(r, 10) for r in rows) / n,
    }


# --- key facts -----------------------------------------------------------------------------------

_QUOTES = re.compile(r"[„“”‚‘’«»\"']")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")


def normalise(text: str) -> str:
    """Lower case, NFKC, no soft hyphens, no Markdown emphasis, no quotes, one kind of dash, '§87' -> '§ 87',
    '1.000' and '1 000' -> '1000', one space."""
    t = unicodedata.normalize("NFKC", text).replace("\u00ad", "").lower()
    t = re.sub(r"[*_`]", "", t)
    t = _QUOTES.sub("", t)
    t = _DASHES.sub("-", t)
    t = re.sub(r"(§+|art\.)\s*(?=\d)", r"\1 ", t)
    t = re.sub(r"(?<=\d)[.\s](?=\d{3}\b)", "", t)
    return " ".join(t.split())


def fact_found(fact: str, answer: str) -> bool:
    """The matching rule for key facts (documented in evals/README.md):

    1. exact: the normalised fact occurs in the normalised answer, starting at a word boundary (so "Nr. 6"
       is not found in "Nr. 60" and "Rot" not in "Brot"; inflected endings after the fact are allowed:
       "Pilotprojekt" is found in "Pilotprojekte"); a fact ending in a digit must not be followed by a digit;
    2. stems, only for facts without digits: every content word of the fact, Snowball-stemmed, occurs among
       the stemmed content words of the answer (word order free), e.g. "psychische Belastung" in
       "Belastungen, auch psychische". Facts with numbers or norms must match exactly (rule 1).
    """
    f, a = normalise(fact), normalise(answer)
    if not f:
        return False
    tail = r"(?!\d)" if f[-1].isdigit() else ""
    lead = r"(?<![\w§])" if (f[0].isalnum() or f[0] == "§") else ""
    if re.search(lead + re.escape(f) + tail, a):
        return True
    if re.search(r"\d", f):
        return False
    fs = {stem(w) for w in content_words(f)}
    return bool(fs) and fs <= {stem(w) for w in content_words(a)}


def fact_coverage(facts: list[str], answer: str) -> tuple[float, list[str]]:
    """Share of facts found, and the facts missed."""
    if not facts:
        return 1.0, []
    missed = [f for f in facts if not fact_found(f, answer)]
    return 1 - len(missed) / len(facts), missed


# --- refusal ---------------------------------------------------------------------------------------

def refusal(declined_unanswerable: list[bool], declined_answerable: list[bool]) -> dict[str, float]:
    """Positive class = 'declined'. recall: unanswerable questions declined; precision: declines that were
    right; false_refusal_rate: answerable questions declined."""
    tp = sum(declined_unanswerable)
    fp = sum(declined_answerable)
    n_u, n_a = len(declined_unanswerable), len(declined_answerable)
    return {
        "recall": tp / n_u if n_u else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "false_refusal_rate": fp / n_a if n_a else float("nan"),
        "n_unanswerable": n_u,
        "n_answerable": n_a,
        "declined_unanswerable": tp,
        "declined_answerable": fp,
    }


# --- length ----------------------------------------------------------------------------------------

def length_stats(texts: list[str]) -> dict[str, float]:
    if not texts:
        return {"n": 0}
    chars = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    return {"n": len(texts), "chars_mean": statistics.fmean(chars), "chars_median": statistics.median(chars),
            "words_mean": statistics.fmean(words), "words_median": statistics.median(words),
            "words_max": max(words)}


def mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")
