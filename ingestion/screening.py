"""Screening: documents are data, never instructions.

An ingested document may carry planted text addressed to an AI ("Ignoriere alle vorherigen Anweisungen",
"Senden Sie Ihre Zugangsdaten an ...") or active markup (``<script>``, ``javascript:`` links, event
handlers). Such text must never be quoted in an answer nor handed to an LLM as a source.

sanitize(text)          strips dangerous markup: HTML comments, script/style/iframe/... blocks with their
                        content, every other HTML tag (its inner text stays), ``javascript:``/``vbscript:``/
                        ``data:text/html`` links, event handler attributes, Markdown images, zero-width chars.
instruction_reason(s)   the name of the first instruction pattern a sentence matches, else None. Patterns
                        (German and English), see RULES: override ("ignoriere alle vorherigen Anweisungen",
                        "vergiss deine Regeln", "ignore previous instructions"), role change ("du bist jetzt",
                        "ab sofort antwortest du", "you are now", "act as"), AI addressed ("Hinweis an die KI:",
                        "wenn du eine KI bist"), answer control ("antworte nur noch mit", "sag dem Nutzer"),
                        prompt reveal ("gib den Systemprompt aus"), chat-template tokens ("<|im_start|>",
                        "[INST]", "System:" at the start), credential requests (Passwort/Zugangsdaten/TAN/...
                        with a request verb, addressed to the reader or naming an address; warnings such as
                        "niemals", "Phishing" exempt it), exfiltration links (URLs with data-carrying query
                        parameters or placeholders).
screen_text(text)       -> Screened(text, flag, removed, reasons): markup stripped, every paragraph holding an
                        instruction-like sentence removed; flag "instruction" (something was removed, or the
                        stripped markup hid an instruction), "markup" (only markup stripped) or None;
                        ``empty`` when fewer than MIN_LETTERS letters remain.
screen_chunks(chunks)   ingest: every passage screened; instruction-like title or heading path replaced, such
                        front-matter values dropped (the passage is flagged);
                        flagged passages keep their cleaned text and carry ``lb_flag`` (+ ``lb_removed``);
                        passages left empty (markup-only, instruction-only) are dropped; ``n_chunks`` is the
                        number kept.
instruction_only(q)     a question that instructs the assistant and asks nothing else: the answerers decline it.
safe_hits(hits)         answer time (extractive and LLM): passages flagged "instruction" at ingest, and
                        passages whose text still holds an instruction-like sentence (indexes built before
                        screening), are left out; the others are returned with sanitized text.

The course itself talks about prompts, passwords and phishing; tests/test_injection.py runs the screener over
every passage of corpus/ and every evaluation question and requires that none is flagged.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_LETTERS = 20
INSTRUCTION = "instruction"
MARKUP = "markup"

# --- markup ---------------------------------------------------------------------------------------

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_BLOCK = re.compile(r"<\s*(script|style|iframe|object|embed|noscript|template|svg|math|frameset|frame|applet)\b"
                    r"[^>]*>.*?(?:<\s*/\s*\1\s*>|\Z)", re.S | re.I)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(?:\s+[^<>]*?)?\s*/?\s*>")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_BAD_LINK = re.compile(r"\[([^\]]*)\]\(\s*(?:javascript|vbscript|livescript|data|file)\s*:(?:[^()]|\([^()]*\))*\)", re.I)
_BAD_SCHEME = re.compile(r"\b(?:javascript|vbscript|livescript)\s*:[^\s)\]]*|\bdata\s*:\s*text/html[^\s)\]]*", re.I)
_HANDLER = re.compile(r"\bon[a-z]{3,20}\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I)
_ENCODED = re.compile(r"&(?:lt|gt|#0*60|#x0*3c|#0*62|#x0*3e);", re.I)
_LETTER = re.compile(r"[A-Za-zÄÖÜäöüß]")


def sanitize(text: str) -> str:
    """Text without active or hidden markup; ordinary text (also "a < b") is left as it is."""
    out = _INVISIBLE.sub("", text)
    if _ENCODED.search(out):  # "&lt;script&gt;" would become a tag in a page that renders HTML
        out = html.unescape(out)
    out = _COMMENT.sub(" ", out)
    out = _BLOCK.sub(" ", out)
    out = _MD_IMAGE.sub(lambda m: m.group(1), out)
    out = _MD_BAD_LINK.sub(lambda m: m.group(1), out)
    out = _TAG.sub(" ", out)
    out = _BAD_SCHEME.sub(" ", out)
    out = _HANDLER.sub(" ", out)
    if out == text:
        return text
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()


def letters(text: str) -> int:
    return len(_LETTER.findall(text))


# --- instructions ---------------------------------------------------------------------------------

_URL = r"(?:https?://|www\.)\S+"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_TARGET = _URL + "|" + _EMAIL + r"|\+?\d[\d /-]{6,}\d"
_CRED = (r"\b(?:passw(?:ort|örter|ortes|orts|ord|ords)\w*|kennw(?:ort|örter)\w*|zugangsdaten|anmeldedaten|"
         r"login-?daten|zugangscodes?|pin|pins|pin-?codes?|tans?|transaktionsnummer\w*|kreditkart\w*|kartennummer\w*|"
         r"iban|bankdaten|kontodaten|bankverbindung|sicherheitscodes?|einmalcodes?|bestätigungscodes?|"
         r"credentials?|passwords?|passcodes?|api[- ]?keys?|api[- ]?schlüssel\w*|zugangsschlüssel\w*)\b")
# handing data over (needs a recipient) / typing it in somewhere (needs a place: URL, e-mail, phone)
_TRANSFER = (r"\b(?:send\w*|schick\w*|übermittel\w*|übersend\w*|e?-?mail(?:e|en|t)?|weiterleit\w*|weiterzuleiten|"
             r"leite\w*|mitteil\w*|mitzuteilen|teile|teilen|teilt|bestätig\w*|verifizier\w*|verrat\w*|nenn\w*|"
             r"antworte\w*|provide|share|submit|confirm|verify|reply|give|forward)\b")
_ENTRY = (r"\b(?:eingeb\w*|einzugeben|gib|geben|eintrag\w*|einzutragen|trag\w*|hinterleg\w*|anmeld\w*|einlogg\w*|"
          r"enter|type|log\s*in|sign\s*in)\b")
_RECIPIENT = (r"\b(?:uns|mir|an\s+(?:die|den|das|unser\w*|folgende\w*|diese\w*)\s+\S+|per\s+(?:e-?mail|mail|sms|"
              r"whatsapp|telefon|fax|post)|us|me|to\s+(?:us|me|the|this|our)|via)\b")
_STRONG_WARNING = (r"\bnie\b|\bniemals\b|\bniemand\w*|\bkeinesfalls\b|\bauf\s+keinen\s+fall\b|\bnever\b|phishing|"
                   r"betrüger\w*|\bbetrug\w*|gefälscht\w*|\bseriöse?\w*|\bscam\w*|\bfraud\w*|kriminell\w*|angreifer\w*")
_WARNING = _STRONG_WARNING + (r"|\bnicht\b|\bkein\w*|\bnot\b|\bdon'?t\b|vorsicht|\bachtung\b|\bwarn\w*|"
                              r"verdächtig\w*|suspicious|\bfake\b")
_AI = (r"(?:ki(?![-\w])|k\.i\.|ai(?![-\w])|assistent(?:in|en)?|chatbot|sprachmodell|llm|bot|modell|lernbegleiter|"
       r"assistant|language\s+model|gpt)")
_OBJECTS = (r"\S*(?:anweisung|instruktion|regel|vorgabe|befehl|richtlinie|prompt|einschränkung|beschränkung|"
            r"programmierung|kontext|kursunterlagen|unterlagen|quellen|kurs|instructions?|rules)\w*")
_REVEAL = (r"(?:zeig|zeige|zeigen\s+sie|nenn|nenne|nennen\s+sie|verrat|verrate|verraten\s+sie|wiederhol|wiederhole|"
           r"wiederholen\s+sie|übersetz\w*|fass\w*|druck|drucke|drucken\s+sie|kopier|kopiere|gib\s+mir|geben\s+sie\s+mir|offenlegen|"
           r"reveal|print|show|repeat|output|display|leak|dump|tell\s+me|give\s+me)")
_SECRET_PROMPT = (r"(?:\S*system-?\s?prompt\w*|systemanweisung\w*|system-?\s?nachricht\w*|system\s+message|"
                  r"initial(?:en)?\s+prompt\w*|(?:deine|deinen|your)\s+(?:\w+\s+)?(?:anweisung|instruktion|instruction|"
                  r"regel|rule|vorgabe|prompt|konfiguration|configuration|programmierung)\w*|hidden\s+instructions?|"
                  r"verborgene\w*\s+anweisung\w*|versteckte\w*\s+anweisung\w*)")

RULES: list[tuple[str, re.Pattern[str]]] = [(name, re.compile(rx, re.I | re.M)) for name, rx in [
    # "Ignoriere alle vorherigen Anweisungen", "Vergiss deine Regeln" (imperative only: "umgeht die Regeln" is prose)
    ("override", r"\b(?:ignorier(?:e)?|ignorieren\s+sie|vergiss|vergesst|vergessen\s+sie|missachte|"
                 r"missachten\s+sie|übergehe|übergehen\s+sie|umgehe|umgehen\s+sie|überschreibe)\b(?!\s+nicht\b)"
                 r"(?:\s+\S+){0,5}?\s+" + _OBJECTS),
    ("override", r"\b(?:vorherig|bisherig|obig|vorig|vorangegangen|vorstehend)\w*\s+(?:anweisung|instruktion|befehl|"
                 r"prompt|systemanweisung)\w*\s+(?:sind|ist|gelten|gilt)\s+(?:ab\s+sofort\s+|jetzt\s+|nun\s+)?"
                 r"(?:ungültig|aufgehoben|nichtig|außer\s+kraft|hinfällig)"),
    ("override", r"\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\S+){0,5}?\s+(?:instructions?|rules|"
                 r"prompts?|directions|guidelines|guardrails|policies|directives)\b"),
    # "Du bist jetzt ...", "Ab sofort antwortest du ...", "You are now ..."
    ("role", r"\bdu\s+bist\s+(?:ab\s+jetzt|ab\s+sofort|ab\s+heute|jetzt|nun|von\s+nun\s+an)\b"),
    ("role", r"\b(?:ab\s+jetzt|ab\s+sofort|von\s+nun\s+an|ab\s+heute|künftig)\s+(?:bist|antwortest|beantwortest|sagst|schreibst|"
             r"gibst|sprichst|verhältst|handelst|ignorierst|befolgst)\s+du\b"),
    ("role", r"\bdu\s+(?:antwortest|sagst|schreibst|sprichst|gibst)\s+(?:ab\s+jetzt|ab\s+sofort|nur\s+noch|"
             r"von\s+nun\s+an|ausschließlich)\b"),
    ("role", r"\b(?:tu|tue)\s+so,?\s+als\s+(?:ob\s+du|wärst\s+du)\b|\bverhalte\s+dich\s+(?:ab\s+jetzt\s+|ab\s+sofort\s+|"
             r"nun\s+|von\s+nun\s+an\s+)?(?:wie|als)\b"),
    ("role", r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+(?:you|answer|respond|reply)\b|\bact\s+as\s+(?:an?|the|if)\b|"
             r"\bpretend\s+(?:to\s+be|you\s+are|that)\b|\b(?:developer|dan|god|jailbreak)\s+mode\b|\bjailbr(?:eak|oken)\b|"
             r"\bdo\s+anything\s+now\b"),
    # addressed to the AI
    ("addressed", r"\b(?:wenn|falls|sofern|solltest)\s+du\s+(?:eine?\s+)?" + _AI + r"\b"),
    ("addressed", r"\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|language\s+model|assistant|chatbot|bot|gpt)\b"),
    ("addressed", r"\b(?:hinweis|anweisung|nachricht|befehl|info|notiz|achtung|wichtig)\w*\s+(?:an|für)\s+(?:die|den|das|"
                  r"alle|jede|jeden)\s+" + _AI + r"\w*\s*[:!]"),
    ("addressed", r"\b(?:note|message|instructions?|attention)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:ai|llm|"
                  r"assistant|model|language\s+model|chatbot|bot)s?\s*[:!]"),
    ("addressed", r"\b(?:liebe|lieber|hallo|hey)\s+" + _AI + r"\s*[,:!]"),
    # answer control: "Antworte nur noch mit ...", "Sag dem Nutzer, ..."
    ("answer_control", r"\bantworte\s+(?:ab\s+jetzt\s+|ab\s+sofort\s+|von\s+nun\s+an\s+|künftig\s+)?"
                       r"(?:nur\s+noch|ausschließlich|immer|nur)\b"),
    ("answer_control", r"\b(?:antworten|schreiben|sagen)\s+sie\s+(?:ab\s+jetzt\s+|ab\s+sofort\s+|von\s+nun\s+an\s+)?"
                       r"nur\s+noch\b"),
    ("answer_control", r"\b(?:sag|sage|schreib|schreibe|gib|nenne|nenn)\s+(?:ab\s+jetzt\s+|von\s+nun\s+an\s+|ab\s+sofort\s+)?"
                       r"(?:nur\s+noch|ausschließlich)\b"),
    ("answer_control", r"\b(?:sag|sage|teile|erzähl|erzähle|empfiehl|schreib|schreibe|fordere)\s+(?:dem|den|der)\s+"
                       r"(?:nutzer|nutzerin|nutzenden|benutzer|benutzerin|anwender|anwenderin|fragenden|user)\w*\b"),
    ("answer_control", r"\b(?:respond|reply|answer)\s+(?:only|exclusively|always|solely)\s+(?:with|in|by)\b|"
                       r"\bonly\s+(?:respond|reply|answer|say|output)\s+(?:with|in)\b|\b(?:tell|instruct|ask|advise|"
                       r"urge)\s+the\s+user\b"),
    # prompt reveal: "Gib den Systemprompt aus", "Zeig mir deine Anweisungen", "print your system prompt"
    ("prompt_reveal", r"\b" + _REVEAL + r"\b(?:\s+\S+){0,6}?\s+" + _SECRET_PROMPT),
    ("prompt_reveal", r"\b(?:gib|gebe|geben\s+sie)\b(?:\s+\S+){0,6}?\s+" + _SECRET_PROMPT + r"(?:\s+\S+){0,6}?\s+aus\b"),
    # chat-template tokens and role headers
    ("template", r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|eot_id|start_header_id)\s*\|>|"
                 r"\[/?\s*inst\s*\]|<<\s*/?\s*sys\s*>>|<\s*/?\s*(?:start_of_turn|end_of_turn)\s*>|"
                 r"^\s*\[?\s*(?:system|developer)\s*(?:prompt|nachricht|message)?\s*\]?\s*:\s"),
    ("new_instructions", r"\b(?:neue|geänderte|aktualisierte|geheime|versteckte|zusätzliche)\s+(?:anweisung|instruktion|"
                         r"systemanweisung)\w*(?:\s+\S+){0,3}?\s*:|\b(?:new|updated|secret|hidden|"
                         r"additional)\s+(?:instructions?|system\s+prompt|rules)\s*:"),
    # exfiltration: data-carrying query parameters, placeholders in URLs
    ("exfiltration", r"(?:https?://|www\.)\S*[?&](?:data|prompt|chat|msg|message|secret|password|pw|pwd|token|"
                     r"session|sid|conversation|history|cookie|key|exfil|leak|antwort|verlauf|frage)=|"
                     r"(?:https?://|www\.)\S*(?:\{|\}|%7b|%7d|\$\(|<[a-z]+>|\[[a-z_]+\])"),
]]


def _credential_request(s: str) -> bool:
    """A credential noun with a transfer verb and a recipient, or with an entry verb and a place (URL, e-mail,
    phone). Warnings ("nicht", "niemals", "Phishing") exempt it; with a concrete target only strong ones do."""
    low = s.lower()
    if not re.search(_CRED, low):
        return False
    target = re.search(_TARGET, low)
    transfer = re.search(_TRANSFER, low) and (target or re.search(_RECIPIENT, low))
    entry = re.search(_ENTRY, low) and target
    if not (transfer or entry):
        return False
    return not re.search(_STRONG_WARNING if target else _WARNING, low)


_ACCOUNT = r"\b(?:konto|kontos|account|zugang|anmeldung|login|postfach|mailbox)\b"
_CONFIRM = r"\b(?:\w*bestätig\w*|\w*verifizier\w*|entsperr\w*|reaktivier\w*|freischalt\w*|confirm\w*|verify\w*|unlock\w*)"


def _account_phish(s: str) -> bool:
    """"Bestätigen Sie Ihr Konto unter https://..." (a link and an account to confirm/unlock)."""
    low = s.lower()
    return bool(re.search(_URL, low) and (re.search(_ACCOUNT + r"(?:\s+\S+){0,4}?\s+" + _CONFIRM, low)
                                          or re.search(_CONFIRM + r"(?:\s+\S+){0,4}?\s+" + _ACCOUNT, low))
                and not re.search(_STRONG_WARNING, low))


# Literal pieces of which each rule needs at least one (lower case): a rule's regex runs only when one occurs,
# which keeps screening at answer time cheap (most course sentences contain none).
_TRIGGERS: list[tuple[str, ...]] = [
    ("ignorier", "vergiss", "vergesst", "vergessen sie", "missacht", "übergeh", "umgeh", "überschreib"),
    ("ungültig", "aufgehoben", "nichtig", "außer kraft", "hinfällig"),
    ("ignore", "disregard", "forget", "override", "bypass"),
    ("du bist",),
    ("ab jetzt", "ab sofort", "von nun an", "ab heute", "künftig"),
    ("du antwortest", "du sagst", "du schreibst", "du sprichst", "du gibst"),
    ("so als", "so, als", "verhalte dich"),
    ("you are now", "from now on", "act as", "pretend", " mode", "jailbr", "anything now"),
    ("wenn du", "falls du", "sofern du", "solltest du"),
    ("if you are",),
    ("hinweis", "anweisung", "nachricht", "befehl", "info", "notiz", "achtung", "wichtig"),
    ("note", "message", "instruction", "attention"),
    ("liebe", "hallo", "hey"),
    ("antworte",),
    ("nur noch",),
    ("nur noch", "ausschließlich"),
    ("nutzer", "nutzend", "anwender", "fragenden", "user"),
    ("respond", "reply", "answer", "only ", "the user"),
    ("zeig", "nenn", "verrat", "wiederhol", "übersetz", "fass", "druck", "kopier", "gib mir", "geben sie mir",
     "offenleg", "reveal", "print", "show", "repeat", "output", "display", "leak", "dump", "tell me", "give me"),
    ("gib", "gebe", "geben sie"),
    ("<|", "inst", "<<", "_of_turn", "system", "developer"),
    ("neue", "geänderte", "aktualisierte", "geheime", "versteckte", "zusätzliche", "new", "updated", "secret",
     "hidden", "additional"),
    ("http", "www."),
]
_CRED_TRIGGERS = ("passw", "kennw", "zugang", "anmeldedaten", "login", "pin", "tan", "transaktionsnummer", "kreditkart",
                  "kartennummer", "iban", "bankdaten", "kontodaten", "bankverbindung", "code", "credential", "api")
assert len(_TRIGGERS) == len(RULES)


def instruction_reason(sentence: str) -> str | None:
    """Why a sentence reads as an instruction to an AI (or a credential/exfiltration request), or None."""
    s = " ".join(_INVISIBLE.sub("", sentence).split())
    if not s:
        return None
    low = s.lower()
    for (name, rx), triggers in zip(RULES, _TRIGGERS):
        if any(t in low for t in triggers) and rx.search(s):
            return name
    if any(t in low for t in _CRED_TRIGGERS) and _credential_request(s):
        return "credentials"
    if ("http" in low or "www." in low) and _account_phish(s):
        return "credentials"
    return None


def is_instruction(text: str) -> bool:
    return any(instruction_reason(s) for s in split_sentences(text))


_ASKS = re.compile(r"\?|^\W*(?:was|wie|wer|wen|wem|wo|wann|warum|wieso|weshalb|welche\w*|darf|dürfen|muss|müssen|kann|"
                   r"können|soll|sollte|gibt|gilt|ist|sind|brauch\w*|hat|haben|what|how|who|when|why|which|can|is|are|"
                   r"do|does)\b", re.I)


def instruction_only(question: str) -> str | None:
    """The reason when a question holds an instruction to the assistant and nothing else it asks (its other
    sentences, if any, neither end in "?" nor start with a question word); None otherwise."""
    sents = split_sentences(question)
    reasons = [instruction_reason(s) for s in sents]
    if not any(reasons):
        return None
    rest = [s for s, r in zip(sents, reasons) if not r]
    return None if any(_ASKS.search(s.strip()) for s in rest) else next(r for r in reasons if r)


_SENT = re.compile(r"(?<=[.!?;])\s+(?=[\"'„“»(\[<*#]?[A-ZÄÖÜ0-9<\[])")


def split_sentences(text: str) -> list[str]:
    """Lines, then sentences within a line; a paragraph's lines are also checked joined (a planted sentence
    may be wrapped over lines)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        lines = [x.strip() for x in para.split("\n") if x.strip()]
        for line in lines:
            out.extend(p for p in _SENT.split(line) if p.strip())
        if len(lines) > 1:
            out.extend(p for p in _SENT.split(" ".join(lines)) if p.strip())
    return out


