"""Text normalisation for real-world extracts (PDF text, copied web pages)."""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij",
}
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# "Anwen-\ndungen": a hyphen at a line end followed by a lower-case letter joins the word.
# "KI-\nKompetenz" (capital letter follows) keeps its hyphen; "Arbeits- und" stays as it is.
_BROKEN_WORD = re.compile(r"(\w)-[ \t]*\n[ \t]*\n?[ \t]*([a-zäöüß])")
_KEEP_HYPHEN = re.compile(r"(\w)-[ \t]*\n[ \t]*\n?[ \t]*(?=[A-ZÄÖÜ0-9])")


def normalize_text(text: str) -> str:
    """Normalise unicode, ligatures, soft hyphens, whitespace and line-break hyphenation."""
    text = unicodedata.normalize("NFC", text)
    for lig, rep in _LIGATURES.items():
        text = text.replace(lig, rep)
    text = text.translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _SPACES.sub(" ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = _BROKEN_WORD.sub(r"\1\2", text)
    text = _KEEP_HYPHEN.sub(r"\1-", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_TERMINAL = re.compile(r"[.!?:;\"“”»)]$")


def reflow_paragraphs(text: str) -> list[str]:
    """Paragraphs of a plain-text extract: lines joined, broken paragraphs rejoined.

    PDF extracts often put a blank line after every line; a paragraph that does not
    end a sentence and is followed by one starting in lower case is continued.
    """
    paras: list[list[str]] = []  # pieces joined at the end: continuing a paragraph is O(1), not a copy
    last_piece = ""
    for block in re.split(r"\n\s*\n", text):
        groups: list[list[str]] = [[]]
        for ln in (x.strip() for x in block.split("\n")):
            if not ln:
                continue
            if is_heading_line(ln):  # a heading stands alone, even inside a block
                groups.extend([[ln], []])
            else:
                groups[-1].append(ln)
        for lines in filter(None, groups):
            p = " ".join(lines)
            if paras and _continues(last_piece, p):
                paras[-1].append(p)
            else:
                paras.append([p])
            last_piece = lines[-1]
    return [" ".join(p) for p in paras]


_STARTS_NEW = re.compile(r"^(?:[•\-*–]|\d+(?:\.\d+)*\.?\s|Abbildung\s|Tabelle\s)")


def _continues(prev_line: str, p: str) -> bool:
    """Whether paragraph ``p`` continues the one whose last line is ``prev_line``."""
    if _TERMINAL.search(prev_line) or _STARTS_NEW.match(p) or is_heading_line(p):
        return False
    if p[0].islower():
        return True
    # a long line that stops mid-sentence was wrapped by the PDF layout
    return len(prev_line) >= 45 and not is_heading_line(prev_line)


_NUMBERED_HEADING = re.compile(r"^\d+(?:\.\d+){0,3}\.?\s+[A-ZÄÖÜ„\"].{2,90}$")


def is_heading_line(line: str) -> bool:
    """A plain-text heading: '3.1 Qualifizierungsbaustein: KI-Grundlagen' or a short ALL-CAPS line."""
    line = line.strip()
    if not line or len(line) > 100 or _TERMINAL.search(line.rstrip(":")) and line.endswith("."):
        return False
    if len(line) <= 70 and _NUMBERED_HEADING.match(line) and not line.endswith((".", ",")):
        return True
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters) and len(line) <= 80
