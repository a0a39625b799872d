"""Citation precision: does the passage behind every [n] support the sentence it is attached to?

Claims. An answer is read line by line (a bullet is a line). Markdown emphasis, heading marks, bullet marks
and lead-ins ending in a colon ("Für Sie als Betriebsrat:", "**Rechtsgrundlage:**") are removed. A run of
citation markers ("[2]", "[1][3]", "[1, 3]") closes a claim: the text since the previous run on the same
line. The claim is split into sentences; each (sentence, marker run) pair is one judged unit. Text after
the last marker of a line is uncited (counted separately when it is a statement of 4+ words, not a question).

Judge (transparent, reproducible, no LLM). For a sentence s and a cited passage P, P is cut into windows of
one and of two consecutive sentences. For each window w:
    lex(s, w) = share of s's content-word stems (German Snowball, stop words removed) that occur in w
    cos(s, w) = cosine of the multilingual USE vectors of s and w
    score(s, w) = 0.5 * lex + 0.5 * cos
support(s, P) = max over windows; with several markers the best cited passage counts. The pair is
"supported" when support >= THRESHOLD and every number in s (paragraph and article numbers, amounts, dates)
also occurs in P. THRESHOLD and the rule were chosen on the hand-labelled sample in
evals/citation_labels.yaml (`python -m evals.citations validate` prints accuracy, precision, recall and the
threshold sweep); see evals/README.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.german import content_words, sentences, stem

from .golden import load_yaml

THRESHOLD = 0.62  # chosen on evals/citation_labels.yaml, see `python -m evals.citations validate`
LEX_WEIGHT = 0.5

_RUN = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_NUMS = re.compile(r"\d+")
_MD = re.compile(r"\*\*|__|`|^#+\s*")


@dataclass
class Claim:
    sentence: str
    cited: list[int]
    line: int


@dataclass
class ParsedAnswer:
    claims: list[Claim] = field(default_factory=list)
    uncited: list[str] = field(default_factory=list)


def _clean_line(line: str) -> str:
    line = _MD.sub("", line.strip())
    line = re.sub(r"^\s*(?:[-*•]|\d+\.)\s+", "", line)
    if line.endswith(":") and len(line.split()) <= 8:  # a heading such as "Fragen an den Arbeitgeber:"
        return ""
    # lead-ins such as "Für Sie als Betriebsrat:" or "Rechtsgrundlage:": up to 6 words, no digit, then a colon
    m = re.match(r"^([^.!?\[\]:\d]{1,60}):\s+", line)
    if m and len(m.group(1).split()) <= 6:
        line = line[m.end():]
    return line.strip()


def parse_answer(text: str) -> ParsedAnswer:
    out = ParsedAnswer()
    for li, raw in enumerate(text.split("\n")):
        line = _clean_line(raw)
        if not line:
            continue
        pos = 0
        for m in _RUN.finditer(line):
            nums = [int(x) for x in re.findall(r"\d+", m.group(0))]
            claim = line[pos:m.start()].strip()
            pos = m.end()
            for s in sentences(claim):
                s = s.strip(" ;,")
                if re.search(r"[^\W\d_]{2,}", s):  # not a bare list number such as "1."
                    out.claims.append(Claim(s, nums, li))
        rest = line[pos:].strip()
        for s in sentences(rest):
            words = re.sub(r"„[^“]*“|\"[^\"]*\"", " ", s).split()  # a list of quoted unit titles is a pointer
            if len(s.split()) >= 4 and len(words) >= 3 and not s.rstrip().endswith("?"):
                out.uncited.append(s)
    return out


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def _numbers(text: str) -> set[str]:
    return set(_NUMS.findall(text.replace("\u00a0", " ")))


def passage_windows(passage: str) -> list[str]:
    sents = [_MD.sub("", s).strip() for s in sentences(passage)]
    sents = [s for s in sents if s]
    if not sents:
        return [passage]
    return sents + [f"{a} {b}" for a, b in zip(sents, sents[1:])]


class Judge:
    """Scores (sentence, passage) pairs; caches vectors so a whole eval run embeds each text once."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], threshold: float = THRESHOLD,
                 lex_weight: float = LEX_WEIGHT) -> None:
        self.embed = embed
        self.threshold = threshold
        self.lex_weight = lex_weight
        self._vecs: dict[str, np.ndarray] = {}

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vecs]
        if missing:
            for t, v in zip(missing, self.embed(missing)):
                self._vecs[t] = v
        return np.vstack([self._vecs[t] for t in texts])

    def features(self, sentence: str, passage: str) -> dict[str, Any]:
        wins = passage_windows(passage)
        vecs = self._vectors([sentence] + wins)
        cos = vecs[1:] @ vecs[0]
        s_stems = _stems(sentence)
        lex = np.array([len(s_stems & _stems(w)) / len(s_stems) if s_stems else 0.0 for w in wins])
        combined = self.lex_weight * lex + (1 - self.lex_weight) * cos
        i = int(np.argmax(combined))
        return {"score": float(combined[i]), "lex": float(lex.max()), "cos": float(cos.max()),
                "numbers_ok": _numbers(sentence) <= _numbers(passage), "window": wins[i]}

    def supported(self, sentence: str, passages: Sequence[str]) -> tuple[bool, float]:
        best, ok = 0.0, False
        for p in passages:
            f = self.features(sentence, p)
            if f["score"] > best:
                best = f["score"]
            ok = ok or (f["numbers_ok"] and f["score"] >= self.threshold)
        return ok, best


