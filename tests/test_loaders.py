"""Every loader on real files made here, and every kind of bad file."""

from __future__ import annotations

import pytest

from ingestion.chunking import chunk_document
from ingestion.loaders import LoadError, load

from .fixtures import HTML, MARKDOWN, make_docx, make_encrypted_pdf, make_pdf, make_scan_pdf


def test_markdown_front_matter_and_heading_path(tmp_path):
    p = tmp_path / "einheit.md"
    p.write_text(MARKDOWN, encoding="utf-8")
    doc = load(p)
    assert doc.title == "Testeinheit zum Datenschutz"
    assert doc.metadata["id"] == "test-einheit" and doc.metadata["rollen"] == ["works_council", "employee"]
    paths = [s.heading_path for s in doc.sections]
    assert ["Testeinheit zum Datenschutz", "Was das für Sie heißt", "Betriebsrat"] in paths
    chunks = chunk_document(doc, "einheit.md", "h", 900, 150)
    br = next(c for c in chunks if c.metadata["section"] == "Betriebsrat")
    assert br.metadata["heading_path"] == "Was das für Sie heißt › Betriebsrat"
    assert br.metadata["doc_id"] == "test-einheit" and br.metadata["baustein"] == "organisation"
    assert br.metadata["stand"] == "2026-11-21"  # dates become strings for Chroma


def test_plain_text(tmp_path):
    p = tmp_path / "notiz.txt"
    p.write_text("1 EINLEITUNG\n\nKI hilft im Betrieb bei vielen Auf-\ngaben.\n", encoding="utf-8")
    doc = load(p)
    assert doc.sections[0].heading_path == ["1 EINLEITUNG"]
    assert "Aufgaben" in doc.sections[0].text


def test_pdf_keeps_page_numbers(tmp_path):
    p = make_pdf(tmp_path / "leitfaden.pdf", [
        "Seite eins behandelt die Grundlagen der KI im Betrieb.",
        "Seite zwei behandelt die Mitbestimmung des Betriebsrats.",
    ], title="Leitfaden")
    doc = load(p)
    assert doc.title == "Leitfaden"
    pages = {s.page: s.text for s in doc.sections}
    assert set(pages) == {1, 2}
    assert "Mitbestimmung" in pages[2] and "Grundlagen" in pages[1]
    chunks = chunk_document(doc, "leitfaden.pdf", "h", 900, 150)
    assert {c.metadata["page"] for c in chunks} == {1, 2}


def test_docx_heading_structure(tmp_path):
    doc = load(make_docx(tmp_path / "leitfaden.docx"))
    assert doc.title == "Leitfaden KI im Betrieb"
    by_text = {s.text: s.heading_path for s in doc.sections}
    path = next(v for k, v in by_text.items() if "Daten von Beschäftigten" in k)
    assert path == ["Leitfaden KI im Betrieb", "Datenschutz", "Beschäftigtendaten"]
    assert next(v for k, v in by_text.items() if "Schulung zum" in k) == ["Leitfaden KI im Betrieb", "Schulung"]


def test_html_main_text_and_headings_without_navigation_or_scripts(tmp_path):
    p = tmp_path / "ratgeber.html"
    p.write_text(HTML, encoding="utf-8")
    doc = load(p)
    text = "\n".join(s.text for s in doc.sections)
    assert "Handwerksbetriebe nutzen KI" in text
    assert "GEHEIMES_SKRIPT" not in text and "NAVIGATIONSMENUE" not in text and "FUSSZEILE" not in text
    assert any(s.heading_path and s.heading_path[-1] == "Datenschutz beachten" for s in doc.sections)
    assert "KI im Handwerk" in doc.title


@pytest.mark.parametrize("kind, expected", [
    ("encrypted_pdf", "passwortgeschützt"),
    ("corrupt_pdf", "PDF"),
    ("scan_pdf", "keinen Text"),
    ("empty", "leer"),
    ("unknown_ext", "nicht unterstützt"),
    ("latin1", "UTF-8"),
    ("docx_not_zip", "keine gültige DOCX-Datei"),
    ("binary_txt", "Binärdaten"),
    ("bad_front_matter", "YAML"),
])
def test_bad_files_raise_german_reason(tmp_path, kind, expected):
    if kind == "encrypted_pdf":
        src = make_pdf(tmp_path / "src.pdf", ["Geheimer Inhalt über KI."])
        p = make_encrypted_pdf(tmp_path / "geheim.pdf", src)
    elif kind == "corrupt_pdf":
        p = tmp_path / "kaputt.pdf"
        p.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ngarbage\x00\x01" * 3)
    elif kind == "scan_pdf":
        p = make_scan_pdf(tmp_path / "scan.pdf")
    elif kind == "empty":
        p = tmp_path / "leer.md"
        p.write_bytes(b"")
    elif kind == "unknown_ext":
        p = tmp_path / "tabelle.xlsx"
        p.write_bytes(b"PK\x03\x04 not really")
    elif kind == "latin1":
        p = tmp_path / "alt.txt"
        p.write_bytes("Größere Änderungen für Beschäftigte".encode("latin-1"))
    elif kind == "docx_not_zip":
        p = tmp_path / "falsch.docx"
        p.write_text("Ich bin nur Text", encoding="utf-8")
    elif kind == "binary_txt":
        p = tmp_path / "bild.txt"
        p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    else:
        p = tmp_path / "kopf.md"
        p.write_text("---\ntitel: [nicht geschlossen\n---\n# Text\n\nInhalt.", encoding="utf-8")
    with pytest.raises(LoadError) as err:
        load(p)
    assert expected in str(err.value)
