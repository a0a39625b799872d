"""Understanding follow-up questions without an LLM.

The documented heuristic (used when no LLM is configured, or when the LLM's rewrite fails):

1. A question is a follow-up when there is an earlier turn and
   - it opens with a connective or a back-reference ("Und ...", "Aber ...", "Gilt das ...",
     "Was heißt das ...", "Was ist mit ...", "Wie ist das ..."), or
   - it has at most three topic words of its own (content words other than generic ones
     and role names), or
   - it has at most five and contains a back-reference word (das, dies, dabei, dafür, davon,
     daran, darauf, damit, dazu, hierzu, es, ...).
2. The topic is the anchor: the last question of the conversation that was NOT itself a
   follow-up (so chains of follow-ups keep the original topic instead of growing).
3. The standalone question is the follow-up plus the anchor's topic nouns (capitalised content
   words, without generic words such as "KI" and without role names; the whole anchor when it has
   none): "Gilt das auch für Azubis? (bezogen auf: Leistungskontrolle)". Only nouns, so that the
   follow-up's own words still dominate retrieval. (Tried and dropped: adding the whole anchor
   question, or the title of the previous answer's first source; both made every follow-up
   retrieve the previous turn's passages again.)

A role named in the question ("... für uns als Betriebsrat?") is detected by role_in_question()
and used for that turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..german import content_words, stem
from ..roles import Role
from ..store.sessions import Turn

_OPENERS = re.compile(
    r"^\s*(und|aber|also|oder|auch|sowie|dann|trotzdem|"
    r"gilt (das|dies|es)|was (heißt|hei(ss|ß)t|bedeutet|folgt|ändert sich) (das|dies|daraus)|"
    r"was ist (mit|bei|denn)|wie (ist|sieht|verhält) (es|das)|und wenn|was,? wenn|wieso|warum das|"
    r"was (muss|kann|soll|sollte|darf) (ich|man|wir) (da|dann|dabei|dazu)|inwiefern|genauer|mehr dazu)\b",
    re.IGNORECASE)
_BACKREF = {"das", "dies", "dieses", "diese", "dieser", "dabei", "dafür", "dazu", "davon", "daran", "darauf",
            "darüber", "damit", "dadurch", "hierzu", "hierfür", "hierbei", "dort", "es", "ihn", "ihm", "denen",
            "solche", "solchen", "derselbe", "genannten", "obigen"}
_ROLE_WORDS: list[tuple[Role, re.Pattern[str]]] = [
    (Role.works_council, re.compile(r"\b(betriebsr(a|ä)t\w*|personalrat\w*|mitarbeitervertretung)\b", re.I)),
    (Role.owner, re.compile(r"\b(geschäftsführ\w*|chef\w*|inhaber\w*|arbeitgeber\w*|unternehmer\w*|"
                            r"betriebsinhaber\w*|meister als chef)\b", re.I)),
    (Role.employee, re.compile(r"\b(beschäftigte\w*|mitarbeiter(in|innen|n)?|arbeitnehmer\w*|azubis?|"
                               r"auszubildende\w*|gesell(e|en|in))\b", re.I)),
    (Role.consultant, re.compile(r"\b(berater\w*|beratung|coach\w*)\b", re.I)),
]
_AS_ROLE = re.compile(r"\b(als|für (uns|mich|die|den)( als)?)\s+(\w+\s+)?(?P<w>\w+)", re.I)
_GENERIC = {stem(w) for w in "ki künstliche intelligenz frage fragen thema genau eigentlich bitte mal "
                              "uns wir ich mich mir man".split()}


def _topic_words(text: str) -> list[str]:
    words = [w for w in content_words(text) if stem(w) not in _GENERIC]
    return [w for w in words if not any(rx.fullmatch(w) for _, rx in _ROLE_WORDS)]


def is_followup(question: str, history: Sequence[Turn]) -> bool:
    if not history:
        return False
    if _OPENERS.match(question):
        return True
    own = _topic_words(question)
    if len(own) <= 3:
        return True
    tokens = {t.lower() for t in re.findall(r"\w+", question)}
    return len(own) <= 5 and bool(tokens & _BACKREF)


def anchor(history: Sequence[Turn]) -> str | None:
    """The last question of the conversation that was not itself a follow-up."""
    for turn in reversed(history):
        if turn.standalone_question == turn.question:
            return turn.question
    return history[0].question if history else None


def topic_nouns(text: str, limit: int = 5) -> list[str]:
    """Capitalised content words of a question ("KI-Tool", "Einsatzplanung"), generic and role words left out."""
    content = set(content_words(text))
    out: list[str] = []
    for tok in re.findall(r"[A-ZÄÖÜ][\wÄÖÜäöüß]*(?:-[\wÄÖÜäöüß]+)*", text):
        parts = [p.lower() for p in tok.split("-")]
        meaningful = [p for p in parts if p in content and stem(p) not in _GENERIC]
        if not meaningful or any(rx.fullmatch(tok) for _, rx in _ROLE_WORDS):
            continue
        if tok not in out:
            out.append(tok)
    return out[:limit]


def condense_heuristic(question: str, history: Sequence[Turn]) -> str:
    """The standalone form of `question` (unchanged when it is not a follow-up)."""
    q = " ".join(question.split())
    if not is_followup(q, history):
        return q
    topic = anchor(history)
    if not topic:
        return q
    nouns = [n for n in topic_nouns(topic) if n.lower() not in q.lower()]
    about = ", ".join(nouns) if nouns else topic.rstrip("?. ")
    return f"{q} (bezogen auf: {about})"


def role_in_question(question: str) -> Role | None:
    """A role the asker names for this turn: "als Betriebsrat", "für uns als Geschäftsführung"."""
    for m in _AS_ROLE.finditer(question):
        word = m.group("w")
        for role, rx in _ROLE_WORDS:
            if rx.fullmatch(word):
                return role
    return None
