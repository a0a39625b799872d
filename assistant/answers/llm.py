"""Optional LLM answers over any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, OpenAI),
with the extractive answerer as decision maker and safety net.

LLMClient     LangChain's ChatOpenAI configured from Settings (llm_*). ``stream()`` yields text pieces as
              they arrive and enforces a first-token timeout and an overall timeout: the blocking LangChain
              stream runs in a worker thread that feeds a queue; the caller's iterator waits on the queue with
              the remaining time. Every failure is raised as LLMError (never anything else).
LLMAnswerer   same interface as ExtractiveAnswerer (``name``, ``stream(query, role, hits, meta, idf, history)``).

How an LLM answer is made:
0. Screening (ingestion.screening): passages flagged at ingest or holding an instruction-like sentence are
   dropped from the hits (``safe_hits``); a question that itself instructs the assistant ("Ignoriere deine
   Anweisungen ...") is answered by the extractive answerer (meta ``screened``) and never sent to the LLM.
1. ``fallback.decide()`` (the extractive rule) judges the evidence. Weak evidence: the extractive decline is
   returned as is (its meta says answerer "extractive"; the LLM is not called) — a refusal must not depend on
   a model that may answer anyway. ``decline_with_llm=True`` lets the LLM phrase it with tasks/decline.md.
2. The top ``max_passages`` hits (plus the role paragraph of the top unit, if any) go to the model as
   numbered ``<quelle nr="n" ...>`` blocks with the role's system prompt and tasks/answer.md.
3. Tokens stream out as ``delta`` events through CitationFilter: a citation [n] naming no passage given to the
   model is dropped; valid ones are renumbered 1..k in order of first appearance; ``sources`` lists exactly
   the cited passages under their new numbers.
4. Output check (simple on purpose). The first ``hold_words`` (12) words are held back and checked before
   anything is sent (0: stream at once, check only at the end); the whole text is checked at the end.
   Unusable is: empty; an echo of the prompt (a ``<quelle`` tag, or two 8-word sequences of the instruction
   text; one in the held-back start); an instruction-like sentence or active markup (ingestion.screening: the
   model was steered anyway); not German (fewer than 12 % German function words among at least 12
   words); no valid citation at all (unless the model declined with the prompt's sentence); a paragraph or
   article (§ n, Art. n) that none of the cited passages names — the works council's "Rechtsgrundlage" must
   list only norms of the cited passages, and an invented norm is worse than no LLM answer.
5. Failure of any kind (unreachable, first-token or overall timeout, connection lost, unusable output):
   a ``notice`` event with a short German message, ``reset`` if deltas were already sent, then the extractive
   answer's events (its meta is dropped — there is one meta per answer). Never an ``error`` event. The
   notice's data also names what answered instead: ``{"message", "fallback": {"answerer", "prompt", "reason"}}``.

``LLMAnswerer.condense(history, question)`` rewrites a follow-up into a standalone question (tasks/condense.md);
None when the LLM fails or the line is not one plausible German question — the caller then uses its heuristic.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from ingestion.screening import instruction_reason, is_instruction, safe_hits, sanitize

from .answering import Event, ExtractiveAnswerer, Source
from ..german import STOPWORDS
from .prompts import PromptSet, load_prompts
from ..search.retrieval import Hit
from ..roles import ROLE_SECTION_PARENT, Role

log = logging.getLogger("lernbegleiter.llm")

NOTICES = {
    "unreachable": "Das Sprachmodell ist gerade nicht erreichbar – hier die Antwort direkt aus den Kursunterlagen.",
    "timeout": "Das Sprachmodell antwortet gerade zu langsam – hier die Antwort direkt aus den Kursunterlagen.",
    "unusable": "Das Sprachmodell hat keine verwertbare Antwort geliefert – hier die Antwort direkt aus den "
                "Kursunterlagen.",
}
DECLINE_SENTENCE = "Dazu finde ich in den Kursunterlagen keine verlässliche Antwort"
NO_HISTORY = "(kein bisheriger Verlauf)"
NO_TOPICS = "(keine)"


class LLMError(Exception):
    """kind: 'unreachable' (connect failed, connection lost, HTTP error) or 'timeout' (first token / overall)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class UnusableOutput(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.kind = "unusable"
        self.detail = detail


def _classify(err: BaseException) -> LLMError:
    import httpx
    import openai

    name = type(err).__name__
    if isinstance(err, (openai.APITimeoutError, httpx.TimeoutException)):
        return LLMError("timeout", name)
    if isinstance(err, openai.APIStatusError):
        return LLMError("unreachable", f"HTTP {err.status_code}")
    if isinstance(err, (openai.APIConnectionError, httpx.HTTPError, OSError)):
        return LLMError("unreachable", name)
    return LLMError("unreachable", name)  # not str(err): it may quote the request (question text)


# --- client -----------------------------------------------------------------------------------------


class LLMClient:
    """Settings used: llm_base_url, llm_model, llm_api_key, llm_temperature, llm_max_tokens, llm_timeout,
    llm_first_token_timeout, and (optional) llm_system_in_user: fold the system prompt into the first user
    turn, for models whose chat template drops system messages (Gemma, e.g. llama.cpp ``--chat_format gemma``)."""

    HEALTH_TTL = 5.0
    HEALTH_TIMEOUT = 2.0

    def __init__(self, settings: Any, chat_model: Any = None) -> None:
        if not settings.llm_base_url:
            raise ValueError("llm_base_url is not set")
        self.base_url = str(settings.llm_base_url).rstrip("/")
        self.model = settings.llm_model
        self.api_key = settings.llm_api_key
        self.max_tokens = int(settings.llm_max_tokens)
        self.timeout = float(settings.llm_timeout)
        self.first_token_timeout = float(settings.llm_first_token_timeout)
        self.system_in_user = bool(getattr(settings, "llm_system_in_user", False))
        self._health: tuple[float, dict[str, Any]] | None = None
        self._health_lock = threading.Lock()
        if chat_model is None:
            import httpx
            from langchain_openai import ChatOpenAI

            chat_model = ChatOpenAI(
                model=self.model, base_url=self.base_url, api_key=self.api_key,
                temperature=settings.llm_temperature,
                # langchain-openai sends max_tokens as `max_completion_tokens`, which llama.cpp's server
                # ignores; extra_body puts the classic `max_tokens` into the request body as well.
                max_tokens=self.max_tokens, extra_body={"max_tokens": self.max_tokens},
                # the read timeout ends a stalled worker thread; the caller's deadlines are enforced in stream()
                timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.first_token_timeout),
                                      read=max(self.first_token_timeout, 1.0)),
                max_retries=0, streaming=True,
            )
        self.chat = chat_model

    def messages(self, system: str, user: str) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        if not system:
            return [HumanMessage(user)]
        if self.system_in_user:
            return [HumanMessage(f"{system}\n\n{user}")]
        return [SystemMessage(system), HumanMessage(user)]

    def stream(self, system: str, user: str, max_tokens: int | None = None,
               timeout: float | None = None) -> Iterator[str]:
        """Text pieces as they arrive. Raises LLMError('timeout') when the first piece takes longer than
        llm_first_token_timeout or the whole answer longer than llm_timeout (or ``timeout``), and
        LLMError('unreachable') for connection and HTTP errors. Closing the iterator stops the worker at
        its next chunk (or at the HTTP read timeout), which closes the HTTP response."""
        n = int(max_tokens or self.max_tokens)
        total = float(timeout or self.timeout)
        q: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._pump, args=(self.messages(system, user), n, q, stop),
                                  name="llm-stream", daemon=True)
        started = time.monotonic()
        worker.start()
        first = True
        try:
            while True:
                now = time.monotonic()
                left = started + total - now
                if first:
                    left = min(left, started + self.first_token_timeout - now)
                if left <= 0:
                    raise LLMError("timeout", "first token" if first else "overall")
                try:
                    kind, value = q.get(timeout=left)
                except queue.Empty:
                    raise LLMError("timeout", "first token" if first else "overall") from None
                if kind == "text":
                    first = False
                    yield value
                elif kind == "end":
                    return
                else:
                    raise _classify(value)
        finally:
            stop.set()

    def _pump(self, messages: list[Any], n: int, q: queue.Queue, stop: threading.Event) -> None:
        try:
            it = self.chat.stream(messages, max_tokens=n, extra_body={"max_tokens": n})
            try:
                for chunk in it:
                    if stop.is_set():
                        break
                    text = chunk.content if isinstance(chunk.content, str) else "".join(
                        p.get("text", "") if isinstance(p, dict) else str(p) for p in chunk.content)
                    if text:
                        q.put(("text", text))
            finally:
                it.close()
            q.put(("end", None))
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            q.put(("error", err))

    def complete(self, system: str, user: str, max_tokens: int | None = None, timeout: float | None = None) -> str:
        return "".join(self.stream(system, user, max_tokens, timeout))

    def health(self) -> dict[str, Any]:
        """GET {base_url}/models with a short timeout; cached for HEALTH_TTL seconds."""
        with self._health_lock:
            if self._health and time.monotonic() - self._health[0] < self.HEALTH_TTL:
                return self._health[1]
        import httpx

        out: dict[str, Any] = {"configured": True, "model": self.model, "base_url": self.base_url}
        try:
            r = httpx.get(f"{self.base_url}/models", timeout=self.HEALTH_TIMEOUT,
                          headers={"Authorization": f"Bearer {self.api_key}"})
            if r.status_code >= 400:
                out |= {"state": "unreachable", "detail": f"HTTP {r.status_code} from /models"}
            else:
                try:
                    ids = [m.get("id") for m in r.json().get("data", [])]
                except (ValueError, AttributeError):
                    ids = []
                listed = "listed" if self.model in ids else f"not listed (server offers {ids[:5]})"
                out |= {"state": "ok", "detail": f"model {listed}"}
        except httpx.HTTPError as err:
            out |= {"state": "unreachable", "detail": type(err).__name__}
        with self._health_lock:
            self._health = (time.monotonic(), out)
        return out


