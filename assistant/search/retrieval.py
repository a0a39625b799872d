"""Hybrid retrieval: BM25 over German stems + dense passage vectors,
fused by weighted reciprocal rank, with a boost for passages written for the asker's role."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .index import PassageIndex
from .lexical import LexicalIndex, field_text
from ..roles import ROLE_SECTION_PARENT, Role

log = logging.getLogger("lernbegleiter")
Mode = Literal["hybrid", "lexical", "dense"]
FILTER_KEYS = ("baustein", "typ", "source")

# Colloquial words and abbreviations users type -> the terms the course uses.
SYNONYMS: dict[str, str] = {
    "ai": "KI",
    "br": "Betriebsrat",
    "gf": "Geschäftsführung",
    "chef": "Geschäftsführung Führungskraft",
    "chefin": "Geschäftsführung Führungskraft",
    "azubi": "Auszubildende Ausbildung",
    "azubis": "Auszubildende Ausbildung",
    "dsfa": "Datenschutz-Folgenabschätzung",
    "dsgvo": "Datenschutz Datenschutz-Grundverordnung",
    "ai act": "KI-Verordnung",
    "betrvg": "Betriebsverfassungsgesetz Mitbestimmung",
    "bv": "Betriebsvereinbarung",
    "chatgpt": "Chatbot generative KI Sprachmodell",
    "gpt": "generative KI Sprachmodell",
    "überwachung": "Verhaltens- und Leistungskontrolle Überwachung",
    "überwachen": "Verhaltens- und Leistungskontrolle Überwachung",
    "kontrolle": "Leistungskontrolle",
    "kontrollieren": "Verhaltens- und Leistungskontrolle Überwachung",
    "kontrolliert": "Verhaltens- und Leistungskontrolle Überwachung",
    "lohnt": "Kosten Nutzen Business Case",
    "haftet": "Haftung Verantwortung",
    "haftung": "Haftung Verantwortung",
    "schiefgeht": "Fehler Verantwortung Haftung",
    "angst": "Ängste Skepsis Akzeptanz",
    "ängste": "Ängste Skepsis Akzeptanz",
    "job": "Arbeitsplatz Beschäftigung",
    "jobs": "Arbeitsplätze Beschäftigung",
    "kosten": "Kosten Nutzen Business Case",
    "schulung": "Qualifizierung Weiterbildung Kompetenz",
    "weiterbildung": "Qualifizierung Weiterbildung Kompetenz",
    "stress": "psychische Belastung Beanspruchung",
}


def expand_query(query: str) -> str:
    low = query.lower()
    extra = [exp for key, exp in SYNONYMS.items() if re.search(rf"(?<![\wäöüß]){re.escape(key)}(?![\wäöüß])", low)]
    return f"{query} {' '.join(extra)}" if extra else query


@dataclass
class QueryPlan:
    """What the lexical path searches for: the question with typos corrected and synonyms added."""

    query: str
    lexical: str
    corrections: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    id: str
    text: str
    score: float
    metadata: dict[str, Any]
    dense_score: float = 0.0
    lexical_score: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.metadata.get("doc_title") or self.metadata.get("titel") or self.metadata.get("source", ""))


ROLE_UNIT_BOOST = 1.1      # the unit lists the role in `rollen`
ROLE_SECTION_BOOST = 1.1   # the passage is the unit's paragraph for this role
OTHER_ROLE_SECTION = 0.8   # the passage is written for another role


def role_factor(meta: dict[str, Any], role: Role | None) -> float:
    if role is None:
        return 1.0
    factor = 1.0
    roles = meta.get("rollen") or []
    if isinstance(roles, str):
        roles = [roles]
    if isinstance(roles, (list, tuple)) and role.value in roles:
        factor *= ROLE_UNIT_BOOST
    path = str(meta.get("heading_path", ""))
    if ROLE_SECTION_PARENT in path:  # the '### <Rolle>' paragraphs of a Lernsequenz
        factor *= ROLE_SECTION_BOOST if path.endswith(role.section) else OTHER_ROLE_SECTION
    return factor


class Retriever:
    """Searches one PassageIndex; keeps the lexical index in step with the collection."""

    # weighted reciprocal-rank fusion per embedder family: (dense weight, rrf k), lexical weight 1.0.
    # E5: refit on our own sets by `python -m evals.tune_retrieval` (evals/results/fusion-e5.md: corpus, seeds
    # and the foreign tune split chose it; the held-out split is only reported). Others: the USE study's values.
    FUSION = {"e5": (1.1, 10), "default": (0.5, 20)}
    rrf_k = 10
    weights = {"lexical": 1.0, "dense": 1.1}

    def __init__(self, index: PassageIndex, lexical_dir: Path, check_interval: float = 2.0) -> None:
        self.index = index
        w_dense, self.rrf_k = self.FUSION["e5" if str(getattr(index.embedder, "name", "")).startswith("e5")
                                          else "default"]
        self.weights = {"lexical": 1.0, "dense": w_dense}
        self.lexical_dir = lexical_dir
        self.check_interval = check_interval
        self._lexical: LexicalIndex | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    # --- lexical index upkeep -----------------------------------------------------------------

    def lexical(self) -> LexicalIndex:
        now = time.monotonic()
        if self._lexical is not None and now - self._checked < self.check_interval:
            return self._lexical
        with self._lock:
            fp = self.index.fingerprint()
            self._checked = time.monotonic()
            if self._lexical is None or self._lexical.fingerprint != fp:
                self._lexical = LexicalIndex.load(self.lexical_dir, fp) or self.rebuild_lexical(fp)
            return self._lexical

    def rebuild_lexical(self, fingerprint: str | None = None) -> LexicalIndex:
        fp = fingerprint or self.index.fingerprint()
        passages = self.index.all_passages()
        texts = [
            field_text(str(p.metadata.get("doc_title", "")), str(p.metadata.get("heading_path", "")),
                       " ".join(p.metadata.get("schlagworte") or []) if isinstance(p.metadata.get("schlagworte"), list)
                       else str(p.metadata.get("schlagworte", "")),
                       str(p.metadata["frage"]) if p.metadata.get("kind") == "frage" else p.text)
            for p in passages
        ]
        lex = LexicalIndex.build([p.id for p in passages], texts, fp)
        try:
            lex.save(self.lexical_dir)
        except OSError as exc:  # a cache of the collection: serve from memory, the next rebuild saves again
            log.warning("lexical index not saved (%s)", type(exc).__name__)
        self._lexical, self._checked = lex, time.monotonic()
        return lex

    # --- search -------------------------------------------------------------------------------

    @staticmethod
    def where(filters: dict[str, Any] | None) -> dict[str, Any] | None:
        clauses = [{k: v} for k, v in (filters or {}).items() if k in FILTER_KEYS and v not in (None, "")]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def plan(self, query: str) -> QueryPlan:
        """Typo correction against the index vocabulary, then colloquial synonyms, for the lexical path."""
        corrections = self.lexical().corrections(query)
        corrected = query
        for wrong, right in corrections.items():
            corrected = re.sub(rf"(?<![\wäöüß]){re.escape(wrong)}(?![\wäöüß])", right, corrected, flags=re.I)
        return QueryPlan(query, expand_query(corrected), corrections)

    def candidates(self, query: str, filters: dict[str, Any] | None = None, mode: Mode = "hybrid",
                   pool: int = 50) -> tuple[dict[str, float], dict[str, float], QueryPlan]:
        """Raw scores of the lexical and the dense path (``pool`` each) before fusion."""
        where = self.where(filters)
        allowed = set(self.index.passages.get(where=where, include=[])["ids"]) if where else None
        plan = self.plan(query) if mode in ("hybrid", "lexical") else QueryPlan(query, query, {})
        lex: dict[str, float] = {}
        dense: dict[str, float] = {}
        if mode in ("hybrid", "lexical"):
            lex = self.lexical().search(plan.lexical, pool, allowed)
        if mode in ("hybrid", "dense"):
            dense = self.index.dense(self.index.embedder.embed_query(query), pool, where)
        return lex, dense, plan

    def fuse(self, lex: dict[str, float], dense: dict[str, float], role: Role | None, k: int,
             weights: dict[str, float] | None = None, rrf_k: int | None = None,
             metadata: dict[str, dict[str, Any]] | None = None) -> list[tuple[str, float, dict[str, int]]]:
        """Weighted reciprocal-rank fusion times the role factor: [(id, score, ranks)], best first.

        Every ordering is total (score, then the other path's score, then the id), so the same query on
        the same index gives the same ranking in every process."""
        weights = weights or self.weights
        rrf_k = self.rrf_k if rrf_k is None else rrf_k
        lex_rank = {pid: r for r, pid in enumerate(sorted(lex, key=lambda p: (-lex[p], p)), 1)}
        dense_rank = {pid: r for r, pid in enumerate(sorted(dense, key=lambda p: (-dense[p], p)), 1)}
        out = []
        for pid in sorted(set(lex_rank) | set(dense_rank)):
            s = 0.0
            if pid in lex_rank:
                s += weights["lexical"] / (rrf_k + lex_rank[pid])
            if pid in dense_rank:
                s += weights["dense"] / (rrf_k + dense_rank[pid])
            if metadata is not None:
                s *= role_factor(metadata.get(pid, {}), role)
            out.append((pid, s, {"lexical": lex_rank.get(pid, 0), "dense": dense_rank.get(pid, 0)}))
        out.sort(key=lambda t: (-t[1], -dense.get(t[0], 0.0), -lex.get(t[0], 0.0), t[0]))
        return out[:k] if k else out

    def search(self, query: str, role: Role | None = None, k: int = 8, filters: dict[str, Any] | None = None,
               mode: Mode = "hybrid", pool: int = 50) -> list[Hit]:
        lex, dense, _plan = self.candidates(query, filters, mode, pool)
        if not lex and not dense:
            return []
        stored = {p.id: p for p in self.index.get(sorted(set(lex) | set(dense)))}
        fused = self.fuse(lex, dense, role, 0, metadata={pid: p.metadata for pid, p in stored.items()})
        hits = [Hit(pid, stored[pid].text, s, stored[pid].metadata, dense_score=dense.get(pid, 0.0),
                    lexical_score=lex.get(pid, 0.0), ranks=ranks)
                for pid, s, ranks in fused if pid in stored]
        return hits[:k]
