"""German text analysis for lexical search and sentence scoring.

Lower-casing, tokenising (hyphenated compounds give their parts and the whole),
stop-word removal, Snowball stemming (PyStemmer) and a vocabulary-driven
compound splitter: "Datenschutzfolgenabschätzung" also yields the stems of
"datenschutz", "folgen" and "abschätzung" when those words occur in the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[0-9a-zäöüß§]+(?:-[0-9a-zäöüß]+)*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"„(»]?[A-ZÄÖÜ0-9§])")

STOPWORDS = frozenset(
    """
    aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes
    anderm andern anderr anders auch auf aus bei beim bin bis bist da damit dann das dass dasselbe
    dazu daß dein deine deinem deinen deiner deines dem demselben den denn denselben der derer
    derselbe derselben des desselben dessen dich die dies diese dieselbe dieselben diesem diesen
    dieser dieses dir doch dort du durch ein eine einem einen einer eines einig einige einigem
    einigen einiger einiges einmal er es etwas euch euer eure eurem euren eurer eures für gegen
    gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren
    ihrer ihres im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt
    kann kein keine keinem keinen keiner keines können könnte machen man manche manchem manchen
    mancher manches mein meine meinem meinen meiner meines mich mir mit muss musste nach nicht
    nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines selbst sich sie
    sind so solche solchem solchen solcher solches soll sollte sondern sonst über um und uns unsere
    unserem unseren unser unseres unter viel vom von vor während war waren warst was weg weil weiter
    welche welchem welchen welcher welches wenn werde werden wie wieder will wir wird wirst wo wollen
    wollte würde würden zu zum zur zwar zwischen
    wer wem wen wessen warum wieso weshalb welche welcher wozu womit worauf worum woran wofür
    gibt gilt geht muss müssen darf dürfen sollen soll eigentlich bitte genau mal denn schon
    ja nein okay ok hallo hi danke eigentlich bzw usw etc z.b zb u.a ua
    nen ne nem ner is isses gibts hab haste kannste biste musste krieg kriege kriegt kriegen halt eh nix
    wat dat son sone bissl bisschen leute echt
    """.split()
)

_stemmer = Stemmer.Stemmer("german")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; a hyphenated compound gives the whole and each part."""
    out: list[str] = []
    for m in _WORD.finditer(text.lower()):
        token = m.group(0)
        if "-" in token:
            parts = [p for p in token.split("-") if p]
            out.extend(parts)
            out.append(token.replace("-", ""))
        else:
            out.append(token)
    return out


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_LINKERS = ("s", "es", "n", "en", "e", "")


def split_compound(word: str, vocab: frozenset[str] | set[str], min_part: int = 4) -> list[str]:
    """Split a compound into known parts (surface words found in ``vocab``).

    Greedy from the right: the head of a German compound is its last part.
    Linking elements (Fugen-s, -en, ...) are stripped from the modifier.
    Returns [] when no split into known parts exists.
    """
    n = len(word)
    if n < 2 * min_part:
        return []
    for i in range(min_part, n - min_part + 1):
        head = word[i:]
        if head not in vocab:
            continue
        modifier = word[:i]
        for link in _LINKERS:
            if link and not modifier.endswith(link):
                continue
            base = modifier[: len(modifier) - len(link)] if link else modifier
            if len(base) < min_part:
                continue
            if base in vocab:
                return [base, head]
            inner = split_compound(base, vocab, min_part)
            if inner:
                return [*inner, head]
    return []


class Analyzer:
    """Turns text into index terms (stems), with compound splitting over a known vocabulary."""

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.vocab: frozenset[str] = frozenset(w for w in vocabulary if len(w) >= 4)
        self._split_cache: dict[str, list[str]] = {}

    def _parts(self, word: str) -> list[str]:
        cached = self._split_cache.get(word)
        if cached is None:
            cached = split_compound(word, self.vocab) if len(word) >= 8 else []
            self._split_cache[word] = cached
        return cached

    def terms(self, text: str) -> list[str]:
        out: list[str] = []
        for w in content_words(text):
            out.append(stem(w))
            for part in self._parts(w):
                if part not in STOPWORDS:
                    out.append(stem(part))
        return out


def vocabulary(texts: Iterable[str]) -> set[str]:
    vocab: set[str] = set()
    for t in texts:
        vocab.update(w for w in words(t) if len(w) >= 4 and "-" not in w)
    return vocab


_ABBREV = re.compile(
    r"\b(Abs|Nr|Art|Kap|bzw|ca|vgl|lit|Ziff|Satz|S|Dr|Prof|ggf|evtl|inkl|insb|sog|usw|etc|z|u|d|o|v|Mio|Mrd|Std|min|"
    r"Tel|Jan|Feb|Aug|Sept|Okt|Nov|Dez)\.(?=\s)"
)


_ORDINAL = re.compile(r"(?<![\d.])\d{1,2}\.(?=\s+(?:Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|"
                      r"November|Dezember|Jan|Feb|Aug|Okt|Nov|Dez|Abs|Schritt|Stufe|Woche|Monat|Tag)\b)")


def sentences(text: str) -> list[str]:
    """Split a passage into sentences; every line (list item, table row, Q/A line) stands alone.

    Abbreviations common in German legal and plain text ("Abs.", "Nr.", "z. B.") do not end a sentence.
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if not line:
            continue
        protected = _ABBREV.sub(lambda m: m.group(0)[:-1] + "\x00", line)
        protected = _ORDINAL.sub(lambda m: m.group(0)[:-1] + "\x00", protected)
        for s in _SENTENCE_END.split(protected):
            s = s.replace("\x00", ".").strip()
            if s:
                out.append(s)
    return out