# --- citations --------------------------------------------------------------------------------------


class CitationFilter:
    """Rewrites the model's citations while the text streams in.

    ``[n]``, ``[n, m]``, ``[Quelle n]``: each n must be 1..n_passages (a passage given to the model), else it
    is dropped; a citation with no valid number is removed together with the blanks before it. Valid numbers
    are renumbered 1..k in order of first appearance and written as ``[1][2]``. An unfinished ``[...`` at a
    chunk boundary is held back (at most MAX_OPEN characters) until it closes; trailing blanks are held back
    too, so a dropped citation leaves no stray blank. ``order`` maps model number -> display number."""

    MAX_OPEN = 16
    _FULL = re.compile(r"\[\s*(?:Quellen?|Nr\.?)?\s*(\d{1,3}(?:\s*(?:,|;|und)\s*\d{1,3})*)\s*\]", re.IGNORECASE)
    _OPEN = re.compile(r"\[[\w\s,;.]*", re.IGNORECASE)

    def __init__(self, n_passages: int) -> None:
        self.n_passages = n_passages
        self.order: dict[int, int] = {}
        self.dropped = 0
        self._buf = ""   # unprocessed input (an unfinished "[...")
        self._ws = ""    # trailing blanks of the output, not yet emitted

    def feed(self, chunk: str) -> str:
        self._buf += chunk
        out = self._ws
        self._ws = ""
        while self._buf:
            i = self._buf.find("[")
            if i < 0:
                out += self._buf
                self._buf = ""
                break
            out += self._buf[:i]
            rest = self._buf[i:]
            m = self._FULL.match(rest)
            if m:
                out = self._cite(m.group(1), out)
                self._buf = rest[m.end():]
                continue
            if "]" not in rest and len(rest) <= self.MAX_OPEN and self._OPEN.fullmatch(rest):
                self._buf = rest   # may still become a citation: wait for more text
                break
            out += "["
            self._buf = rest[1:]
        emit = out.rstrip(" \t")
        self._ws = out[len(emit):]
        return emit

    def flush(self) -> str:
        """The held-back rest at the end of the stream; an unfinished citation is dropped."""
        rest = self._buf
        self._buf = ""
        ws, self._ws = self._ws, ""
        if self._OPEN.fullmatch(rest) and re.search(r"\d", rest):
            self.dropped += 1
            return ""
        return ws + rest

    def _cite(self, numbers: str, out: str) -> str:
        shown: list[int] = []
        for tok in re.findall(r"\d+", numbers):
            n = int(tok)
            if not 1 <= n <= self.n_passages:
                self.dropped += 1
                continue
            d = self.order.setdefault(n, len(self.order) + 1)
            if d not in shown:
                shown.append(d)
        if not shown:
            return out.rstrip(" \t")
        return out + "".join(f"[{d}]" for d in shown)

    def rewrite(self, text: str) -> str:
        """The whole text at once (for tests and non-streamed output)."""
        return self.feed(text) + self.flush()


