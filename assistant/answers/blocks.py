"""The course as blocks: what an answer quotes whole (a paragraph, a list, a table, one norm of a
"Rechtsgrundlagen" list, a question-answer pair), rebuilt from the passages in the index.

Passages are cut by size with overlap; blocks are cut by meaning. The store puts each section's
passages back together (overlap removed), splits the text with ``ingestion.blocks.split_blocks``
and remembers which passages hold which block, so a search hit leads to whole blocks. It is
derived from the collection and rebuilt when the collection's fingerprint changes.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ingestion.blocks import TextBlock, split_blocks, squash

from ..roles import ROLE_SECTION_PARENT

QUESTION_KIND = "frage"
LEGAL_SECTION = "Rechtsgrundlagen"
QUIZ_SECTION = "Verständnisfragen"
NAVIGATION = re.compile(r"^(So geht es weiter|Weiterführend|Weiterlesen|Quellen|Siehe auch|Verwandte Einheiten)\b", re.I)
DISCLAIMER = re.compile(r"keine Rechtsberatung|dient der Orientierung", re.I)
_UNIT_REF = re.compile(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`")
_CHECKBOX = re.compile(r"^(\s*[-*]\s+)\[[ xX]\]\s*", re.M)


@dataclass
class Block:
    key: str
    doc_id: str
    title: str
    heading_path: str
    kind: str          # paragraph | list | table | note | qa | item (one norm of a Rechtsgrundlagen list)
    text: str          # Markdown as in the course
    position: int      # order within the section
    passage_ids: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str:
        return self.heading_path.split(" › ")[-1] if self.heading_path else ""

    @property
    def index_text(self) -> str:
        """What the composer embeds: title and heading path give the block its context (as for passages)."""
        return f"{self.title} › {self.heading_path}\n{self.text}" if self.heading_path else f"{self.title}\n{self.text}"

    @property
    def role_section(self) -> str | None:
        """'Betriebsrat' for the paragraph under 'Was das für Sie heißt › Betriebsrat', else None."""
        if self.heading_path.startswith(ROLE_SECTION_PARENT + " › "):
            return self.section
        return None

    @property
    def quotable(self) -> bool:
        """Never quoted: disclaimers, navigation, quiz pairs (used only as the short answer), bare headings."""
        if self.kind == "note" and DISCLAIMER.search(self.text):
            return False
        if NAVIGATION.match(self.section) or NAVIGATION.match(self.text):
            return False
        if self.section == QUIZ_SECTION:
            return False
        return len(self.text) >= 40 or self.kind in ("list", "table", "item")


@dataclass(frozen=True)
class AuthoredQuestion:
    text: str
    roles: tuple[str, ...]
    doc_id: str
    block_key: str | None


def _strip_overlap(prev: str, nxt: str, min_len: int = 12) -> str | None:
    for k in range(min(len(prev), len(nxt), 600), min_len - 1, -1):
        if prev.endswith(nxt[:k]):
            return nxt[k:]
    return None


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


class BlockStore:
    """Blocks of every indexed document, keyed by passage; rebuilt when the collection changes."""

    def __init__(self) -> None:
        self.fingerprint: str | None = None
        self.blocks: dict[str, Block] = {}
        self.by_passage: dict[str, list[str]] = {}
        self.by_section: dict[tuple[str, str], list[str]] = {}
        self.questions: dict[str, list[AuthoredQuestion]] = {}
        self.docs: dict[str, dict[str, Any]] = {}   # doc_id -> front matter of one passage
        self._lock = threading.Lock()

    def refresh(self, index: Any, fingerprint: str) -> BlockStore:
        if fingerprint == self.fingerprint:
            return self
        with self._lock:
            if fingerprint != self.fingerprint:
                self._build(index.all_passages())
                self.fingerprint = fingerprint
        return self

    # --- building ---------------------------------------------------------------------------

    def _build(self, passages: list[Any]) -> None:
        blocks: dict[str, Block] = {}
        by_passage: dict[str, list[str]] = defaultdict(list)
        by_section: dict[tuple[str, str], list[str]] = {}
        docs: dict[str, dict[str, Any]] = {}
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        asked: list[Any] = []
        for p in passages:
            m = p.metadata or {}
            if m.get("kind") == QUESTION_KIND:
                asked.append(p)
                continue
            groups[(str(m.get("source", "")), str(m.get("heading_path", "")))].append(p)
        for (source, path), ps in sorted(groups.items()):
            ps.sort(key=lambda p: _int(p.metadata.get("chunk_index")))
            meta = ps[0].metadata
            doc_id = str(meta.get("doc_id") or source)
            docs.setdefault(doc_id, meta)
            text = ""
            for p in ps:
                piece = p.text.strip()
                rest = _strip_overlap(text, piece) if text else None
                text = text + rest if rest is not None else (text + "\n\n" + piece if text else piece)
            keys: list[str] = []
            for i, tb in enumerate(self._split(text, path)):
                key = f"{doc_id}|{path}|{i}"
                flat = squash(tb.text)
                head, tail = flat[:80], flat[-60:]
                ids = [p.id for p in ps if head in squash(p.text) or squash(p.text)[:80] in flat
                       or tail in squash(p.text)]
                blocks[key] = Block(key, doc_id, str(meta.get("doc_title") or doc_id), path, tb.kind,
                                    tb.text, i, ids or [ps[0].id], meta)
                keys.append(key)
                for pid in ids:
                    by_passage[pid].append(key)
            by_section[(doc_id, path)] = keys
        questions: dict[str, list[AuthoredQuestion]] = defaultdict(list)
        for p in asked:
            m = p.metadata
            doc_id = str(m.get("doc_id") or m.get("source", ""))
            flat = squash(p.text)
            target = next((k for k in by_section.get((doc_id, str(m.get("heading_path", ""))), [])
                           if flat and (flat in squash(blocks[k].text) or squash(blocks[k].text) in flat)), None)
            if target:
                by_passage[p.id] = [target]
            roles = m.get("frage_rollen") or []
            questions[doc_id].append(AuthoredQuestion(str(m.get("frage", "")),
                                                      tuple([roles] if isinstance(roles, str) else roles),
                                                      doc_id, target))
        self.blocks, self.by_passage, self.by_section = blocks, dict(by_passage), by_section
        self.questions, self.docs = dict(questions), docs

    @staticmethod
    def _split(text: str, path: str) -> list[TextBlock]:
        out: list[TextBlock] = []
        for tb in split_blocks(text):
            if tb.kind == "list" and path.split(" › ")[-1] == LEGAL_SECTION:
                # one norm per block: "- **§ 87 Abs. 1 Nr. 6 BetrVG:** ..." items are answers of their own
                items = re.split(r"\n(?=\s*[-*]\s)", tb.text)
                out.extend(TextBlock("item", it.strip()) for it in items if it.strip())
            else:
                out.append(tb)
        return out

    # --- reading ----------------------------------------------------------------------------

    def of_passage(self, passage_id: str) -> list[Block]:
        return [self.blocks[k] for k in self.by_passage.get(passage_id, []) if k in self.blocks]

    def section(self, doc_id: str, heading_path: str) -> list[Block]:
        return [self.blocks[k] for k in self.by_section.get((doc_id, heading_path), [])]

    def sections_of(self, doc_id: str) -> list[str]:
        return [path for (d, path) in self.by_section if d == doc_id]

    def previous(self, block: Block) -> Block | None:
        keys = self.by_section.get((block.doc_id, block.heading_path), [])
        return self.blocks[keys[block.position - 1]] if 0 < block.position <= len(keys) else None

    def title(self, doc_id: str) -> str:
        meta = self.docs.get(doc_id) or {}
        return str(meta.get("doc_title") or doc_id)

    def typ(self, doc_id: str) -> str:
        return str((self.docs.get(doc_id) or {}).get("typ") or "")

    def related(self, doc_id: str) -> list[str]:
        v = (self.docs.get(doc_id) or {}).get("verwandt") or []
        return [str(x) for x in ([v] if isinstance(v, str) else v) if str(x) in self.docs]

    # --- rendering ----------------------------------------------------------------------------

    def link(self, doc_id: str) -> str:
        """A reference to a unit: its title, linked to the unit's page (never the bare id)."""
        return f"[{self.title(doc_id)}](/kurs/{doc_id})"

    def render(self, block: Block) -> str:
        """The block as it appears in an answer: Markdown, unit ids replaced by linked titles,
        checkboxes as plain list items."""
        text = _CHECKBOX.sub(r"\1", block.text)

        def ref(m: re.Match[str]) -> str:
            return self.link(m.group(1)) if m.group(1) in self.docs else m.group(0)

        return _UNIT_REF.sub(ref, text)