def judge_answer(judge: Judge, text: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Citation precision of one answer: supported (sentence, marker run) pairs / all pairs. A marker naming
    no listed source counts as unsupported."""
    by_n = {int(s.get("n", i + 1)): str(s.get("text") or s.get("passage") or "") for i, s in enumerate(sources)}
    parsed = parse_answer(text)
    pairs = []
    for c in parsed.claims:
        passages = [by_n[n] for n in c.cited if by_n.get(n)]
        ok, score = judge.supported(c.sentence, passages) if passages else (False, 0.0)
        pairs.append({"sentence": c.sentence, "cited": c.cited, "supported": ok, "score": round(score, 3),
                      "dangling": not passages})
    return {"pairs": pairs, "uncited": parsed.uncited}


# --- validation on the hand-labelled sample --------------------------------------------------------

def confusion(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    tp = sum(p and g for p, g in zip(pred, gold))
    tn = sum(not p and not g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum(not p and g for p, g in zip(pred, gold))
    n = len(gold)
    return {"n": n, "accuracy": (tp + tn) / n if n else float("nan"),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "specificity": tn / (tn + fp) if tn + fp else float("nan"),
            "tp": tp, "tn": tn, "fp": fp, "fn": fn}


def validate(embed: Callable[[list[str]], np.ndarray], threshold: float = THRESHOLD) -> dict[str, Any]:
    """The judge on evals/citation_labels.yaml: its confusion at `threshold` (positive class = supported),
    per kind of pair, a threshold sweep for the combined score and the single signals, and a 5-fold
    cross-validated accuracy of choosing the threshold on the other folds."""
    pairs = load_yaml("citation_labels.yaml")["pairs"]
    judge = Judge(embed, threshold)
    feats = [judge.features(p["sentence"], p["passage"]) for p in pairs]
    gold = [p["label"] == "supported" for p in pairs]

    def predict(key: str, t: float, numbers: bool = True) -> list[bool]:
        return [f[key] >= t and (f["numbers_ok"] or not numbers) for f in feats]

    grid = [round(x / 100, 2) for x in range(20, 100)]
    sweep = {}
    for key in ("score", "lex", "cos"):
        accs = [(confusion(predict(key, t), gold)["accuracy"], t) for t in grid]
        best_acc = max(a for a, _ in accs)
        best_ts = [t for a, t in accs if a == best_acc]
        sweep[key] = {"best_accuracy": best_acc, "thresholds": [best_ts[0], best_ts[-1]]}
    # 5-fold CV of the threshold choice (combined score): fit on 4 folds (middle of the best range), test on 1
    folds = [list(range(i, len(pairs), 5)) for i in range(5)]
    correct = 0
    for k in range(5):
        train = [i for j, f in enumerate(folds) if j != k for i in f]
        accs = []
        for t in grid:
            pred = [feats[i]["score"] >= t and feats[i]["numbers_ok"] for i in train]
            accs.append((sum(p == gold[i] for p, i in zip(pred, train)) / len(train), t))
        best = max(a for a, _ in accs)
        ts = [t for a, t in accs if a == best]
        t = ts[len(ts) // 2]
        correct += sum((feats[i]["score"] >= t and feats[i]["numbers_ok"]) == gold[i] for i in folds[k])
    pred = predict("score", threshold)
    by_kind: dict[str, Any] = {}
    for kind in dict.fromkeys(p["kind"] for p in pairs):
        idx = [i for i, p in enumerate(pairs) if p["kind"] == kind]
        by_kind[kind] = {"n": len(idx), "supported": sum(gold[i] for i in idx),
                         "judge_correct": sum(pred[i] == gold[i] for i in idx)}
    errors = [{"id": p["id"], "kind": p["kind"], "label": p["label"], "score": round(f["score"], 3),
               "lex": round(f["lex"], 3), "cos": round(f["cos"], 3), "numbers_ok": f["numbers_ok"]}
              for p, f, g, pr in zip(pairs, feats, gold, pred) if g != pr]
    return {"threshold": threshold, "rule": f"{LEX_WEIGHT}*lex + {1 - LEX_WEIGHT}*cos >= threshold, numbers in passage",
            "at_threshold": confusion(pred, gold), "without_number_rule": confusion(predict("score", threshold, False), gold),
            "sweep": sweep, "cv5_accuracy": correct / len(pairs), "by_kind": by_kind, "errors": errors,
            "scores": [{"id": p["id"], "label": p["label"], "score": round(f["score"], 3)} for p, f in zip(pairs, feats)]}


def main(argv: list[str]) -> int:
    from assistant.search.embeddings import USEEmbedder

    emb = USEEmbedder()
    res = validate(emb.embed)
    c = res["at_threshold"]
    print(f"judge at threshold {res['threshold']}: accuracy {c['accuracy']:.3f}, precision {c['precision']:.3f}, "
          f"recall {c['recall']:.3f}, specificity {c['specificity']:.3f} (n={c['n']}, tp {c['tp']}, tn {c['tn']}, "
          f"fp {c['fp']}, fn {c['fn']})")
    print(f"5-fold CV accuracy (threshold chosen on the other folds): {res['cv5_accuracy']:.3f}")
    for k, v in res["sweep"].items():
        print(f"best accuracy with {k}: {v['best_accuracy']:.3f} at thresholds {v['thresholds'][0]}..{v['thresholds'][1]}")
    for k, v in res["by_kind"].items():
        print(f"  {k}: n={v['n']} supported={v['supported']} judge correct={v['judge_correct']}")
    for e in res["errors"]:
        print("  error:", e)
    if "-v" in argv:
        for s in sorted(res["scores"], key=lambda s: s["score"]):
            print("   ", s)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
