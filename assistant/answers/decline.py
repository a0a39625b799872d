"""The decline decision: answer only when the course holds the answer.

Rule (fitted by `python -m evals.calibrate`, documented in docs/architecture.md): answer when the
best dense similarity d among the top passages is >= dense_strong, or when d >= dense_min and
d + coverage_weight * c >= combined_min, where c is the IDF-weighted share of the question's
content words found in the top three passages. Everything else is declined. A question that is
nothing but an instruction to the assistant is declined (ingestion.screening).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.screening import instruction_only

from ..german import content_words, stem
from ..search.retrieval import SYNONYMS, Hit

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
    # decline v2 (issue 11): a logistic rule over FEATURES, fitted by `python -m evals.calibrate`:
    # (means, standard deviations, weights, bias, threshold); answer iff the score >= threshold
    logit: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float, float] | None = None

    def sim(self, cos: float) -> float:
        return (cos - self.sim_offset) / self.sim_scale + (0.095 if self.sim_offset else 0.0)


_TAGS = re.compile(r"<[^<>]{0,300}>")
# small talk addressed to the assistant itself: the course has nothing to say to it, however similar the
# authored colloquial questions sound ("wie gehts", "was machst du am Wochenende", "wer hat dich programmiert")
SMALL_TALK = re.compile(
    r"^\W*(hallo|hi|hey|moin|servus|guten (morgen|tag|abend)|grüß gott)\W*$|"
    r"\b(wie geht'?s( dir| ihnen)?|wie geht es (dir|ihnen)|wie hei(ß|ss)t du|wer bist du|was bist du|"
    r"wer hat dich|bist du (ein |eine )?(mensch|bot|roboter|ki)|was machst du (so |denn )?(am|heute|gerade)|"
    r"hast du (hobbys|lust|zeit)|erzähl (mir )?(einen|nen) witz)\b", re.I)
FEATURES = ("dense", "coverage", "unknown", "dense_asked", "lexical")
# fitted by `python -m evals.calibrate` (2026-11-29) on the tune split of evals/answers/decline.yaml (79 in-scope,
# 66 off-topic or near-miss questions): tune refusal recall 0.864 / false refusals 0 %; held out (53 / 44): refusal
# recall 0.818 / false refusals 5.7 % (everyday off-topic 20/20 declined, near misses 16/24)
LOGIT_E5 = ((0.8646, 0.474, 0.114, 0.5859, 1.791), (0.0323, 0.3408, 0.2131, 0.3937, 0.4704),
            (1.235, 0.8572, -0.453, 0.1968, 0.6646), 0.1755, -0.55)

CALIBRATIONS = {
    "use": Calibration(0.34, 0.26, 0.36),
    # E5: answer iff d + 0.02·c >= 0.865 (evals/calibrate.py, 2026-11-29: calibration split refusal recall
    # 0.889 / false refusals 0.9 %, held out 0.692 / 6.2 %)
    "e5": Calibration(0.865, 0.845, 0.865, coverage_weight=0.02, sim_offset=0.834, sim_scale=0.183,
                      logit=LOGIT_E5),
}


def calibration_for(embedder_name: str) -> Calibration:
    return CALIBRATIONS["e5"] if embedder_name.startswith("e5") else CALIBRATIONS["use"]


# the USE values, kept as names for readers of older notes and evals
DENSE_STRONG, DENSE_MIN, COMBINED_MIN = (CALIBRATIONS["use"].dense_strong, CALIBRATIONS["use"].dense_min,
                                         CALIBRATIONS["use"].combined_min)
QUIZ_SECTION = "Verständnisfragen"
GENERIC_TERMS = {stem(w) for w in "ki künstliche intelligenz betrieb unternehmen thema frage arbeit".split()}


@dataclass
class Decision:
    answerable: bool
    dense: float
    coverage: float
    reason: str
    score: float | None = None  # the logistic rule's score, when it decided


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



def features(query: str, hits: list[Hit], idf: Callable[[str], float], lexical_query: str | None = None) -> list[float]:
    """The decline signals (FEATURES): best dense similarity of the top five passages; IDF-weighted share of the
    question's words in the top three; IDF-weighted share of its words the collection never uses (after typo
    correction and synonyms, ``lexical_query``); best dense similarity of an authored question among the hits;
    log(1 + best BM25 score)."""
    query = _TAGS.sub(" ", query)  # markup typed or pasted into a question is not its topic
    lexical_query = _TAGS.sub(" ", lexical_query) if lexical_query else lexical_query
    dense = max((h.dense_score for h in hits[:5]), default=0.0)
    coverage = term_coverage(query, hits[:3], idf)
    never = idf("\x00")  # the weight of a term no passage contains
    words = [stem(w) for w in content_words(lexical_query or query)]
    words = [w for w in words if w not in GENERIC_TERMS]
    total = sum(idf(w) for w in words)
    # short unknown words are mostly colloquial forms ("obs", "sehn", "nem"), not a foreign topic
    unknown = sum(idf(w) for w in words if len(w) >= 5 and not _known(w, idf, never)) / total if total else 0.0
    asked = max((h.dense_score for h in hits if h.metadata.get("kind") == "frage"), default=0.0)
    lexical = math.log1p(max((h.lexical_score for h in hits[:5]), default=0.0))
    return [dense, coverage, unknown, asked, lexical]


def _known(word: str, idf: Callable[[str], float], never: float) -> bool:
    """The collection uses the word, or the head (last part, 4+ letters) of a German compound ("tourenplanung":
    "planung", "stammdaten": "daten")."""
    if idf(word) < never - 1e-9:
        return True
    for i in range(4, len(word) - 3):
        if idf(stem(word[i:])) < never - 1e-9:  # the head of a German compound is its last part
            return True
    return False


def logit_score(calibration: Calibration, x: list[float]) -> float:
    mu, sd, w, b, _t = calibration.logit  # type: ignore[misc]
    return sum(wi * (xi - m) / s for xi, m, s, wi in zip(x, mu, sd, w)) + b


def decide(calibration: Calibration, query: str, hits: list[Hit],
           idf: Callable[[str], float] | None = None, lexical_query: str | None = None) -> Decision:
    screened = instruction_only(query)
    if screened:
        return Decision(False, 0.0, 0.0, f"instruction:{screened}")
    if not hits:
        return Decision(False, 0.0, 0.0, "no_hits")
    if SMALL_TALK.search(_TAGS.sub(" ", query)):
        return Decision(False, 0.0, 0.0, "small_talk")
    idf = idf or (lambda t: 1.0)
    x = features(query, hits, idf, lexical_query)
    dense, coverage = x[0], x[1]
    cal = calibration
    if cal.logit is not None:
        score = logit_score(cal, x)
        ok = score >= cal.logit[4]
        return Decision(ok, dense, coverage, "evidence" if ok else "weak_evidence", round(score, 3))
    if dense >= cal.dense_strong:
        return Decision(True, dense, coverage, "dense_strong")
    if dense >= cal.dense_min and dense + cal.coverage_weight * coverage >= cal.combined_min:
        return Decision(True, dense, coverage, "dense_and_coverage")
    return Decision(False, dense, coverage, "weak_evidence")
