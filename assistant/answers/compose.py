"""Composition of an extractive answer from whole blocks of the course.

Order of an answer (each part optional):
1. the short answer: the course's own answer to a "Verständnisfrage" that asks what the user asks;
2. works council: the norm(s) of the units' "Rechtsgrundlagen" that fit the question;
3. the 1-3 blocks that answer the question best, whole (lists and tables as Markdown), each cited;
4. the role part: the paragraph for the asker's role of the most relevant unit, or none;
5. the role's next part: owner the fitting measures, consultant the fitting aids, employee
   units to learn more (titles as links).

Blocks are scored by meaning (E5, query vs. block), the question's words found in the block, the
search rank of the passages holding it, a match of an authored question that points to it, and
what the role needs. A block that refers back ("Trotzdem ...", "Er ist ...") brings the block
before it. Blocks already shown in this conversation are not shown again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingestion.blocks import squash

from ..german import content_words, stem
from ..roles import ROLE_SECTION_PARENT, Role
from ..search.retrieval import Hit
from .blocks import LEGAL_SECTION, QUIZ_SECTION, Block, BlockStore
from .decline import GENERIC_TERMS, Calibration

MAX_MAIN = 3
ASKED_FROM, ASKED_SPAN = 0.86, 0.06  # E5 similarity of the user's to an authored question: related .. same question
MAX_CHARS = 1500
REFERRING = re.compile(  # a paragraph that needs the one before it ("Trotzdem ...", "Er ist ...", "Das gilt ...")
    r"^(Trotzdem|Dennoch|Deshalb|Daher|Darum|Dabei|Dafür|Damit|Außerdem|Zudem|Ebenso|Stattdessen|Umgekehrt|"
    r"Gleichzeitig|Allerdings|Andererseits|Entsprechend|Auch hier|Auch das|Ein weiteres|Weitere|"
    r"Ein zweites|Ein drittes|Eine zweite|Eine dritte|Ein anderes Beispiel)\b|"
    r"^(Das|Dies|Diese|Dieser|Dieses|Es|Er|Sie|Solche)\s+(ist|sind|war|gilt|gelten|heißt|bedeutet|kann|können|muss|"
    r"müssen|zeigt|zeigen|macht|führt|hilft|reicht|betrifft|hat|haben|wird|werden)\b|^Dazu\s+(gehör|zähl|komm)|"
    r"^\S+ Sie (hier|dabei|dazu|daher|deshalb|darauf)\b")
YES_NO = re.compile(
    r"^(darf|dürfen|darfst|muss|müssen|musst|kann|können|kannst|ist|sind|gilt|gelten|brauche|brauchen|braucht|"
    r"soll|sollen|sollte|sollten|lohnt|hat|haben|habe|gibt|gibts|wird|werden|bin|stimmt|reicht|zählt|zählen|"
    r"geht|gehört|fällt|fallen|betrifft|bringt|hilft|macht)\b", re.I)
LEGAL_WORDS = re.compile(r"(darf|dürfen|muss|müssen|recht|pflicht|mitbestimm|gesetz|§|art\.|verordnung|dsgvo|"
                         r"betrvg|erlaubt|verbot|zustimm|einwillig|haft)", re.I)
ROLE_PREFERRED_SECTIONS = {
    Role.owner: {"Maßnahmen für den Betrieb", "Chancen und Gefahren", "Warum ist das Thema wichtig?"},
    Role.employee: {"Worum geht es?", "Chancen und Gefahren"},
    Role.works_council: {LEGAL_SECTION, "Maßnahmen für den Betrieb"},
    Role.consultant: {"Maßnahmen für den Betrieb"},
}
LIST_QUESTION = re.compile(r"^(welche|was (gehört|muss|sollte|soll|brauch|alles)|wie viele|nenn|liste|worauf)|"
                           r"\b(alles|punkte|kriterien|kennzahlen|checkliste|schritte)\b", re.I)
ABOUT_AID = "Wofür ist diese Hilfe?"
EXAMPLE = re.compile(r"^(Ein|Zum) Beispiel\b|^Beispiel:|^Praxisbeispiel", re.I)
SENTENCE_ANSWER = re.compile(r"^(Ja|Nein|Nicht)\b|\b(ist|sind|muss|müssen|darf|dürfen|kann|können|soll|sollte|gilt|"
                             r"gelten|hat|haben|wird|werden|braucht|reicht|bleibt|zählt|liegt|fällt|geht)\b")
_QA = re.compile(r"\*\*Frage:\*\*\s*(.+?)\s*\*\*Antwort:\*\*\s*(.+)", re.S)


@dataclass
class Cand:
    block: Block
    rel: float = 0.0        # best fused score of a hit holding the block, relative to the top hit
    rank: int = 99
    asked: float = 0.0      # dense similarity of an authored question that points to the block
    score: float = 0.0
    vec: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Composition:
    parts: list[tuple[str, list[Block]]]   # (heading or "", blocks) in answer order
    lead: tuple[str, Block] | None = None  # the short answer and the quiz pair it comes from
    links: list[tuple[str, list[str]]] = field(default_factory=list)  # (heading, doc ids)
    note: str = ""                          # e.g. the follow-up's topic is not covered
    repeated: bool = False                  # everything fitting was shown before in this conversation

    @property
    def blocks(self) -> list[Block]:
        out = [self.lead[1]] if self.lead else []
        return out + [b for _, bs in self.parts for b in bs]


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def overlap(query_stems: set[str], text: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's words found in the text."""
    if not query_stems:
        return 0.0
    found = stems(text)
    total = sum(idf(s) for s in query_stems)
    return sum(idf(s) for s in query_stems if s in found) / total if total else 0.0


