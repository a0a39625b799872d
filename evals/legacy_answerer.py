"""The answerer of the first wave, kept so `make eval` can put it beside the new one (issue 11).

The extractive answerer: no LLM. It picks the most relevant, non-redundant sentences
from the top passages, cites each as [n], adds a part for the asker's role, lists the
sources and suggests follow-up questions. When the evidence is weak it declines.

Decline rule (fitted by `python -m evals.calibrate`, documented in docs/architecture.md):
answer when the best dense similarity d among the top passages is >= DENSE_STRONG, or when
d >= DENSE_MIN and d + COVERAGE_WEIGHT * c >= COMBINED_MIN, where c is the IDF-weighted share
of the question's content words found in the top three passages. Everything else is declined.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ingestion.screening import instruction_only, instruction_reason, safe_hits

from assistant.search.embeddings import Embedder
from assistant.german import content_words, sentences, stem
from assistant.answers.prompts import TextSet
from assistant.search.retrieval import SYNONYMS, Hit
from assistant.roles import ROLE_SECTION_PARENT, Role

Event = dict[str, Any]

COVERAGE_WEIGHT = 0.25


@dataclass(frozen=True)
class Calibration:
    """What the decline rule and the sentence scores need to know about the embedder's cosine scale.

    USE spreads unrelated sentences around 0.1; E5 packs them around 0.83 (median of random sentence
    pairs of the corpus, 99.9th percentile 0.92 vs 0.59 for USE). ``sim()`` maps an embedder's
    sentence-to-sentence cosine onto USE's scale (matching median and 99th percentile), so the
    weights and the near-duplicate limit of the sentence choice mean the same for every model.
    The decline thresholds are fitted per model by ``python -m evals.calibrate``."""

    dense_strong: float
    dense_min: float
    combined_min: float
    coverage_weight: float = 0.25
    sim_offset: float = 0.0   # cosine that maps to USE's median
    sim_scale: float = 1.0    # cosine spread that maps to one unit of USE's

    def sim(self, cos: float) -> float:
        return (cos - self.sim_offset) / self.sim_scale + (0.095 if self.sim_offset else 0.0)


CALIBRATIONS = {
    "use": Calibration(0.34, 0.26, 0.36),
    # E5: answer iff d + 0.02·c >= 0.865 (evals/calibrate.py, 2026-11-29: calibration split refusal recall
    # 0.889 / false refusals 0.9 %, held out 0.692 / 6.2 %)
    "e5": Calibration(0.865, 0.845, 0.865, coverage_weight=0.02, sim_offset=0.834, sim_scale=0.183),
}


def calibration_for(embedder_name: str) -> Calibration:
    return CALIBRATIONS["e5"] if embedder_name.startswith("e5") else CALIBRATIONS["use"]


# the USE values, kept as names for readers of older notes and evals
DENSE_STRONG, DENSE_MIN, COMBINED_MIN = (CALIBRATIONS["use"].dense_strong, CALIBRATIONS["use"].dense_min,
                                         CALIBRATIONS["use"].combined_min)
QUIZ_SECTION = "Verständnisfragen"
GENERIC_TERMS = {stem(w) for w in "ki künstliche intelligenz betrieb unternehmen thema frage arbeit".split()}


@dataclass
class Source:
    n: int
    id: str
    title: str
    heading_path: str
    page: int | None
    source: str
    text: str
    doc_id: str | None = None
    baustein: str | None = None
    typ: str | None = None
    stand: str | None = None  # the unit's front matter `stand` (YYYY-MM-DD), shown as "Stand: 29.11.2026"

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Source:
        m = hit.metadata
        return cls(n, hit.id, hit.title, str(m.get("heading_path", "")), m.get("page"), str(m.get("source", "")),
                   hit.text, m.get("doc_id"), m.get("baustein"), m.get("typ"),
                   str(m["stand"])[:10] if m.get("stand") else None)

    def label(self) -> str:
        parts = [self.title] + ([self.heading_path] if self.heading_path else [])
        s = " › ".join(parts)
        return f"{s} (S. {self.page})" if self.page else s


@dataclass
class Decision:
    answerable: bool
    dense: float
    coverage: float
    reason: str


@dataclass
class _Cand:
    text: str
    hit_rank: int
    pos: int
    score: float = 0.0
    vec: np.ndarray | None = field(default=None, repr=False)


_CLEAN = [
    (re.compile(r"^\s*(?:[-*•]\s+)?(?:\[[ xX]\]\s*)?"), ""),
    (re.compile(r"\*\*(Antwort|Frage):\*\*\s*"), ""),
    (re.compile(r"\*\*|__|`"), ""),
    (re.compile(r"^>\s*"), ""),
]


_LAWS = r"(?:BetrVG|DSGVO|DS-GVO|BDSG|ArbSchG|ArbStättV|BetrSichV|AGG|EU-KI-Verordnung|KI-Verordnung|KI-VO|AI Act|TzBfG|ArbZG)"
_NORM = re.compile(
    r"(?:§§?|Art\.|Artikel)\s*\d+[a-z]?"
    r"(?:\s*(?:Abs\.|Absatz)\s*\d+[a-z]?)?(?:\s*(?:S\.|Satz)\s*\d+)?(?:\s*Nr\.\s*\d+[a-z]?)?"
    r"(?:\s*(?:lit\.|Buchst\.)\s*[a-z]\)?)?(?:\s*(?:und|bis|,)\s*\d+[a-z]?)*"
    r"\s+(?:der\s+|des\s+)?" + _LAWS + r"|Anhang\s+[IVX]+(?:\s+Nr\.\s*\d+)?\s+(?:der\s+)?(?:EU-)?KI-Verordnung")


def find_norms(text: str) -> list[str]:
    """Legal norms named in a text, normalised ("§ 87 Abs. 1 Nr. 6 BetrVG", "Art. 35 DSGVO"), in order."""
    out: list[str] = []
    for m in _NORM.finditer(text.replace("\u00a0", " ")):
        norm = re.sub(r"\s+", " ", m.group(0)).replace("Artikel", "Art.").replace("DS-GVO", "DSGVO")
        norm = re.sub(r"(§§?|Art\.)(\d)", r"\1 \2", norm)
        norm = re.sub(r" (der|des) (?=\S+$)", " ", norm)
        if norm not in out:
            out.append(norm)
    return out


def clean_sentence(s: str) -> str:
    for rx, rep in _CLEAN:
        s = rx.sub(rep, s)
    return s.strip()


def _jaccard(a: str, b: str) -> float:
    sa, sb = {stem(w) for w in content_words(a)}, {stem(w) for w in content_words(b)}
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def query_terms(query: str) -> set[str]:
    return {stem(w) for w in content_words(query)} - GENERIC_TERMS


def term_coverage(query: str, hits: list[Hit], idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's content words found in the passages; a word also counts
    as found when one of its synonyms (retrieval.SYNONYMS) is."""
    found: set[str] = set()
    for h in hits:
        found |= {stem(w) for w in content_words(f"{h.title} {h.metadata.get('heading_path', '')} {h.text}")}
    total = covered = 0.0
    for w in dict.fromkeys(content_words(query)):
        s = stem(w)
        if s in GENERIC_TERMS:
            continue
        alternatives = {s} | {stem(x) for x in content_words(SYNONYMS.get(w, ""))}
        weight = idf(s)
        total += weight
        if alternatives & found:
            covered += weight
    return covered / total if total else 0.0


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder: Embedder, texts: TextSet, index=None, max_sentences: int = 4,
                 max_sources: int = 4) -> None:
        self.embedder = embedder
        self.calibration = calibration_for(getattr(embedder, "name", ""))
        self.texts = texts
        self.index = index  # PassageIndex, for the role section and related units; optional
        self.max_sentences = max_sentences
        self.max_sources = max_sources

    # --- decision ---------------------------------------------------------------------------

    def decide(self, query: str, hits: list[Hit], idf: Callable[[str], float] | None = None) -> Decision:
        """Weak evidence is declined. Signals: the best dense similarity among the top passages, and the
        share of the question's content words (IDF-weighted, synonyms counted) that the top passages contain.
        A question that is nothing but an instruction to the assistant is declined (ingestion.screening)."""
        screened = instruction_only(query)
        if screened:
            return Decision(False, 0.0, 0.0, f"instruction:{screened}")
        if not hits:
            return Decision(False, 0.0, 0.0, "no_hits")
        dense = max(h.dense_score for h in hits[:5])
        coverage = term_coverage(query, hits[:3], idf or (lambda t: 1.0))
        cal = self.calibration
        if dense >= cal.dense_strong:
            return Decision(True, dense, coverage, "dense_strong")
        if dense >= cal.dense_min and dense + cal.coverage_weight * coverage >= cal.combined_min:
            return Decision(True, dense, coverage, "dense_and_coverage")
        return Decision(False, dense, coverage, "weak_evidence")

    # --- answer -----------------------------------------------------------------------------

    def stream(self, query: str, role: Role | None, hits: list[Hit], meta: dict[str, Any] | None = None,
               idf: Callable[[str], float] | None = None) -> Iterator[Event]:
        hits = safe_hits(hits)  # documents are data: planted instructions and markup are never quoted
        decision = self.decide(query, hits, idf)
        yield {"event": "meta", "data": {**(meta or {}), "question": query, "role": role.value if role else None,
                                          "answerer": self.name, "prompt": {"name": self.texts.name,
                                                                            "sha256": self.texts.sha256},
                                          "decision": asdict(decision)}}
        if not decision.answerable:
            yield from self._decline(hits)
            return
        picked = self._select(query, role, hits)
        sources: list[Source] = []
        by_id: dict[str, int] = {}

        def cite(hit: Hit) -> int:
            if hit.id not in by_id:
                by_id[hit.id] = len(sources) + 1
                sources.append(Source.from_hit(by_id[hit.id], hit))
            return by_id[hit.id]

        body = " ".join(f"{c.text} [{cite(hits[c.hit_rank])}]" for c in picked)
        yield from self._deltas(body)
        role_text = self._role_part(query, role, hits, cite, [c.text for c in picked])
        if role_text:
            yield from self._deltas("\n\n" + role_text)
        blocks = self.role_blocks(query, role, hits, sources, cite, said=body + " " + role_text)
        if blocks:
            yield from self._deltas("\n\n" + blocks)
        yield {"event": "sources", "data": [asdict(s) | {"label": s.label()} for s in sources]}
        yield {"event": "followups", "data": self._followups(role, hits)}
        yield {"event": "done", "data": {"answerable": True, "sources": len(sources)}}

    def _decline(self, hits: list[Hit]) -> Iterator[Event]:
        text = self.texts["decline"]
        topics = []
        for h in hits[:6]:
            if h.metadata.get("typ") in ("lernsequenz", "umsetzungshilfe") and h.title not in topics:
                topics.append(h.title)
        if topics:
            text += " " + self.texts["decline_topics"].format(topics=", ".join(f"„{t}“" for t in topics[:3]))
        yield from self._deltas(text)
        yield {"event": "sources", "data": []}
        yield {"event": "followups", "data": [self.texts["followup_related"].format(title=t) for t in topics[:3]]}
        yield {"event": "done", "data": {"answerable": False, "sources": 0}}

    @staticmethod
    def _deltas(text: str) -> Iterator[Event]:
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield {"event": "delta", "data": {"text": piece}}

    def _candidates(self, hits: list[Hit]) -> list[_Cand]:
        """Sentences of the top passages. Role paragraphs go to the role part; quiz answers
        (Verständnisfragen) are used only when nothing else is there, as they lack their question."""
        cands: list[_Cand] = []
        quiz: list[_Cand] = []
        for rank, h in enumerate(hits[:6]):
            path = str(h.metadata.get("heading_path", ""))
            if ROLE_SECTION_PARENT in path:
                continue
            target = quiz if h.metadata.get("section") == QUIZ_SECTION else cands
            for pos, s in enumerate(sentences(h.text)):
                s = clean_sentence(s)
                if len(s) < 30 or s.endswith("?") or s.endswith(":") or s.startswith("#") or "|" in s:
                    continue
                if instruction_reason(s):
                    continue
                target.append(_Cand(s, rank, pos))
        return cands or quiz

    def _select(self, query: str, role: Role | None, hits: list[Hit]) -> list[_Cand]:
        cands = self._candidates(hits)
        if not cands:  # passages made of short lines only: quote the best passage's start
            return [_Cand(clean_sentence(" ".join(hits[0].text.split()))[:400], 0, 0)]
        vecs = self.embedder.embed([query] + [c.text for c in cands])
        qv, svs = vecs[0], vecs[1:]
        terms = query_terms(query)
        top_score = hits[0].score or 1.0
        for c, v in zip(cands, svs):
            c.vec = v
            sterms = {stem(w) for w in content_words(c.text)}
            overlap = len(terms & sterms) / len(terms) if terms else 0.0
            c.score = 0.55 * self.calibration.sim(float(qv @ v)) + 0.30 * overlap + 0.15 * (hits[c.hit_rank].score / top_score)
        chosen: list[_Cand] = []
        per_hit: dict[int, int] = {}
        length = 0
        for c in sorted(cands, key=lambda c: c.score, reverse=True):
            if len(chosen) >= self.max_sentences or length > 650:
                break
            if per_hit.get(c.hit_rank, 0) >= 2 or len({x.hit_rank for x in chosen} | {c.hit_rank}) > self.max_sources:
                continue
            if any(self.calibration.sim(float(c.vec @ x.vec)) > 0.75 or _jaccard(c.text, x.text) > 0.35 for x in chosen):
                continue
            if chosen and c.score < 0.6 * chosen[0].score:
                break
            chosen.append(c)
            per_hit[c.hit_rank] = per_hit.get(c.hit_rank, 0) + 1
            length += len(c.text)
        return sorted(chosen, key=lambda c: (c.hit_rank, c.pos))

    def warm(self, passages: Any, limit: int = 15_000, batch: int = 32, stop: Any = None) -> int:
        """Embed ahead of time the sentences answers are built from, so the embedder's cache holds them and the
        first chats after a start do not pay for them (with E5 about 0.9 s of CPU per cold answer, 0.2 s warm).
        The same candidate rules as ``_candidates`` and ``_role_part``. Returns the number of sentences."""
        texts: dict[str, None] = {}
        for p in passages:
            hit = Hit(p.id, p.text, 0.0, p.metadata)
            if ROLE_SECTION_PARENT in str(p.metadata.get("heading_path", "")):
                for s in [clean_sentence(x) for x in sentences(p.text)]:
                    if len(s) >= 20:
                        texts[s] = None
            else:
                texts.update((c.text, None) for c in self._candidates([hit]))
            if len(texts) >= limit:
                break
        todo = list(texts)[:limit]
        for i in range(0, len(todo), batch):
            if stop is not None and stop.is_set():
                return i
            self.embedder.embed(todo[i:i + batch])
        return len(todo)

    def _role_part(self, query: str, role: Role | None, hits: list[Hit], cite, said: list[str]) -> str:
        if role is None:
            return ""
        head = self.texts["role_part"].format(label=role.label)
        section_hit = self._role_section(role, hits)
        if section_hit is None:
            return f"{head} {self.texts['role_tips'][role.value]}"
        sents = [clean_sentence(s) for s in sentences(section_hit.text)]
        sents = [s for s in sents if len(s) >= 20 and not any(_jaccard(s, x) > 0.35 for x in said)][:4]
        if not sents:
            return f"{head} {self.texts['role_tips'][role.value]}"
        vecs = self.embedder.embed([query] + sents)
        order = np.argsort(-(vecs[1:] @ vecs[0]))[:2]
        picked = " ".join(sents[i] for i in sorted(order))
        return f"{head} {picked} [{cite(section_hit)}]"

    # --- role blocks: what each role needs to act on the answer ---------------------------------

    def role_blocks(self, query: str, role: Role | None, hits: list[Hit], sources: list[Source],
                    cite: Callable[[Hit], int], said: str = "") -> str:
        """Works council: Rechtsgrundlage (norms named in the cited passages) and questions for the
        employer. Consultant: questions for the client and fitting Umsetzungshilfen. Owner: next
        steps and fitting aids. Employee: next steps and units to learn more."""
        if role is None or not hits:
            return ""
        title = next((h.title for h in hits[:5] if h.metadata.get("typ") in ("lernsequenz", "umsetzungshilfe")),
                     hits[0].title)
        parts: list[str] = []
        if role is Role.works_council:
            parts.append(self._legal_block(hits, sources, cite))
            parts.append(self._pool_block("employer_questions", query, title, said=said))
        elif role is Role.consultant:
            parts.append(self._client_questions(query, hits, title, said))
            parts.append(self._aids_block(hits))
        elif role is Role.owner:
            parts.append(self._aids_block(hits))
        elif role is Role.employee:
            units = list(dict.fromkeys(h.title for h in hits[:6] if h.metadata.get("typ") == "lernsequenz"))[:2]
            if units:
                parts.append(self.texts["learn_more"].format(titles=", ".join(f"„{t}“" for t in units)))
        parts.append(f"**{self.texts['next_steps_heading']}:** {self.texts['next_steps'][role.value].format(title=title)}")
        return "\n\n".join(p for p in parts if p)

    def _legal_block(self, hits: list[Hit], sources: list[Source], cite: Callable[[Hit], int]) -> str:
        """Only norms that stand in a cited passage; if the cited ones name none, the best-ranked
        passage that does is cited for them."""
        found: dict[str, int] = {}
        for src in list(sources):
            for norm in find_norms(src.text):
                found.setdefault(norm, src.n)
        if not found:
            for h in hits[:5]:
                norms = find_norms(h.text)
                if norms:
                    n = cite(h)
                    for norm in norms:
                        found.setdefault(norm, n)
                    break
        head = f"**{self.texts['legal_heading']}:**"
        if not found:
            return f"{head} {self.texts['legal_none']}"
        lines = [f"- {norm} [{n}]" for norm, n in list(found.items())[:6]]
        return head + "\n" + "\n".join(lines)

    def _pool_block(self, key: str, query: str, title: str, k: int = 3, given: list[str] | None = None,
                    said: str = "") -> str:
        pool = [q.format(title=title) for q in self.texts[key] if q not in said]
        picked = list(given or [])[:k]
        if len(picked) < k:
            vecs = self.embedder.embed([query] + pool)
            order = np.argsort(-(vecs[1:] @ vecs[0]))
            for i in order:
                if len(picked) >= k:
                    break
                if not any(_jaccard(pool[i], x) > 0.35 for x in picked):
                    picked.append(pool[i])
        heading = self.texts[key + "_heading"]
        return f"**{heading}:**\n" + "\n".join(f"- {q}" for q in picked)

    def _client_questions(self, query: str, hits: list[Hit], title: str, said: str = "") -> str:
        """Questions the course itself suggests for the client (consultant paragraphs), topped up from the pool."""
        wanted = f"{ROLE_SECTION_PARENT} › {Role.consultant.section}"
        own: list[str] = []
        for h in hits[:8]:
            if str(h.metadata.get("heading_path", "")).endswith(wanted):
                text = re.sub(r"^.*?:\s*(?=[A-ZÄÖÜ][^:]*\?)", "", h.text.replace("\n", " "), count=1)
                for q in re.findall(r"[A-ZÄÖÜ][^.!?:]{10,200}\?", text):
                    if q not in own and q not in said:
                        own.append(q)
        return self._pool_block("client_questions", query, title, given=own[:2], said=said)

    def _aids_block(self, hits: list[Hit]) -> str:
        """Umsetzungshilfen among the hits or linked (verwandt) from the top units."""
        titles: list[str] = []
        for h in hits[:8]:
            if h.metadata.get("typ") == "umsetzungshilfe" and h.title not in titles:
                titles.append(h.title)
        related: list[str] = []
        for h in hits[:3]:
            v = h.metadata.get("verwandt") or []
            related += [v] if isinstance(v, str) else list(v)
        related = [r for r in dict.fromkeys(related) if str(r).startswith("hilfe-")]
        if related and self.index is not None and len(titles) < 3:
            for p in self.index.where({"doc_id": {"$in": related}}, limit=len(related) * 4):
                t = str(p.metadata.get("doc_title", ""))
                if t and t not in titles:
                    titles.append(t)
        if not titles:
            return ""
        return f"**{self.texts['aids_heading']}:** " + ", ".join(f"„{t}“" for t in titles[:3])

    def _role_section(self, role: Role, hits: list[Hit]) -> Hit | None:
        """The paragraph for this role of the best-ranked unit that has one (top three units first)."""
        wanted = f"{ROLE_SECTION_PARENT} › {role.section}"
        by_doc = {h.metadata.get("doc_id"): h for h in hits[:8]
                  if str(h.metadata.get("heading_path", "")).endswith(wanted)}
        docs = list(dict.fromkeys(h.metadata.get("doc_id") for h in hits[:3] if h.metadata.get("doc_id")))
        for doc_id in docs:
            if doc_id in by_doc:
                return by_doc[doc_id]
            if self.index is not None:
                found = self.index.where({"$and": [{"doc_id": doc_id}, {"heading_path": wanted}]}, limit=1)
                safe = safe_hits([Hit(p.id, p.text, 0.0, p.metadata) for p in found[:1]])
                if safe:
                    hit = safe[0]
                    hits.append(hit)
                    return hit
        return next(iter(by_doc.values()), None)

    def _followups(self, role: Role | None, hits: list[Hit]) -> list[str]:
        out: list[str] = []
        top = hits[0]
        title = top.title
        section = str(top.metadata.get("section", ""))
        if top.metadata.get("typ") == "lernsequenz" and section != "Maßnahmen für den Betrieb":
            out.append(self.texts["followup_measures"].format(title=title))
        if role is not None and top.metadata.get("typ") in ("lernsequenz", "umsetzungshilfe"):
            out.append(self.texts["followup_role"][role.value].format(title=title))
        related = top.metadata.get("verwandt") or []
        if isinstance(related, str):
            related = [related]
        if related and self.index is not None:
            for p in self.index.where({"doc_id": {"$in": list(related)}}, limit=len(related) * 3):
                t = str(p.metadata.get("doc_title", ""))
                q = self.texts["followup_related"].format(title=t)
                if t and t != title and q not in out:
                    out.append(q)
                    break
        for h in hits[1:]:
            if len(out) >= 3:
                break
            q = self.texts["followup_related"].format(title=h.title)
            if h.title != title and q not in out:
                out.append(q)
        return out[:3]
