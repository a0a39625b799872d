"""Synthetic German course material for scale benchmarks.

A *sentence pool* is built from two sources:

* every sentence (>= 40 characters) of the shipped course corpus (real German text), grouped by file;
* template sentences about KI in crafts and small businesses (trade x theme topics), random but
  grammatical German with numbers and names, so the vocabulary grows beyond the corpus.

A *passage* (~900 characters, like a real chunk) is 5-8 sentences of one topic in pool order, plus
sometimes one or two sentences of another topic. Passages are unique texts. Each pool sentence is
embedded once with the real embedder's passage form (``embed_documents``); a passage vector is
composed as the L2-normalised sum of the vectors of its title/heading line and its sentences (see
``compose``). ``fidelity`` measures how close that is to embedding the passage for real. Queries are
never composed: they are embedded at query time with ``embed_query``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import CORPUS

TRADES = [
    ("Bäckerei", "Teig", "Backofen", "Filiale", "Brötchen"),
    ("Tischlerei", "Werkstück", "Formatkreissäge", "Werkstatt", "Einbauschrank"),
    ("Kfz-Werkstatt", "Fahrzeug", "Diagnosegerät", "Hebebühne", "Inspektion"),
    ("Elektrofirma", "Schaltschrank", "Messgerät", "Baustelle", "Photovoltaikanlage"),
    ("Dachdeckerei", "Dachfläche", "Drohne", "Gerüst", "Dachsanierung"),
    ("Malerwerkstatt", "Fassade", "Farbmischanlage", "Lager", "Renovierung"),
    ("Sanitärfirma", "Heizungsanlage", "Wärmepumpe", "Kundendienstwagen", "Badsanierung"),
    ("Friseurmeisterei", "Haarfarbe", "Kassensystem", "Salon", "Terminbuchung"),
    ("Metallbaufirma", "Stahlträger", "Laserschneider", "Halle", "Treppengeländer"),
    ("Zahntechnikwerkstatt", "Zahnersatz", "Fräsmaschine", "Labor", "Keramikkrone"),
    ("Augenoptik", "Brillenglas", "Sehtestgerät", "Geschäft", "Gleitsichtbrille"),
    ("Gebäudereinigung", "Bürofläche", "Reinigungsroboter", "Objekt", "Unterhaltsreinigung"),
    ("Konditorei", "Torte", "Kühltheke", "Café", "Hochzeitstorte"),
    ("Schornsteinfegerei", "Feuerstätte", "Abgasmessgerät", "Kehrbezirk", "Feuerstättenschau"),
    ("Fliesenlegerei", "Fliesenspiegel", "Nassschneider", "Musterausstellung", "Terrassenbelag"),
    ("Gärtnerei", "Pflanzenbeet", "Bewässerungsanlage", "Gewächshaus", "Gartenpflege"),
    ("Druckerei", "Druckauftrag", "Digitaldruckmaschine", "Druckhalle", "Broschüre"),
    ("Steuerkanzlei", "Buchungsbeleg", "Belegscanner", "Kanzlei", "Jahresabschluss"),
    ("Pflegestation", "Pflegeplan", "Tourenplanung", "Station", "Hausbesuch"),
    ("Spedition", "Sendung", "Telematiksystem", "Umschlaglager", "Auslieferung"),
    ("Zimmerei", "Dachstuhl", "Abbundmaschine", "Zimmerplatz", "Holzrahmenbau"),
    ("Orthopädieschuhtechnik", "Maßschuh", "3D-Scanner", "Werkstatt", "Einlagenversorgung"),
    ("Landmaschinenwerkstatt", "Traktor", "Ferndiagnose", "Servicehalle", "Ersatzteilversorgung"),
    ("Goldschmiede", "Schmuckstück", "Lasergravur", "Atelier", "Trauringanfertigung"),
]

THEMES = [
    ("Angebotserstellung", "Angebote", "Kalkulation", "schneller und genauer kalkulieren"),
    ("Terminplanung", "Termine", "Einsatzplanung", "Leerfahrten vermeiden"),
    ("Materialbestellung", "Bestellungen", "Lagerbestand", "Engpässe früh erkennen"),
    ("Qualitätsprüfung", "Prüfungen", "Fehlerquote", "Reklamationen verringern"),
    ("Dokumentation", "Berichte", "Aufmaß", "Schreibarbeit sparen"),
    ("Kundenkommunikation", "Anfragen", "Rückmeldung", "Kunden schneller antworten"),
    ("Rechnungsstellung", "Rechnungen", "Zahlungseingang", "Liquidität sichern"),
    ("vorausschauende Wartung", "Wartungen", "Maschinenausfall", "Stillstände vermeiden"),
    ("Datenschutzorganisation", "personenbezogene Daten", "Einwilligung", "Bußgelder vermeiden"),
    ("Arbeitssicherheit", "Gefährdungen", "Gefährdungsbeurteilung", "Unfälle verhindern"),
    ("Weiterbildung", "Schulungen", "Lernzeit", "KI-Kompetenz aufbauen"),
    ("Mitbestimmung", "Betriebsvereinbarungen", "Beteiligung", "Vertrauen schaffen"),
]

ACTORS = ["die Inhaberin", "der Meister", "die Gesellin", "der Auszubildende", "die Bürokraft", "der Betriebsrat",
          "die Geschäftsführung", "das Team", "die Projektleiterin", "der Kundendienstmonteur", "die Beraterin",
          "der Datenschutzbeauftragte"]
CITIES = ["Bielefeld", "Rosenheim", "Görlitz", "Kassel", "Trier", "Lüneburg", "Erfurt", "Passau", "Ulm", "Rostock",
          "Siegen", "Cottbus", "Bamberg", "Flensburg", "Konstanz", "Gera"]
TOOLS = ["ein Sprachmodell", "eine Bilderkennung", "ein Chatbot", "eine Prognosesoftware", "ein Assistenzsystem",
         "eine Spracherkennung", "ein Empfehlungssystem", "eine Texterkennung"]

TEMPLATES = [
    "In einer {trade} aus {city} nutzt {actor} {tool} für die {theme}, um {goal}.",
    "Bevor {tool} bei der {theme} hilft, klärt {actor} mit dem Team, welche {things} wirklich Zeit kosten.",
    "Die {trade} mit {n} Beschäftigten hat die {theme} drei Monate lang mit {tool} erprobt.",
    "{Actor} prüft jede Empfehlung zur {theme}, bevor das Ergebnis an die Kundschaft geht.",
    "Wer {things} mit {tool} vorbereitet, muss die {metric} weiterhin selbst im Blick behalten.",
    "Nach {n} Wochen zeigte sich in der {trade}, dass sich der Aufwand für {things} um {p} Prozent verringert hat.",
    "Für die {theme} werden Daten aus dem Bereich {place} nur so lange gespeichert, wie es der Zweck verlangt.",
    "Das Werkzeug erkennt Auffälligkeiten beim {object} früher als bisher, entscheidet aber nicht allein.",
    "{Actor} hält in einer kurzen Notiz fest, wie {tool} die {metric} verändert hat.",
    "Im Pilotprojekt der {trade} durfte niemand wegen der {theme} mit KI schlechter gestellt werden.",
    "Die {trade} vereinbart mit dem Anbieter schriftlich, wo die Daten zur {theme} verarbeitet werden.",
    "Ein fester Ansprechpartner für die {theme} sammelt Fragen und Fehler und meldet sie monatlich.",
    "Beim {job} zeigt {tool} mögliche Fehlerquellen an, die {actor} anschließend vor Ort kontrolliert.",
    "Gerade kleine Betriebe wie die {trade} profitieren, wenn die {theme} einfacher und verlässlicher wird.",
    "Die Beschäftigten der {trade} wurden vor dem Start in {n} Stunden zur {theme} mit KI geschult.",
    "Ohne saubere Stammdaten liefert auch {tool} bei der {theme} nur ungenaue Vorschläge.",
    "{Actor} achtet darauf, dass keine Leistungskontrolle über die {theme} eingeführt wird.",
    "Im {place} hängt eine Übersicht, welche Aufgaben der {theme} die KI übernimmt und welche nicht.",
    "Die Kosten für {tool} lagen in der {trade} bei rund {euro} Euro im Monat.",
    "Für den {job} erstellt {tool} einen Entwurf, den {actor} sprachlich und fachlich überarbeitet.",
]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def template_sentences(trade: tuple, theme: tuple, n: int, rng: random.Random) -> list[str]:
    trade_name, obj, machine, place, job = trade
    theme_name, things, metric, goal = theme
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < n * 20:
        tries += 1
        actor = rng.choice(ACTORS)
        tool = rng.choice(TOOLS + [f"die KI-Funktion der {machine}" if not machine.startswith("3D") else "ein 3D-Scanner"])
        s = rng.choice(TEMPLATES).format(
            trade=trade_name, city=rng.choice(CITIES), actor=actor, Actor=_cap(actor), tool=tool, theme=theme_name,
            goal=goal, things=things, metric=metric, n=rng.randint(3, 60), p=rng.randint(5, 45),
            place=place, object=obj, job=job, euro=rng.randint(2, 60) * 10)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


_FRONT = re.compile(r"\A---.*?\n---[ \t]*\n", re.S)


def corpus_topics() -> list[tuple[str, str, list[str]]]:
    """(topic id, title, sentences) per corpus file, real German text."""
    from assistant.german import sentences

    topics = []
    for p in sorted(CORPUS.rglob("*.md")):
        if p.name.lower() == "readme.md":
            continue
        text = p.read_text(encoding="utf-8")
        title_m = re.search(r'^titel:\s*"?(.*?)"?\s*$', text, re.M)
        text = _FRONT.sub("", text)
        sents: list[str] = []
        for line in text.split("\n"):
            if line.lstrip().startswith("#") or "|" in line:
                continue
            for s in sentences(line):
                s = re.sub(r"\*\*|__|`", "", s).lstrip("-*>[] ").strip()
                if len(s) >= 40:
                    sents.append(s)
        if sents:
            topics.append((f"kurs-{p.stem}", title_m.group(1) if title_m else p.stem, sents))
    return topics


@dataclass
class Pool:
    """Sentences grouped by topic, each embedded once."""

    topics: list[tuple[str, str, list[int]]]       # (topic id, title, indices into sentences)
    sentences: list[str]
    vectors: np.ndarray | None = None
    heading_vecs: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, synthetic_topics: int, per_topic: int, seed: int = 7) -> Pool:
        rng = random.Random(seed)
        sents: list[str] = []
        topics: list[tuple[str, str, list[int]]] = []
        for tid, title, ss in corpus_topics():
            topics.append((tid, title, list(range(len(sents), len(sents) + len(ss)))))
            sents.extend(ss)
        pairs = [(t, th) for t in TRADES for th in THEMES]
        rng.shuffle(pairs)
        for trade, theme in pairs[:synthetic_topics]:
            ss = template_sentences(trade, theme, per_topic, rng)
            tid = "synth-" + re.sub(r"[^a-z0-9]+", "-", f"{trade[0]}-{theme[0]}".lower()).strip("-")
            topics.append((tid, f"KI in der {trade[0]}: {_cap(theme[0])}", list(range(len(sents), len(sents) + len(ss)))))
            sents.extend(ss)
        return cls(topics, sents)

    def embed(self, embedder, headings: list[str]) -> float:
        """Embed every pool sentence and every title/heading line once, as passage text
        (``embed_documents``: asymmetric models such as E5 prefix passages and queries differently);
        returns seconds spent."""
        import time

        started = time.perf_counter()
        self.vectors = embedder.embed_documents(self.sentences)
        lines = [heading_line(title, h) for _, title, _ in self.topics for h in headings]
        vecs = embedder.embed_documents(lines)
        self.heading_vecs = dict(zip(lines, vecs))
        return time.perf_counter() - started


HEADINGS = ["Warum ist das Thema wichtig?", "Worum geht es?", "Chancen und Gefahren", "Maßnahmen für den Betrieb",
            "Beispiel aus der Praxis", "Erfahrungen im Betrieb"]
BAUSTEINE = ["grundlagen", "fuehrung", "organisation", "sicherheit", "gesundheit", "betriebsrat"]
ROLES = ["owner", "employee", "works_council", "consultant"]


def heading_line(title: str, heading: str) -> str:
    return f"{title} › {heading}"


@dataclass
class Passage:
    id: str
    text: str
    index_text: str
    metadata: dict[str, Any]
    parts: list[int]          # pool sentence indices
    head: str                 # title/heading line


def passages(pool: Pool, n: int, seed: int = 11, per_doc: int = 24) -> Iterator[Passage]:
    """``n`` unique passages grouped into synthetic documents of ``per_doc`` passages each."""
    rng = random.Random(seed)
    seen: set[str] = set()
    made = 0
    doc_no = 0
    usable = [t for t in pool.topics if len(t[2]) >= 12]
    while made < n:
        doc_no += 1
        tid, title, idx = rng.choice(usable)
        other = rng.choice(usable)[2]
        source = f"synthetic/{tid}/dokument-{doc_no:06d}.md"
        file_hash = hashlib.sha256(source.encode()).hexdigest()[:32]
        count = min(per_doc, n - made)
        doc_meta = {"doc_id": f"{tid}-{doc_no}", "typ": rng.choice(["lernsequenz", "umsetzungshilfe"]),
                    "baustein": rng.choice(BAUSTEINE), "rollen": rng.sample(ROLES, rng.randint(1, 3)),
                    "schlagworte": ["KI", title.split(":")[-1].strip()], "doc_title": title, "source": source,
                    "file_hash": file_hash, "n_chunks": count}
        k = dups = 0
        while k < count and dups < 50:
            take = sorted(rng.sample(idx, min(len(idx), rng.randint(5, 8))))
            if rng.random() < 0.3:
                take += rng.sample(other, min(len(other), rng.randint(1, 2)))
            text = " ".join(pool.sentences[i] for i in take)
            if len(text) > 1100:  # like the splitter: a passage stays near the chunk size
                while len(take) > 3 and len(" ".join(pool.sentences[i] for i in take)) > 1100:
                    take.pop()
                text = " ".join(pool.sentences[i] for i in take)
            digest = hashlib.sha256(text.encode()).hexdigest()[:24]
            if digest in seen:
                dups += 1
                continue
            seen.add(digest)
            heading = rng.choice(HEADINGS)
            head = heading_line(title, heading)
            meta = dict(doc_meta, heading_path=heading, section=heading, chunk_index=k)
            yield Passage(digest, text, f"{head}\n{text}", meta, take, head)
            k += 1
            made += 1


def compose(pool: Pool, p: Passage) -> np.ndarray:
    """The passage vector: normalised sum of its title/heading vector and its sentence vectors."""
    assert pool.vectors is not None
    v = pool.heading_vecs[p.head] + pool.vectors[p.parts].sum(axis=0)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


class LookupEmbedder:
    """Stands in for the real embedder while *writing* a scale index: ``embed_documents`` (what
    ``PassageIndex.upsert`` calls) returns the composed vector of a passage's index text. Same name and
    dimension as the real one, so the collection is marked as built by it and the real embedder opens it
    for queries. The query forms go to the real embedder (not used while writing)."""

    def __init__(self, real, table: dict[str, np.ndarray]) -> None:
        self.name, self.dim = real.name, real.dim
        self._real = real
        self._table = table

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._table[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._real.embed_query(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._real.embed_queries(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._real.embed(texts)


# --- PDFs -------------------------------------------------------------------------------------


def write_pdfs(pool: Pool, out_dir: Path, pages: int, pages_per_file: int = 50, seed: int = 3) -> list[Path]:
    """German PDFs with headings, body paragraphs (~2,000 characters a page) and page-number footers."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = A4
    left, right, top, bottom = 70, width - 70, height - 70, 80
    files: list[Path] = []
    page_no = 0
    file_no = 0
    while page_no < pages:
        file_no += 1
        tid, title, idx = pool.topics[rng.randrange(len(pool.topics))]
        path = out_dir / f"leitfaden-{file_no:03d}.pdf"
        c = canvas.Canvas(str(path), pagesize=A4)
        c.setTitle(f"{title} – Leitfaden {file_no}")
        n_pages = min(pages_per_file, pages - page_no)
        for p in range(1, n_pages + 1):
            y = top
            heading = rng.choice(HEADINGS)
            c.setFont("Helvetica-Bold", 14)
            c.drawString(left, y, f"{p}. {heading}")
            y -= 28
            c.setFont("Helvetica", 10.5)
            chars = 0
            while chars < 2000 and y > bottom + 40:
                para = " ".join(pool.sentences[i] for i in sorted(rng.sample(idx, min(len(idx), rng.randint(2, 4)))))
                line = ""
                for word in para.split():
                    trial = f"{line} {word}".strip()
                    if stringWidth(trial, "Helvetica", 10.5) > right - left:
                        c.drawString(left, y, line)
                        y -= 14
                        chars += len(line)
                        line = word
                        if y <= bottom + 14:
                            break
                    else:
                        line = trial
                if line and y > bottom + 14:
                    c.drawString(left, y, line)
                    chars += len(line)
                y -= 22  # paragraph gap
            c.setFont("Helvetica", 8)
            c.drawString(left, bottom - 30, f"KI im Handwerk – Leitfaden {file_no}")
            c.drawRightString(right, bottom - 30, f"Seite {p}")
            c.showPage()
        c.save()
        files.append(path)
        page_no += n_pages
    return files