# --- output check -----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-zäöüß]+", re.IGNORECASE)
SHINGLE = 8
EARLY_WORDS = 12
MIN_GERMAN_SHARE = 0.12


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}


def german_share(text: str) -> float:
    w = _words(text)
    return sum(x in STOPWORDS for x in w) / len(w) if w else 0.0


_NORM = re.compile(r"(§§?|Art\.?|Artikel)\s*(\d+[a-z]?)\b", re.IGNORECASE)


def norms(text: str) -> set[str]:
    """Paragraphs and articles named in a text, as "§ 87" / "Art. 88" (the law's name is not compared)."""
    return {f"{'§' if m.group(1).startswith('§') else 'Art.'} {m.group(2).lower()}" for m in _NORM.finditer(text)}


_MARKUP_OUT = re.compile(r"<\s*/?\s*(?:script|iframe|img|svg|style|object|embed)\b|javascript\s*:", re.IGNORECASE)


def is_decline(text: str) -> bool:
    return DECLINE_SENTENCE.lower() in " ".join(text.split()).lower()


def output_problem(text: str, instructions: set[tuple[str, ...]], final: bool, cited: bool,
                   min_words: int = EARLY_WORDS) -> str | None:
    """None when the text looks usable, else a short reason (see module doc, step 4)."""
    if final and not text.strip():
        return "empty"
    if re.search(r"</?\s*quelle\b", text, re.IGNORECASE):
        return "echo: passage tags"
    own = text.replace(DECLINE_SENTENCE, " ")
    if len(_shingles(own) & instructions) >= (2 if final else 1):
        return "echo: instructions"
    if _MARKUP_OUT.search(text) or is_instruction(text):  # steered anyway (planted text, question): not passed on
        return "instruction-like or markup output"
    if len(_words(text)) >= min_words and german_share(text) < MIN_GERMAN_SHARE:
        return "not German"
    if final and not cited and not is_decline(text):
        return "no valid citation"
    return None


