"""Hybrid retrieval: BM25 over German stems + dense passage vectors,
fused by weighted reciprocal rank, with a boost for passages written for the asker's role."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .index import PassageIndex
from .lexical import LexicalIndex, field_text
from .roles import ROLE_SECTION_PARENT, Role

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
    if role.value in roles:
        factor *= ROLE_UNIT_BOOST
    path = str(meta.get("heading_path", ""))
    if ROLE_SECTION_PARENT in path:  # the '### <Rolle>' paragraphs of a Lernsequenz
        factor *= ROLE_SECTION_BOOST if path.endswith(role.section) else OTHER_ROLE_SECTION
    return factor


class Retriever:
    """Searches one PassageIndex; keeps the lexical index in step with the collection."""

    # weighted reciprocal-rank fusion; weights from the parameter study (evals/results/retrieval.md, docs/architecture.md)
    rrf_k = 20
    weights = {"lexical": 1.0, "dense": 0.5}

    def __init__(self, index: PassageIndex, lexical_dir: Path, check_interval: float = 2.0) -> None:
        self.index = index
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
                       else str(p.metadata.get("schlagworte", "")), p.text)
            for p in passages
        ]
        lex = LexicalIndex.build([p.id for p in passages], texts, fp)
        lex.save(self.lexical_dir)
        self._lexical, self._checked = lex, time.monotonic()
        return lex

    # --- search -------------------------------------------------------------------------------

    @staticmethod
    def where(filters: dict[str, Any] | None) -> dict[str, Any] | None:
        clauses = [{k: v} for k, v in (filters or {}).items() if k in FILTER_KEYS and v not in (None, "")]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def search(self, query: str, role: Role | None = None, k: int = 8, filters: dict[str, Any] | None = None,
               mode: Mode = "hybrid", pool: int = 50) -> list[Hit]:
        where = self.where(filters)
        allowed = set(self.index.passages.get(where=where, include=[])["ids"]) if where else None
        expanded = expand_query(query)
        lex: dict[str, float] = {}
        dense: dict[str, float] = {}
        if mode in ("hybrid", "lexical"):
            lex = self.lexical().search(expanded, pool, allowed)
        if mode in ("hybrid", "dense"):
            vec = self.index.embedder.embed([query])[0]
            dense = self.index.dense(vec, pool, where)
        lex_rank = {pid: r for r, pid in enumerate(sorted(lex, key=lex.get, reverse=True), 1)}
        dense_rank = {pid: r for r, pid in enumerate(sorted(dense, key=dense.get, reverse=True), 1)}
        fused: dict[str, float] = {}
        for pid in set(lex_rank) | set(dense_rank):
            s = 0.0
            if pid in lex_rank:
                s += self.weights["lexical"] / (self.rrf_k + lex_rank[pid])
            if pid in dense_rank:
                s += self.weights["dense"] / (self.rrf_k + dense_rank[pid])
            fused[pid] = s
        if not fused:
            return []
        stored = {p.id: p for p in self.index.get(list(fused))}
        hits = []
        for pid, s in fused.items():
            p = stored.get(pid)
            if p is None:
                continue
            hits.append(Hit(pid, p.text, s * role_factor(p.metadata, role), p.metadata,
                            dense_score=dense.get(pid, 0.0), lexical_score=lex.get(pid, 0.0),
                            ranks={"lexical": lex_rank.get(pid, 0), "dense": dense_rank.get(pid, 0)}))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
