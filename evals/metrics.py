"""Ranking metrics over lists of booleans (relevant or not, best first)."""

from __future__ import annotations

import math


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