def is_yes_no(question: str) -> bool:
    return bool(YES_NO.match(question.strip()))


def quiz_pair(block: Block) -> tuple[str, str] | None:
    m = _QA.search(block.text)
    return (squash(m.group(1)), squash(m.group(2))) if m else None


class Composer:
    def __init__(self, embedder, calibration: Calibration) -> None:
        self.embedder = embedder
        self.cal = calibration

    # --- scoring ------------------------------------------------------------------------------

    def _score(self, query: str, qvec: np.ndarray, cands: Sequence[Cand], role: Role | None,
               idf: Callable[[str], float]) -> None:
        if not cands:
            return
        vecs = self.embedder.embed_documents([c.block.index_text for c in cands])
        qs = stems(query) - GENERIC_TERMS
        list_question = bool(LIST_QUESTION.search(query.strip()))
        for c, v in zip(cands, vecs):
            c.vec = v
            b = c.block
            sim = self.cal.sim(float(qvec @ v))
            ov = overlap(qs, f"{b.title} {b.heading_path} {b.text}", idf)
            pref = 0.0
            if role is not None and (b.section in ROLE_PREFERRED_SECTIONS[role] or
                                     (role is Role.consultant and b.meta.get("typ") == "umsetzungshilfe") or
                                     (role is Role.works_council and b.kind == "item")):
                pref = 0.06
            if role is Role.employee and b.section == "Maßnahmen für den Betrieb":
                pref -= 0.06  # written for the management
            if EXAMPLE.match(b.text) or b.section == "Praxisbeispiel":
                pref -= 0.05  # an example supports an answer; it rarely is one
            if b.section == ABOUT_AID:
                pref -= 0.06  # what an aid is for, not what it says
            if list_question and b.kind in ("list", "table"):
                pref += 0.08
            asked = 0.2 * min(1.0, max(0.0, (c.asked - ASKED_FROM) / ASKED_SPAN))  # an authored question asked it
            c.score = 0.45 * sim + 0.30 * ov + 0.25 * c.rel + pref + asked

    def _asked(self, store: BlockStore, qvec: np.ndarray, pool: Sequence[Cand]) -> None:
        """How close the user's question comes to an authored question pointing to each block (E5, query to
        query: the symmetric form compares two questions better than query to passage)."""
        by_key = {c.block.key: c for c in pool}
        asked = [(q.text, by_key[q.block_key]) for d in dict.fromkeys(c.block.doc_id for c in pool)
                 for q in store.questions.get(d, []) if q.block_key in by_key]
        if not asked:
            return
        sims = self.embedder.embed_queries([t for t, _ in asked]) @ qvec
        for (_t, c), s in zip(asked, sims):
            c.asked = max(c.asked, float(s))

    # --- the answer -------------------------------------------------------------------------------

    def compose(self, store: BlockStore, query: str, role: Role | None, hits: Sequence[Hit],
                idf: Callable[[str], float], shown: Sequence[str] = (), focus: Sequence[str] = ()) -> Composition:
        said = [squash(t) for t in shown if t]

        def seen(b: Block) -> bool:
            probe = squash(store.render(b))[:120]
            return any(probe and probe in s for s in said)

        top = hits[0].score or 1.0
        cands: dict[str, Cand] = {}
        for rank, h in enumerate(hits[:8]):
            for b in store.of_passage(h.id):
                for sib in store.section(b.doc_id, b.heading_path):  # the section's other blocks share its topic
                    c = cands.setdefault(sib.key, Cand(sib))
                    c.rel = max(c.rel, 0.8 * h.score / top)
                c = cands.setdefault(b.key, Cand(b))
                c.rel = max(c.rel, h.score / top)
                c.rank = min(c.rank, rank)
        lead_docs = list(dict.fromkeys(str(h.metadata.get("doc_id")) for h in hits[:3] if h.metadata.get("doc_id")))
        for d in lead_docs[:2]:  # the whole of the two best units: the answering block may lie beside the hit
            for path in store.sections_of(d):
                for b in store.section(d, path):
                    cands.setdefault(b.key, Cand(b, rel=0.3))
        pool = [c for c in cands.values() if c.block.quotable and c.block.role_section is None]
        fresh = [c for c in pool if not seen(c.block)]
        repeated = bool(pool) and not fresh
        pool = sorted(fresh, key=lambda c: (-c.rel, c.rank, c.block.key))[:24]
        qvec = self.embedder.embed_query(query)
        self._asked(store, qvec, pool)
        self._score(query, qvec, pool, role, idf)
        pool.sort(key=lambda c: (-c.score, c.block.key))
        main = self._pick_main(store, pool, 1 if focus else MAX_MAIN)
        top_docs = list(dict.fromkeys([b.doc_id for b in main] + [h.metadata.get("doc_id") for h in hits[:4]
                                                                   if h.metadata.get("doc_id")]))[:4]
        best = pool[0].score if pool else 0.0
        comp = Composition([], repeated=repeated)
        comp.lead = self._lead(store, query, qvec, top_docs[:3], seen)
        if comp.lead and main and squash(main[0].text) == squash(comp.lead[1].text):
            main = main[1:]
        if role is Role.works_council and not any(b.kind == "item" for b in main):
            norms = self._norms(store, query, qvec, top_docs[:3], role, idf, best, seen)
            if norms and LEGAL_WORDS.search(query):
                comp.parts.append(("legal", norms))
                norms = []
        else:
            norms = []
        if main:
            comp.parts.append(("", main))
        if norms:
            comp.parts.append(("legal", norms))
        if role is not None:
            part = self._role_part(store, query, qvec, role, top_docs[:3], idf, best, seen)
            if part and role in (Role.employee, Role.consultant) and comp.parts and self._fits(part, query, qvec, role,
                                                                                                idf, best):
                comp.parts.insert(0 if not comp.parts or comp.parts[0][0] != "legal" else 1, ("role", [part]))
            elif part:
                comp.parts.append(("role", [part]))
            self._role_next(store, comp, query, qvec, role, top_docs, idf, seen)
        never = idf("\x00")  # log(1 + n / 0.5): the weight of a word no passage contains
        passages = 0.5 * (math.exp(never) - 1)
        rare = math.log(1 + passages / 20)  # used by at most ~20 passages: a topic of its own, not everyday
        missing = [w for w in focus if stem(w.lower()) not in stems(" ".join(b.text for b in comp.blocks))
                   and idf(stem(w.lower())) >= rare]
        if missing:
            comp.note = ", ".join(f"„{w}“" for w in missing[:2])
        return comp

    def _pick_main(self, store: BlockStore, pool: Sequence[Cand], most: int = MAX_MAIN) -> list[Block]:
        chosen: list[Block] = []
        length = 0
        if not pool:
            return chosen
        best = pool[0].score
        for c in pool:
            b = c.block
            if len(chosen) >= most or (chosen and (c.score < 0.8 * best or length + len(b.text) > MAX_CHARS)):
                break
            if any(b.key == x.key for x in chosen):
                continue
            if any(_jaccard(b.text, x.text) > 0.45 for x in chosen):
                continue
            if len({x.doc_id for x in chosen} | {b.doc_id}) > 2:
                continue
            group = [b]
            if b.kind == "paragraph" and REFERRING.match(b.text):
                prev = store.previous(b)
                if prev is None or not prev.quotable:
                    continue  # it cannot stand alone, and nothing before it can carry it
                if all(prev.key != x.key for x in chosen):
                    group = [prev, b]
            chosen.extend(group)
            length += sum(len(x.text) for x in group)
        # reading order within a unit: the course's order, units by their best block
        first = {d: i for i, d in reversed(list(enumerate(x.doc_id for x in chosen)))}
        return sorted(chosen, key=lambda x: (first[x.doc_id], store.sections_of(x.doc_id).index(x.heading_path)
                                             if x.heading_path in store.sections_of(x.doc_id) else 0, x.position))

    def _lead(self, store: BlockStore, query: str, qvec: np.ndarray, docs: Sequence[str], seen) -> tuple[str, Block] | None:
        """The course's own short answer: a "Verständnisfrage" that asks what the user asks."""
        pairs: list[tuple[str, str, Block]] = []
        for d in docs:
            for b in store.section(d, QUIZ_SECTION):
                qa = quiz_pair(b)
                if qa and not seen(b):
                    pairs.append((qa[0], qa[1], b))
        if not pairs:
            return None
        vecs = self.embedder.embed_queries([q for q, _, _ in pairs])
        sims = vecs @ qvec
        i = int(np.argmax(sims))
        need = 0.92 if is_yes_no(query) else 0.95
        if float(sims[i]) < need or not SENTENCE_ANSWER.search(pairs[i][1]):
            return None  # a noun phrase alone ("Technik, Strategie und ...") does not read as an answer
        return pairs[i][1], pairs[i][2]

    def _scored_blocks(self, query: str, qvec: np.ndarray, blocks: list[Block], role: Role | None,
                       idf) -> list[Cand]:
        cands = [Cand(b, rel=0.5) for b in blocks]
        self._score(query, qvec, cands, role, idf)
        return sorted(cands, key=lambda c: (-c.score, c.block.key))

    def _norms(self, store, query, qvec, docs, role, idf, best, seen) -> list[Block]:
        items = [b for d in docs for b in store.section(d, LEGAL_SECTION) if b.kind == "item" and not seen(b)]
        ranked = self._scored_blocks(query, qvec, items, role, idf)
        if not ranked:
            return []
        top = ranked[0].score
        return [c.block for c in ranked[:3] if c.score >= 0.8 * top and c.score >= 0.55 * best]

    def _fits(self, block: Block, query, qvec, role, idf, best) -> bool:
        """The role's paragraph answers the question well enough to lead (employees: what changes for me;
        consultants: what to ask)."""
        ranked = self._scored_blocks(query, qvec, [block], role, idf)
        return bool(ranked) and ranked[0].score >= 0.75 * best

    def _role_part(self, store, query, qvec, role: Role, docs, idf, best, seen) -> Block | None:
        """The paragraph for the role of the most relevant unit among the top units (and the Lernsequenzen an aid
        at the top links to: aids have no role paragraphs), or none when none fits the question."""
        path = f"{ROLE_SECTION_PARENT} › {role.section}"
        units = list(dict.fromkeys(list(docs) + [r for r in store.related(docs[0]) if store.typ(r) == "lernsequenz"]
                                   if docs else []))[:5]
        blocks = [b for d in units for b in store.section(d, path) if b.quotable and not seen(b)]
        ranked = self._scored_blocks(query, qvec, blocks, role, idf)
        if not ranked or ranked[0].score < 0.45 * best:
            return None
        return ranked[0].block

    def _role_next(self, store: BlockStore, comp: Composition, query, qvec, role: Role, docs, idf, seen) -> None:
        lessons = [d for d in docs if store.typ(d) == "lernsequenz"]
        shown_docs = {b.doc_id for b in comp.blocks}
        own = [d for d in lessons if (store.docs.get(d) or {}).get("baustein") != "betriebsrat"]
        if role is Role.owner and own:
            measures = [b for b in store.section(own[0], "Maßnahmen für den Betrieb")
                        if b.quotable and not seen(b) and all(b.key != x.key for x in comp.blocks)]
            if measures:
                comp.parts.append(("first_steps", [self._fitting_items(measures[0], query, idf)]))
        if role in (Role.owner, Role.consultant):
            aids = [d for d in docs if store.typ(d) == "umsetzungshilfe"]
            for d in docs:
                aids += [r for r in store.related(d) if store.typ(r) == "umsetzungshilfe"]
            aids = list(dict.fromkeys(aids))[:3]  # an aid quoted above is linked too: it is what to bring
            if aids:
                comp.links.append(("aids", aids))
        if role in (Role.employee, Role.works_council):
            learn = [d for d in lessons if d not in shown_docs][:1] + [r for d in docs[:1] for r in store.related(d)
                                                                      if store.typ(r) == "lernsequenz"]
            learn = list(dict.fromkeys(learn))[:2]
            if learn:
                comp.links.append(("learn", learn))


    @staticmethod
    def _fitting_items(block: Block, query: str, idf, most: int = 3) -> Block:
        """The items of a list that fit the question best (in the course's order); the list itself if short."""
        items = [it for it in re.split(r"\n(?=\s*(?:[-*]|\d{1,2}[.)])\s)", block.text) if it.strip()]
        if len(items) <= most + 1:
            return block
        qs = stems(query) - GENERIC_TERMS
        ranked = sorted(range(len(items)), key=lambda i: (-overlap(qs, items[i], idf), i))[:most]
        text = "\n".join(items[i].strip() for i in sorted(ranked))
        return Block(block.key + "|items", block.doc_id, block.title, block.heading_path, "list", text,
                     block.position, block.passage_ids, block.meta)


def _jaccard(a: str, b: str) -> float:
    sa, sb = stems(a), stems(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0
