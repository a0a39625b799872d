from ingestion.loaders import load
from ingestion.normalize import is_heading_line, normalize_text, reflow_paragraphs

from .conftest import SEEDS


def test_line_break_hyphenation_joined_but_real_hyphens_kept():
    assert normalize_text("KI-Anwen-\ndungen") == "KI-Anwendungen"
    assert normalize_text("die KI-\nKompetenz") == "die KI-Kompetenz"
    assert normalize_text("Arbeits- und Organisationsgestaltung") == "Arbeits- und Organisationsgestaltung"
    # a blank line left by the PDF extractor between the halves
    assert normalize_text("Kompeten-\n\nzen") == "Kompetenzen"


def test_ligatures_soft_hyphens_tabs_and_whitespace():
    assert normalize_text("\ufb01nden \ufb02ie\u00dfen Ma\u00adschine") == "finden fließen Maschine"
    assert normalize_text("Kleine\tund\t\tmittlere  Unternehmen\u00a0(KMU)") == "Kleine und mittlere Unternehmen (KMU)"
    assert normalize_text("a\r\n\r\n\r\n\r\nb") == "a\n\nb"


def test_reflow_joins_wrapped_lines_of_pdf_extracts():
    text = "Die Einführung von KI verändert die Arbeit in vielen\n\nBetrieben des Handwerks deutlich.\n\nNeuer Absatz."
    assert reflow_paragraphs(text) == [
        "Die Einführung von KI verändert die Arbeit in vielen Betrieben des Handwerks deutlich.", "Neuer Absatz."]


def test_headings_in_plain_text():
    assert is_heading_line("3.1 Qualifizierungsbaustein: KI-Grundlagen")
    assert is_heading_line("VORWORT")
    assert not is_heading_line("Das ist ein ganz normaler Satz, der mit einem Punkt endet.")


def test_seed_extract_is_cleaned():
    doc = load(SEEDS / "002_e1dcf2f0df137485.txt")
    text = "\n".join(s.text for s in doc.sections)
    assert "\t" not in text
    assert "KI-Anwendungen" in text and "KI-Anwen-" not in text  # "KI-Anwen-\ndungen" in the extract
    assert "Beratungsangebote" in text  # "Beratungs-\nangebote"
    assert any("BETRIEBSRÄTEN" in " ".join(s.heading_path) for s in doc.sections)