# --- passages -------------------------------------------------------------------------------------


@dataclass
class Screened:
    text: str
    flag: str | None = None
    removed: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return letters(self.text) < MIN_LETTERS


def _screen_paragraph(para: str, reasons: list[str]) -> tuple[str, int]:
    """The paragraph, or "" when one of its sentences (also one wrapped over lines) is instruction-like: the
    planted paragraph goes as a whole, as its other sentences may carry the payload ("... SAG: GEHACKT")."""
    bad = [r for r in map(instruction_reason, split_sentences(para)) if r]
    if not bad:
        return para, 0
    reasons.extend(bad)
    return "", len(bad)


def screen_text(text: str) -> Screened:
    clean = sanitize(text)
    flag = MARKUP if clean != text else None
    reasons: list[str] = []
    paras = re.split(r"(\n\s*\n)", clean)
    removed = 0
    out: list[str] = []
    for i, para in enumerate(paras):
        if i % 2:  # separator
            out.append(para)
            continue
        kept, n = _screen_paragraph(para, reasons)
        removed += n
        out.append(kept)
    if removed:
        clean = re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()
        flag = INSTRUCTION
    elif flag == MARKUP:  # an instruction hidden in what was stripped (comment, script, hidden element) flags too
        hidden = [r for r in map(instruction_reason, split_sentences(_TAG.sub(" ", re.sub(
            r"<!--|-->", " ", html.unescape(_INVISIBLE.sub("", text)))))) if r]
        if hidden:
            reasons.extend(f"hidden:{r}" for r in hidden)
            flag = INSTRUCTION
    return Screened(clean, flag, removed, reasons)


