"""A section's Markdown cut into blocks: the units an answer quotes whole.

A block is a paragraph, a whole list (with the sentence that introduces it, when that ends
with a colon), a table (likewise), a quoted note, or one question-answer pair of the
"Verständnisfragen". Pure text functions: the chunker uses them to find the block an
authored question points to, the answer composer to quote blocks whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LIST = re.compile(r"^\s*(?:[-*•+]\s+|\d{1,2}[.)]\s+)")
_TABLE = re.compile(r"^\s*\|")
_NOTE = re.compile(r"^\s*>")
_QA_Q = re.compile(r"^\s*\*\*Frage:\*\*")
_QA_A = re.compile(r"^\s*\*\*Antwort:\*\*")
_HEADING = re.compile(r"^\s*#{1,6}\s")


@dataclass(frozen=True)
class TextBlock:
    kind: str  # paragraph | list | table | note | qa
    text: str


def _kind(lines: list[str]) -> str:
    first = lines[0]
    if _TABLE.match(first):
        return "table"
    if _LIST.match(first):
        return "list"
    if _NOTE.match(first):
        return "note"
    if _QA_Q.match(first) or _QA_A.match(first):
        return "qa"
    return "paragraph"


def _raw_groups(text: str) -> list[list[str]]:
    """Runs of non-blank lines; a line of another kind (a list after its intro line) starts a new run."""
    groups: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _HEADING.match(line):
            if current:
                groups.append(current)
            current = []
            continue
        if current:
            was, now = _kind(current), _kind([line])
            continuation = now == "paragraph" and was in ("list", "qa")  # a wrapped item, the answer's next line
            new_pair = was == "qa" and _QA_Q.match(line) is not None
            if new_pair or (was != now and not continuation):
                groups.append(current)
                current = []
        current.append(line.rstrip())
    if current:
        groups.append(current)
    return groups


def split_blocks(text: str) -> list[TextBlock]:
    """The section text as blocks, in order. Loose lists (items separated by blank lines) are one
    block; a paragraph ending with ':' is joined to the list or table it introduces; a question
    and its answer are one block."""
    blocks: list[TextBlock] = []
    for lines in _raw_groups(text):
        kind = _kind(lines)
        body = "\n".join(lines).strip()
        if not body:
            continue
        prev = blocks[-1] if blocks else None
        if prev and kind == "list" and prev.kind == "list":
            blocks[-1] = TextBlock("list", prev.text + "\n" + body)
        elif prev and kind in ("list", "table") and prev.kind == "paragraph" and prev.text.rstrip().endswith(":"):
            blocks[-1] = TextBlock(kind, prev.text + "\n\n" + body)
        elif prev and kind == "qa" and prev.kind == "qa" and _QA_A.match(lines[0]) and "**Antwort:**" not in prev.text:
            blocks[-1] = TextBlock("qa", prev.text + "\n" + body)
        else:
            blocks.append(TextBlock(kind, body))
    return blocks


def squash(text: str) -> str:
    """Whitespace collapsed: how a `beleg` is compared with a block."""
    return " ".join(text.split())


def block_with(text: str, beleg: str) -> TextBlock | None:
    """The block of ``text`` that contains ``beleg`` (whitespace collapsed), or None."""
    want = squash(beleg)
    for b in split_blocks(text):
        if want and want in squash(b.text):
            return b
    return None