# --- formatting of the prompt's data ----------------------------------------------------------------


def _attr(value: Any) -> str:
    return " ".join(str(value or "").replace('"', "'").replace("<", "‹").replace(">", "›").split())


def _data(text: str) -> str:
    # a passage must not close (or open) a <quelle> block itself
    return re.sub(r"<(/?\s*quelle)", r"‹\1", sanitize(text), flags=re.IGNORECASE)


def format_passages(hits: Sequence[Hit]) -> str:
    blocks = []
    for n, h in enumerate(hits, 1):
        m = h.metadata
        attrs = [f'nr="{n}"', f'titel="{_attr(h.title)}"']
        for key, value in (("abschnitt", m.get("heading_path")), ("typ", m.get("typ")),
                           ("baustein", m.get("baustein")), ("seite", m.get("page"))):
            if value:
                attrs.append(f'{key}="{_attr(value)}"')
        blocks.append(f"<quelle {' '.join(attrs)}>\n{_data(h.text.strip())}\n</quelle>")
    return "\n\n".join(blocks)


def format_history(history: Sequence[tuple[str, str]] | None, turns: int = 3, answer_chars: int = 600) -> str:
    """The last ``turns`` question/answer pairs; old citation marks are removed (their numbers refer to
    other sources), long answers shortened."""
    if not history:
        return NO_HISTORY
    parts = []
    for q, a in list(history)[-turns:]:
        a = " ".join(re.sub(r"\s*\[\d+\]", "", a or "").split())
        if len(a) > answer_chars:
            a = a[:answer_chars].rsplit(" ", 1)[0] + " …"
        parts.append(f"Frage: {' '.join(q.split())}\nAntwort: {a}")
    return "\n\n".join(parts)


