"""The extractive answerer (no LLM): answers from whole blocks of the course.

Path: decide (answer or decline, ``decline.py``) -> compose (``compose.py``: short answer, the
blocks that answer, the role part, the role's next part) -> Markdown text with a citation [n] per
block -> sources -> follow-up suggestions (the course's authored questions of the units around the
answer). Blocks come from the ``BlockStore`` (``blocks.py``), derived from the indexed passages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ingestion.blocks import squash
from ingestion.screening import safe_hits

from ..german import content_words, stem
from ..roles import ROLE_SECTION_PARENT, Role
from ..search.embeddings import Embedder
from ..search.retrieval import Hit
from .blocks import QUIZ_SECTION, Block, BlockStore
from .compose import Composer, Composition, stems
from .decline import (  # noqa: F401  (re-exported: evals and tests read them here)
    CALIBRATIONS, COVERAGE_WEIGHT, GENERIC_TERMS, Calibration, Decision, calibration_for, decide, query_terms,
    term_coverage)
from .prompts import TextSet

Event = dict[str, Any]
NEAR_MARGIN = 0.01  # a declined question names units whose passages come this close to the answer threshold
NEAR_SCORE = 0.5    # ... and only when the decline rule's score came within this distance of its threshold


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


    @classmethod
    def from_block(cls, n: int, block: Block) -> Source:
        m = block.meta
        return cls(n, block.passage_ids[0], block.title, block.heading_path, m.get("page"), str(m.get("source", "")),
                   block.text, block.doc_id, m.get("baustein"), m.get("typ"),
                   str(m["stand"])[:10] if m.get("stand") else None)


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


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder: Embedder, texts: TextSet, index=None, max_sentences: int = 4,
                 max_sources: int = 4) -> None:
        self.embedder = embedder
        self.calibration = calibration_for(getattr(embedder, "name", ""))
        self.texts = texts
        self.index = index  # PassageIndex: the blocks are derived from it
        self.max_sources = max_sources
        self.composer = Composer(embedder, self.calibration)
        self._store = BlockStore()
        self._checked = 0.0

    def store(self, hits: Sequence[Hit] = ()) -> BlockStore:
        """The block store, rebuilt when the collection changed (checked at most every 2 s). Without an
        index (unit tests of the answerer alone) the blocks are built from the hits themselves."""
        if self.index is None:
            store = BlockStore()
            store._build([_Passage(h.id, h.text, h.metadata) for h in hits])
            return store
        now = time.monotonic()
        if self._store.fingerprint is None or now - self._checked > 2.0:
            self._checked = now
            self._store.refresh(self.index, self.index.fingerprint())
        return self._store

    # --- decision ---------------------------------------------------------------------------

    def decide(self, query: str, hits: list[Hit], idf: Callable[[str], float] | None = None,
               lexical_query: str | None = None) -> Decision:
        return decide(self.calibration, query, hits, idf, lexical_query)

    # --- answer -----------------------------------------------------------------------------

    def compose(self, query: str, role: Role | None, hits: list[Hit], idf: Callable[[str], float] | None = None,
                shown: Sequence[str] = (), focus: Sequence[str] = ()) -> tuple[BlockStore, Composition]:
        store = self.store(hits)
        comp = self.composer.compose(store, query, role, hits, idf or (lambda t: 1.0), shown, focus)
        return store, comp

    def stream(self, query: str, role: Role | None, hits: list[Hit], meta: dict[str, Any] | None = None,
               idf: Callable[[str], float] | None = None, history: Sequence[tuple[str, str]] | None = None,
               focus: Sequence[str] = ()) -> Iterator[Event]:
        hits = safe_hits(hits)  # documents are data: planted instructions and markup are never quoted
        decision = self.decide(query, hits, idf, (meta or {}).get("lexical_query"))
        yield {"event": "meta", "data": {**(meta or {}), "question": query, "role": role.value if role else None,
                                          "answerer": self.name, "prompt": {"name": self.texts.name,
                                                                            "sha256": self.texts.sha256},
                                          "decision": asdict(decision)}}
        if not decision.answerable:
            yield from self._decline(hits, decision)
            return
        shown = [a for _q, a in history or []]
        store, comp = self.compose(query, role, hits, idf, shown, focus)
        text, sources = self.render(store, comp, role)
        yield from self._deltas(text)
        yield {"event": "sources", "data": [asdict(s) | {"label": s.label()} for s in sources]}
        yield {"event": "followups", "data": self.followups(query, role, hits, comp, store, history)}
        yield {"event": "done", "data": {"answerable": True, "sources": len(sources)}}

    def render(self, store: BlockStore, comp: Composition, role: Role | None) -> tuple[str, list[Source]]:
        """The composition as Markdown with one citation [n] per block; sources numbered in order."""
        sources: list[Source] = []
        by_section: dict[tuple[str, str], int] = {}

        def cite(b: Block) -> int:
            key = (b.doc_id, b.heading_path)
            if key not in by_section:
                by_section[key] = len(sources) + 1
                sources.append(Source.from_block(by_section[key], b))
            else:  # a second block of the same section: the source shows both
                src = sources[by_section[key] - 1]
                if b.text not in src.text:
                    src.text += "\n\n" + b.text
            return by_section[key]

        out: list[str] = []
        if comp.repeated and not comp.parts:
            out.append(self.texts["repeated"])
        if comp.note:
            out.append(self.texts["not_covered"].format(terms=comp.note))
        if comp.lead:
            answer, block = comp.lead
            out.append(f"**{self.texts['short_answer']}:** {answer} [{cite(block)}]")
        for kind, blocks in comp.parts:
            body = "\n\n".join(_cited(store, b, cite(b), labelled=kind in ("", "role")) for b in blocks)
            if kind == "":
                out.append(body)
            elif kind == "role" and role is not None:
                out.append(f"**{self.texts['role_part'].format(label=role.label)}:** {body}"
                           if blocks[0].kind == "paragraph" else
                           f"**{self.texts['role_part'].format(label=role.label)}:**\n\n{body}")
            else:
                out.append(f"**{self.texts[kind + '_heading']}:**\n\n{body}")
        for kind, docs in comp.links:
            out.append(f"**{self.texts[kind + '_heading']}:** " + ", ".join(store.link(d) for d in docs))
        return "\n\n".join(out), sources

    def _decline(self, hits: list[Hit], decision: Decision | None = None) -> Iterator[Event]:
        """The decline names up to three units whose passages came close to the question, or none: none for an
        instruction, none when the evidence was far below the threshold (an egg is near no unit)."""
        text = self.texts["decline"]
        store = self.store(hits)
        near = self.calibration.dense_min - NEAR_MARGIN
        far = decision is not None and (decision.reason.startswith(("instruction", "small_talk")) or (
            decision.score is not None and self.calibration.logit is not None
            and decision.score < self.calibration.logit[4] - NEAR_SCORE))
        docs: list[str] = []
        for h in [] if far else hits[:8]:
            d = h.metadata.get("doc_id")
            if d and h.dense_score >= near and h.lexical_score > 0 and d not in docs \
                    and h.metadata.get("typ") in ("lernsequenz", "umsetzungshilfe"):
                docs.append(str(d))
        if docs:
            text += " " + self.texts["decline_topics"].format(topics=", ".join(store.link(d) for d in docs[:3]))
        yield from self._deltas(text)
        yield {"event": "sources", "data": []}
        questions = [q.text for d in docs[:3] for q in store.questions.get(d, [])[:1]]
        yield {"event": "followups", "data": questions}
        yield {"event": "done", "data": {"answerable": False, "sources": 0}}

    @staticmethod
    def _deltas(text: str) -> Iterator[Event]:
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield {"event": "delta", "data": {"text": piece}}

    # --- follow-up suggestions: real questions of the units around the answer ---------------------

    def followups(self, query: str, role: Role | None, hits: list[Hit], comp: Composition | None = None,
                  store: BlockStore | None = None, history: Sequence[tuple[str, str]] | None = None) -> list[str]:
        store = store or self.store(hits)
        blocks = comp.blocks if comp else []
        docs = list(dict.fromkeys([b.doc_id for b in blocks] + [str(h.metadata.get("doc_id")) for h in hits[:4]
                                                               if h.metadata.get("doc_id")]))
        if docs:
            docs += [r for r in store.related(docs[0]) if r not in docs]
        asked = [query] + [q for q, _a in history or []]
        answered = {b.key for b in blocks}
        out: list[str] = []
        per_doc: dict[str, int] = {}
        for want_role in (True, False):
            for d in docs:
                for q in store.questions.get(d, []):
                    if len(out) >= 3:
                        return out
                    if q.text in out or q.block_key in answered or per_doc.get(d, 0) >= 2:
                        continue
                    if want_role and role is not None and role.value not in q.roles:
                        continue
                    if any(_jaccard(q.text, a) > 0.3 for a in asked):
                        continue
                    out.append(q.text)
                    per_doc[d] = per_doc.get(d, 0) + 1
        return out

    # --- used by the LLM answerer ----------------------------------------------------------------

    def _followups(self, role: Role | None, hits: list[Hit]) -> list[str]:
        return self.followups("", role, hits)

    def _role_section(self, role: Role, hits: list[Hit]) -> Hit | None:
        """The paragraph for this role of the best-ranked unit that has one (top three units first)."""
        store = self.store(hits)
        path = f"{ROLE_SECTION_PARENT} › {role.section}"
        for d in dict.fromkeys(str(h.metadata.get("doc_id")) for h in hits[:3] if h.metadata.get("doc_id")):
            for b in store.section(d, path):
                return Hit(b.passage_ids[0], b.text, 0.0, {**b.meta, "heading_path": b.heading_path,
                                                            "section": b.section})
        return None

    def warm(self, passages: Any = None, limit: int = 15_000, batch: int = 32, stop: Any = None) -> int:
        """Embed ahead of time the blocks, quiz and authored questions answers are built from, so the embedder's cache
        holds them and the first chats after a start do not pay for them. Returns the number embedded."""
        store = self.store()
        docs = [b.index_text for b in store.blocks.values() if b.quotable or b.role_section][:limit]
        quiz = [p[0] for b in store.blocks.values() if b.section == QUIZ_SECTION
                for p in [_quiz(b)] if p]
        quiz = list(dict.fromkeys(quiz + [q.text for qs in store.questions.values() for q in qs]))[:limit]
        done = 0
        for texts, embed in ((docs, self.embedder.embed_documents), (quiz, self.embedder.embed_queries)):
            for i in range(0, len(texts), batch):
                if stop is not None and stop.is_set():
                    return done
                embed(texts[i:i + batch])
                done += len(texts[i:i + batch])
        return done


@dataclass
class _Passage:
    id: str
    text: str
    metadata: dict[str, Any]


def _quiz(b: Block) -> tuple[str, str] | None:
    from .compose import quiz_pair
    return quiz_pair(b)


_BARE = re.compile(r"^\s*(\||[-*]\s|\d{1,2}[.)]\s)")


def _cited(store: BlockStore, block: Block, n: int, labelled: bool = True) -> str:
    """The block with its citation. A list or table that starts without its own introducing sentence gets the
    heading of its section as a label, cited there (a citation after a table would stand alone)."""
    text = store.render(block)
    if _BARE.match(text):
        if labelled and block.section:
            return f"**{block.section}** [{n}]\n\n{text}"
        if text.lstrip().startswith("|"):
            return f"{text}\n\n[{n}]"
    elif "\n|" in text:  # a table with its intro: the citation ends the intro
        intro, _, rest = text.partition("\n")
        return f"{intro} [{n}]\n{rest}"
    return f"{text} [{n}]"


def _jaccard(a: str, b: str) -> float:
    sa, sb = stems(a), stems(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


NOUN_ENDINGS = re.compile(r"(ung|heit|keit|schaft|ion|tät|ler|ling|is|nen|innen|er|ern|ment|ur|ik)$", re.I)


def focus_words(question: str, standalone: str) -> list[str]:
    """The follow-up's own topic: nouns it adds to the conversation ("Und gilt das auch für Azubis?" -> ["Azubis"]).
    Candidates are words of 5+ letters written with a capital or with a noun ending; the composer says plainly
    that the course does not cover one only when the collection uses it rarely or never (compose.py)."""
    words = [w for w in re.findall(r"[A-Za-zÄÖÜäöüß-]{5,}", question)
             if w.lower() in {x.lower() for x in content_words(question)} and (w[0].isupper() or NOUN_ENDINGS.search(w))]
    return [w for w in dict.fromkeys(words) if stem(w.lower()) not in GENERIC_TERMS][:3]
