from ingestion.chunking import chunk_document
from ingestion.loaders import Document, Section


def _doc(text: str) -> Document:
    return Document("Titel", [Section(text, ["Titel", "Abschnitt"], page=3)], {"id": "x", "rollen": ["owner"]})


def test_ids_are_stable_and_derived_from_content():
    a = chunk_document(_doc("Erster Absatz.\n\nZweiter Absatz."), "a.md", "h1", 900, 150)
    b = chunk_document(_doc("Erster Absatz.\n\nZweiter Absatz."), "a.md", "h2", 900, 150)
    c = chunk_document(_doc("Erster Absatz geändert.\n\nZweiter Absatz."), "a.md", "h1", 900, 150)
    assert [x.id for x in a] == [x.id for x in b]
    assert [x.id for x in a] != [x.id for x in c]


def test_long_sections_split_by_size_with_overlap_and_metadata_kept():
    sentences = [f"Satz Nummer {i} erklärt einen Aspekt der KI im Betrieb." for i in range(60)]
    chunks = chunk_document(_doc(" ".join(sentences)), "a.md", "h", 400, 80)
    assert len(chunks) > 5
    assert all(len(c.text) <= 400 for c in chunks)
    # overlap: the end of one chunk reappears at the start of the next
    assert any(chunks[0].text[-30:] in chunks[1].text for _ in [0])
    for c in chunks:
        m = c.metadata
        assert m["source"] == "a.md" and m["doc_title"] == "Titel" and m["heading_path"] == "Abschnitt"
        assert m["page"] == 3 and m["doc_id"] == "x" and m["rollen"] == ["owner"]
        assert m["n_chunks"] == len(chunks)
    assert len({c.id for c in chunks}) == len(chunks)


def test_identical_passages_get_distinct_ids():
    doc = Document("T", [Section("Gleicher Text.", ["A"]), Section("Gleicher Text.", ["A"])])
    ids = [c.id for c in chunk_document(doc, "a.md", "h", 900, 150)]
    assert len(set(ids)) == 2