# --- answerer ---------------------------------------------------------------------------------------


class LLMAnswerer:
    def __init__(self, client: LLMClient, prompts: PromptSet, fallback: ExtractiveAnswerer,
                 max_passages: int = 6, history_turns: int = 3, decline_with_llm: bool = False,
                 condense_max_tokens: int = 80, hold_words: int = EARLY_WORDS) -> None:
        self.client = client
        self.prompts = prompts
        self.fallback = fallback
        self.max_passages = max_passages
        self.history_turns = history_turns
        self.decline_with_llm = decline_with_llm
        self.condense_max_tokens = condense_max_tokens
        self.hold_words = hold_words  # words held back and checked before the first delta; 0: stream at once
        self.name = f"llm:{client.model}"
        self._instructions: dict[tuple[str, str], set[tuple[str, ...]]] = {}

    # same decision as the extractive answerer
    def decide(self, query: str, hits: list[Hit], idf: Callable[[str], float] | None = None,
               lexical_query: str | None = None):
        return self.fallback.decide(query, hits, idf, lexical_query)

    def health(self) -> dict[str, Any]:
        return self.client.health()

    # --- answer ---------------------------------------------------------------------------------

    def stream(self, query: str, role: Role | None, hits: list[Hit], meta: dict[str, Any] | None = None,
               idf: Callable[[str], float] | None = None,
               history: Sequence[tuple[str, str]] | None = None) -> Iterator[Event]:
        hits = safe_hits(hits)  # documents are data: flagged passages never reach the prompt
        screened = instruction_reason(query)
        if screened:  # a question that instructs the assistant is answered extractively; the LLM never sees it
            yield from self.fallback.stream(query, role, hits, {**(meta or {}), "screened": screened}, idf)
            return
        decision = self.decide(query, hits, idf, (meta or {}).get("lexical_query"))
        if not decision.answerable:
            if self.decline_with_llm:
                yield from self._llm_decline(query, role, hits, meta, idf, decision)
            else:
                yield from self.fallback.stream(query, role, hits, meta, idf)
            return
        passages = self._passages(query, role, hits, idf, history)
        rendered = self.prompts.render("answer", role, question=query, passages=format_passages(passages),
                                       history=format_history(history, self.history_turns))
        yield {"event": "meta", "data": {**(meta or {}), "question": query, "role": role.value if role else None,
                                          "answerer": self.name,
                                          "prompt": {"name": rendered.name, "sha256": rendered.sha256},
                                          "decision": asdict(decision)}}
        cf = CitationFilter(len(passages))
        try:
            text = yield from self._stream_checked(rendered, cf, ("answer", role.value if role else ""),
                                                   need_citation=True)
            invented = norms(text) - norms(" ".join(passages[n - 1].text for n in cf.order))
            if invented:
                err = UnusableOutput(f"norm(s) not in the cited passages: {sorted(invented)}")
                err.sent = bool(text)  # type: ignore[attr-defined]
                raise err
        except (LLMError, UnusableOutput) as err:
            yield from self._fallback(err, getattr(err, "sent", False), query, role, hits, meta, idf)
            return
        followups = self.fallback.followups(query, role, hits, history=history)
        if not cf.order:  # the model declined with the prompt's sentence
            yield {"event": "sources", "data": []}
            yield {"event": "followups", "data": followups}
            yield {"event": "done", "data": {"answerable": False, "sources": 0}}
            return
        by_display = sorted(cf.order.items(), key=lambda kv: kv[1])
        sources = [Source.from_hit(d, passages[n - 1]) for n, d in by_display]
        yield {"event": "sources", "data": [asdict(s) | {"label": s.label()} for s in sources]}
        yield {"event": "followups", "data": followups}
        yield {"event": "done", "data": {"answerable": True, "sources": len(sources)}}

    def _stream_checked(self, rendered, cf: CitationFilter, key: tuple[str, str], need_citation: bool):
        """Yields delta events; returns the text sent. Raises LLMError / UnusableOutput with ``.sent``."""
        instructions = self._instruction_shingles(key, rendered)
        tokens = self.client.stream(rendered.system, rendered.user)
        out: list[str] = []
        held = ""
        checked = self.hold_words <= 0
        try:
            for tok in tokens:
                piece = cf.feed(tok)
                if not piece:
                    continue
                if not checked:
                    held += piece
                    if len(_words(held)) < self.hold_words:
                        continue
                    problem = output_problem(held, instructions, final=False, cited=True)
                    if problem:
                        raise UnusableOutput(problem)
                    checked, piece, held = True, held, ""
                out.append(piece)
                yield {"event": "delta", "data": {"text": piece}}
            tail = held + cf.flush()
            problem = output_problem("".join(out) + tail, instructions, final=True,
                                     cited=bool(cf.order) or not need_citation, min_words=EARLY_WORDS)
            if problem:
                raise UnusableOutput(problem)
            if tail:
                out.append(tail)
                yield {"event": "delta", "data": {"text": tail}}
            return "".join(out)
        except (LLMError, UnusableOutput) as err:
            err.sent = bool(out)  # type: ignore[attr-defined]
            raise
        finally:
            tokens.close()

    def _fallback(self, err: LLMError | UnusableOutput, sent: bool, query: str, role: Role | None,
                  hits: list[Hit], meta: dict[str, Any] | None, idf) -> Iterator[Event]:
        log.warning("LLM answer not used (%s: %s); extractive fallback", err.kind, err.detail)
        yield {"event": "notice", "data": {"message": NOTICES[err.kind],
                                            "fallback": {"answerer": self.fallback.name,
                                                         "prompt": {"name": self.fallback.texts.name,
                                                                    "sha256": self.fallback.texts.sha256},
                                                         "reason": f"{err.kind}: {err.detail}"}}}
        if sent:
            yield {"event": "reset", "data": {}}
        for ev in self.fallback.stream(query, role, hits, meta, idf):
            if ev["event"] != "meta":
                yield ev

    def _passages(self, query: str, role: Role | None, hits: list[Hit], idf=None,
                  history: Sequence[tuple[str, str]] | None = None) -> list[Hit]:
        """The blocks the extractive composer chose (short answer, the answering blocks, the role part), whole;
        the top hits when it chose none."""
        store, comp = self.fallback.compose(query, role, hits, idf, [a for _q, a in history or []])
        out = [Hit(b.passage_ids[0], store.render(b), 0.0, {**b.meta, "heading_path": b.heading_path,
                                                             "section": b.section})
               for b in comp.blocks]
        return out[:self.max_passages + 2] or list(hits[:self.max_passages])

    def _instruction_shingles(self, key: tuple[str, str], rendered) -> set[tuple[str, ...]]:
        """8-word sequences of the instruction text (system prompt + task template, without the data)."""
        if key not in self._instructions:
            template = re.sub(r"\{\w+\}", " ", self.prompts.tasks[key[0]].text)
            self._instructions[key] = _shingles(rendered.system) | _shingles(template)
        return self._instructions[key]

    def _llm_decline(self, query, role, hits, meta, idf, decision) -> Iterator[Event]:
        topics = []
        for h in hits[:6]:
            if h.metadata.get("typ") in ("lernsequenz", "umsetzungshilfe") and h.title not in topics:
                topics.append(h.title)
        rendered = self.prompts.render("decline", role, question=query,
                                       topics=", ".join(f"„{t}“" for t in topics[:3]) or NO_TOPICS)
        yield {"event": "meta", "data": {**(meta or {}), "question": query, "role": role.value if role else None,
                                          "answerer": self.name,
                                          "prompt": {"name": rendered.name, "sha256": rendered.sha256},
                                          "decision": asdict(decision)}}
        cf = CitationFilter(0)  # a decline cites nothing: every [n] is removed
        try:
            yield from self._stream_checked(rendered, cf, ("decline", ""), need_citation=False)
        except (LLMError, UnusableOutput) as err:
            yield from self._fallback(err, getattr(err, "sent", False), query, role, hits, meta, idf)
            return
        yield {"event": "sources", "data": []}
        yield {"event": "followups", "data": self.fallback.followups(query, role, hits)}
        yield {"event": "done", "data": {"answerable": False, "sources": 0}}

    # --- follow-up questions ----------------------------------------------------------------------

    def condense(self, history: Sequence[tuple[str, str]] | None, question: str) -> str | None:
        """A follow-up rewritten as a standalone question; the question itself without history; None when
        the LLM fails, times out or returns something that is not one plausible question line."""
        if not history:
            return question
        if instruction_reason(question):  # never handed to the LLM; the caller's heuristic is used
            return None
        rendered = self.prompts.render("condense", None, history=format_history(history, self.history_turns, 300),
                                       question=question)
        try:
            text = self.client.complete(rendered.system, rendered.user, max_tokens=self.condense_max_tokens,
                                        timeout=min(self.client.timeout, self.client.first_token_timeout + 10))
        except LLMError as err:
            log.info("condense failed (%s: %s)", err.kind, err.detail)
            return None
        template = re.sub(r"\{\w+\}", " ", self.prompts.tasks["condense"].text)
        return clean_condensed(text, question, _shingles(template))