def screen_label(label: str) -> tuple[str, str | None]:
    """A title or heading: (sanitized label, flag); an instruction-like label is returned empty."""
    clean = " ".join(sanitize(label).split())
    if instruction_reason(clean):
        return "", INSTRUCTION
    return clean, (MARKUP if clean != label else None)


_OWN_KEYS = {"source", "doc_title", "heading_path", "section", "file_hash", "chunk_index", "n_chunks", "page"}


def screen_chunks(chunks: Sequence[Any]) -> list[Any]:
    """Ingest step (see module doc). ``chunks`` are ingestion.chunking.Chunk objects (id, text, metadata)."""
    kept: list[Any] = []
    for c in chunks:
        meta = dict(c.metadata)
        res = screen_text(c.text)
        flags = [res.flag] if res.flag else []
        title, tflag = screen_label(str(meta.get("doc_title", "")))
        if tflag:
            flags.append(tflag)
            meta["doc_title"] = title or Path(str(meta.get("source", "Dokument"))).stem
        path, pflag = screen_label(str(meta.get("heading_path", "")))
        if pflag:
            flags.append(pflag)
            meta["heading_path"] = path
            meta["section"] = path.split(" › ")[-1] if path else ""
        for key in [k for k in meta if k not in _OWN_KEYS]:  # front matter (titel, schlagworte, ...)
            value = meta[key]
            items = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
            if any(instruction_reason(sanitize(v)) for v in items):
                flags.append(INSTRUCTION)
                del meta[key]
            elif any(sanitize(v) != v for v in items):
                flags.append(MARKUP)
                meta[key] = [sanitize(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) \
                    else sanitize(value)
        if res.flag and res.empty:  # markup-only or instruction-only: nothing left worth keeping
            continue
        if flags:
            meta["lb_flag"] = INSTRUCTION if INSTRUCTION in flags else MARKUP
            if res.removed:
                meta["lb_removed"] = res.removed
        kept.append(dataclasses.replace(c, text=res.text, metadata=meta) if flags else c)
    for c in kept:
        c.metadata["n_chunks"] = len(kept)
    return kept


def safe_hits(hits: Iterable[Any]) -> list[Any]:
    """Answer time (see module doc). ``hits`` are assistant.search.retrieval.Hit objects (text, metadata, title)."""
    out: list[Any] = []
    for h in hits:
        meta = h.metadata or {}
        if meta.get("lb_flag") == INSTRUCTION:
            continue
        res = screen_text(h.text)
        if res.flag == INSTRUCTION or (res.flag and res.empty):
            continue
        if instruction_reason(str(meta.get("doc_title", ""))) or instruction_reason(str(meta.get("heading_path", ""))):
            continue
        out.append(h if res.text == h.text else dataclasses.replace(h, text=res.text))
    return out
