"""BM25 over German stems (bm25s + PyStemmer), derived from the passage collection.

The index is persisted beside the collection together with the collection's
fingerprint; when the fingerprint no longer matches (another process ingested,
an ingest was interrupted) it is rebuilt from the collection, the one source of truth.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bm25s
import numpy as np

from ..german import Analyzer, content_words, stem, vocabulary


def field_text(title: str, heading_path: str, keywords: str, text: str) -> str:
    """Title and headings count twice: a passage under 'Datenschutz' is about data protection."""
    head = f"{title} {heading_path}"
    return f"{head} {head} {keywords}\n{text}"


class LexicalIndex:
    def __init__(self, ids: list[str], analyzer: Analyzer, bm25: bm25s.BM25 | None, fingerprint: str,
                 df: dict[str, int] | None = None) -> None:
        self.ids = ids
        self.analyzer = analyzer
        self.bm25 = bm25
        self.fingerprint = fingerprint
        self.df = df or {}
        self._choices: list[str] | None = None  # the vocabulary as a sorted list, for typo correction

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term the collection never uses gets the highest weight."""
        n = max(len(self.ids), 1)
        return math.log(1 + n / self.df.get(term, 0.5))

    @classmethod
    def build(cls, ids: list[str], texts: list[str], fingerprint: str) -> LexicalIndex:
        analyzer = Analyzer(vocabulary(texts))
        if not ids:
            return cls([], analyzer, None, fingerprint)
        tokens = [analyzer.terms(t) or ["∅"] for t in texts]
        df = Counter(t for toks in tokens for t in set(toks))
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(tokens, show_progress=False)
        return cls(list(ids), analyzer, bm25, fingerprint, dict(df))

    # --- typo tolerance -------------------------------------------------------------------------

    def corrections(self, text: str) -> dict[str, str]:
        """Query words the index does not know, mapped to the nearest vocabulary word.

        A word is known when its stem is an index term or it splits into known compound parts.
        Unknown words of 5+ letters are matched by optimal-string-alignment distance (a swap of two
        letters counts 1: "ChatGTP" -> "chatgpt"): at most 1 edit up to 8 letters, 2 from 9 on. Among
        equally near words the one used in more passages wins, then the alphabetically first, so the
        result never depends on the order of a set.
        """
        if self.bm25 is None:
            return {}
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        vocab_terms = self.bm25.vocab_dict
        out: dict[str, str] = {}
        for w in content_words(text):
            if w in out or len(w) < 5 or not w.isalpha() or stem(w) in vocab_terms:
                continue
            if any(stem(p) in vocab_terms for p in self.analyzer._parts(w)):
                continue
            limit = 1 if len(w) <= 8 else 2
            if self._choices is None:
                self._choices = sorted(self.analyzer.vocab)
            found = process.extract(w, self._choices, scorer=OSA.distance, score_cutoff=limit, limit=20)
            if not found:
                continue
            best = min(found, key=lambda f: (f[1], -self.df.get(stem(f[0]), 0), f[0]))
            if stem(best[0]) in vocab_terms:
                out[w] = best[0]
        return out

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> dict[str, float]:
        if self.bm25 is None:
            return {}
        terms = [t for t in self.analyzer.terms(query) if t in self.bm25.vocab_dict]
        if not terms:
            return {}
        scores = self.bm25.get_scores(terms)
        if allowed is not None:
            mask = np.fromiter((i in allowed for i in self.ids), dtype=bool, count=len(self.ids))
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        # ties at equal score: by passage id, so the ranking never depends on storage order
        order = sorted((i for i in top if scores[i] > 0), key=lambda i: (-float(scores[i]), self.ids[i]))
        return {self.ids[i]: float(scores[i]) for i in order}

    # --- persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Atomic directory swap under an exclusive file lock: several processes sharing one data dir
        (`serve --workers N`) may rebuild after the same ingest at once; the index is only a cache of the
        collection, so a failed save is left to the next rebuild."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".lexical-", dir=directory.parent))
        try:
            meta = {"fingerprint": self.fingerprint, "ids": self.ids, "vocab": sorted(self.analyzer.vocab),
                    "df": self.df}
            (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            if self.bm25 is not None:
                self.bm25.save(str(tmp / "bm25"), show_progress=False)
            with _locked(directory, exclusive=True):
                old = directory.with_name(directory.name + ".old")
                shutil.rmtree(old, ignore_errors=True)
                if directory.exists():
                    os.replace(directory, old)
                os.replace(tmp, directory)  # atomic swap: a reader never sees half an index
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, fingerprint: str) -> LexicalIndex | None:
        """The saved index if it was built for ``fingerprint``, else None."""
        try:
            with _locked(directory, exclusive=False):  # meta.json and bm25/ of one and the same save
                meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
                if meta.get("fingerprint") != fingerprint:
                    return None
                bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False) if meta["ids"] else None
            return cls(meta["ids"], Analyzer(meta["vocab"]), bm25, fingerprint, meta.get("df", {}))
        except (OSError, ValueError, KeyError):
            return None


@contextlib.contextmanager
def _locked(directory: Path, exclusive: bool) -> Iterator[None]:
    """flock on ``<directory>.lock`` beside the index (processes on one machine; NFS is not supported)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.with_name(directory.name + ".lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