def clean_condensed(text: str, question: str, instructions: set[tuple[str, ...]] = frozenset()) -> str | None:
    """The first line, without a "Frage:" label and quotes, if it is one plausible question: ends with "?",
    3..max(300, 3x question) characters, no markup, German, no 8-word sequence of the prompt's instructions."""
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    line = re.sub(r"^(?:\*\*)?(?:eigenständige\s+)?frage\s*:\s*(?:\*\*)?\s*", "", line, flags=re.IGNORECASE)
    line = line.strip(" \t\"'„“”«»*")
    if not 3 <= len(line) <= max(300, 3 * len(question)) or not line.endswith("?"):
        return None
    if re.search(r"[<>\[\]{}]", line) or (len(_words(line)) >= 6 and german_share(line) < MIN_GERMAN_SHARE):
        return None
    if _shingles(line) & instructions:
        return None
    return line


def build_answerer(settings: Any, fallback: ExtractiveAnswerer,
                   prompts: PromptSet | None = None) -> ExtractiveAnswerer | LLMAnswerer:
    """The extractive answerer when no LLM is configured, else an LLMAnswerer over it. Prompts are loaded
    and validated here (PromptError stops the start-up)."""
    if not getattr(settings, "llm_base_url", None):
        return fallback
    return LLMAnswerer(LLMClient(settings), prompts or load_prompts(), fallback,
                       history_turns=getattr(settings, "history_turns", 3))
