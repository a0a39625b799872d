"""Blocks (what an answer quotes whole) and authored questions as retrieval keys: no model needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answers.blocks import BlockStore
from ingestion.blocks import block_with, split_blocks
from ingestion.chunking import QUESTION_KIND, chunk_document
from ingestion.limits import LoadError
from ingestion.loaders import load

SECTION = """Ein Betrieb sollte diese Kennzahlen erheben:

| Kennzahl | Wie oft |
|---|---|
| Anwendungsquote | vierteljährlich |
| Zeitersparnis | halbjährlich |

Dazu kommen weitere Punkte:

- Erstens ein Punkt,
  der umbricht.
- Zweitens.

- Drittens, nach einer Leerzeile.

> Hinweis: Diese Einheit dient der Orientierung und ist keine Rechtsberatung.

**Frage:** Was misst die Anwendungsquote?
**Antwort:** Wie viele Beschäftigte KI tatsächlich nutzen.
"""


def test_split_blocks_keeps_tables_lists_and_pairs_whole():
    blocks = split_blocks(SECTION)
    assert [b.kind for b in blocks] == ["table", "list", "note", "qa"]
    table, lst, note, qa = blocks
    assert table.text.startswith("Ein Betrieb sollte") and "Zeitersparnis" in table.text  # intro travels along
    assert "der umbricht" in lst.text and "Drittens" in lst.text and lst.text.startswith("Dazu kommen")
    assert "Rechtsberatung" in note.text
    assert "**Antwort:**" in qa.text and "**Frage:**" in qa.text


def test_block_with_finds_the_block_of_a_beleg_across_line_breaks():
    assert block_with(SECTION, "Erstens ein Punkt, der umbricht").kind == "list"
    assert block_with(SECTION, "steht nirgends") is None


UNIT = """---
id: test-einheit
titel: "Testeinheit"
typ: lernsequenz
baustein: grundlagen
rollen: [owner]
schlagworte: ["Test"]
stand: 2026-11-29
quellen: ["001 Kap. 1"]
nr: 1
fragen:
  - frage: "lohnt sich das für uns überhaupt?"
    rollen: [owner]
    abschnitt: "Warum ist das Thema wichtig?"
    beleg: "spart jede Woche Zeit"
  - frage: "was sagt der kurs zum betriebsrat?"
    rollen: [works_council]
    abschnitt: "Was das für Sie heißt › Betriebsrat"
    beleg: "Der Betriebsrat fragt nach"
  - frage: "diese Frage zeigt ins Leere"
    rollen: [owner]
    abschnitt: "Worum geht es?"
    beleg: "gibt es nicht"
---

# Testeinheit

## Warum ist das Thema wichtig?

Ein guter Einstieg spart jede Woche Zeit, wenn alle mitmachen.

Ein zweiter Absatz ohne Bezug.

## Worum geht es?

Es geht um Tests.

## Was das für Sie heißt

### Betriebsrat

Der Betriebsrat fragt nach, wofür die Daten verwendet werden.
"""


def test_authored_questions_become_retrieval_keys_for_their_block(tmp_path: Path):
    f = tmp_path / "test-einheit.md"
    f.write_text(UNIT, encoding="utf-8")
    doc = load(f)
    chunks = chunk_document(doc, str(f), "h", 900, 150)
    asked = [c for c in chunks if c.metadata.get("kind") == QUESTION_KIND]
    assert len(asked) == 2  # the third points to a beleg that does not exist: no chunk
    first = next(c for c in asked if c.metadata["frage"].startswith("lohnt"))
    assert first.index_text == "lohnt sich das für uns überhaupt?"   # search sees the question
    assert first.text == "Ein guter Einstieg spart jede Woche Zeit, wenn alle mitmachen."  # the answer shows the block
    assert first.metadata["heading_path"] == "Warum ist das Thema wichtig?"
    br = next(c for c in asked if c.metadata["frage"].startswith("was sagt"))
    assert br.metadata["heading_path"] == "Was das für Sie heißt › Betriebsrat"
    assert br.metadata["frage_rollen"] == ["works_council"]
    assert all("fragen" not in c.metadata for c in chunks)  # not copied into every passage
    assert all(c.metadata["n_chunks"] == len(chunks) for c in chunks)


def test_malformed_questions_are_refused_in_german(tmp_path: Path):
    f = tmp_path / "kaputt.md"
    f.write_text(UNIT.replace('  - frage: "lohnt sich das für uns überhaupt?"', "  - frage: 5\n    x: 1"),
                 encoding="utf-8")
    with pytest.raises(LoadError, match="fragen"):
        load(f)


class _P:
    def __init__(self, id, text, metadata):
        self.id, self.text, self.metadata = id, text, metadata


def test_block_store_rebuilds_sections_from_overlapping_passages():
    meta = {"doc_id": "u", "doc_title": "U", "source": "u.md", "heading_path": "Maßnahmen für den Betrieb"}
    text = "1. Erster Schritt mit genug Text.\n2. Zweiter Schritt mit genug Text.\n3. Dritter Schritt."
    a, b = text[:60], text[40:]  # 20 characters of overlap, as the splitter leaves them
    store = BlockStore()
    store._build([_P("p1", a, {**meta, "chunk_index": 0}), _P("p2", b, {**meta, "chunk_index": 1}),
                  _P("q1", "1. Erster Schritt", {**meta, "kind": "frage", "frage": "wie fang ich an?"})])
    blocks = store.section("u", "Maßnahmen für den Betrieb")
    assert len(blocks) == 1 and blocks[0].text == text and blocks[0].kind == "list"
    assert {b.key for b in store.of_passage("p1")} == {blocks[0].key} == {b.key for b in store.of_passage("p2")}
    assert store.questions["u"][0].text == "wie fang ich an?"


def test_rendered_blocks_link_units_by_title_never_by_id():
    meta = {"doc_id": "a", "doc_title": "Einheit A", "source": "a.md", "heading_path": "Rechtsgrundlagen"}
    store = BlockStore()
    store._build([_P("p", "- **§ 90 BetrVG:** Unterrichtung (siehe `b-zwei`).\n- **§ 111 BetrVG:** Betriebsänderung.",
                     {**meta, "chunk_index": 0}),
                  _P("r", "Text der Einheit B, lang genug für einen Block.", {"doc_id": "b-zwei", "doc_title": "Einheit B",
                                                                        "source": "b.md", "heading_path": "X"})])
    items = store.section("a", "Rechtsgrundlagen")
    assert [b.kind for b in items] == ["item", "item"]  # one norm per block
    shown = store.render(items[0])
    assert "[Einheit B](/kurs/b-zwei)" in shown and "`b-zwei`" not in shown
