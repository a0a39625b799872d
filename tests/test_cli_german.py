"""The command line speaks German everywhere a user looks: every --help page, usage errors, the ingest
summary (once, singular/plural right), and a corrupt PDF's reason without the parser library's message."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

ENGLISH = re.compile(r"Usage|Options|Arguments|Commands|Show this message|\[default|\[required|required\]|"
                     r"<bool>|<str>|<int>|<path>|env var|Try '|Error\b|Missing|Aborted", re.IGNORECASE)


def _cli(*args: str, data_dir, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LB_DATA_DIR": str(data_dir), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _commands() -> list[str]:
    import typer

    from assistant.cli import app

    group = typer.main.get_command(app)
    ctx = group.make_context("lernbegleiter", [], resilient_parsing=True)
    return group.list_commands(ctx)


def test_every_help_page_is_german(tmp_path):
    commands = _commands()
    assert {"ingest", "search", "ask", "serve"} <= set(commands)
    for args in [[], *[[c] for c in commands]]:
        r = _cli(*args, "--help", data_dir=tmp_path / "data")
        page = r.stdout
        assert r.returncode == 0, (args, r.stderr)
        assert page.startswith("Aufruf: "), (args, page)
        assert "Diese Hilfe anzeigen und beenden." in page, (args, page)
        assert not ENGLISH.search(page), (args, ENGLISH.search(page)[0], page)
        if args:
            assert "Optionen:" in page
    top = _cli("--help", data_dir=tmp_path / "data").stdout
    assert "Befehle:" in top and all(re.search(rf"^  {c}\s+\S", top, re.M) for c in commands), top


def test_every_command_option_and_argument_has_help_text():
    import typer

    from assistant.cli import app

    group = typer.main.get_command(app)
    ctx = group.make_context("lernbegleiter", [], resilient_parsing=True)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert (cmd.help or "").strip(), f"command {name} has no help text"
        for p in cmd.params:
            assert (getattr(p, "help", None) or "").strip(), f"{name}: {p.name} has no help text"


def test_usage_errors_are_german(tmp_path):
    cases = [(["search"], "Es fehlt das Argument FRAGE."),
             (["gibtsnicht"], "Unbekannter Befehl „gibtsnicht“."),
             (["search", "KI", "-k", "viele"], "bitte eine ganze Zahl angeben"),
             (["ingest", "--gibtsnicht", "x"], "Unbekannte Option: --gibtsnicht")]
    for args, message in cases:
        r = _cli(*args, data_dir=tmp_path / "data")
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)
        assert "Aufruf: " in r.stderr and not ENGLISH.search(r.stderr), (args, r.stderr)
    bare = _cli(data_dir=tmp_path / "data")  # no command: the German overview
    assert bare.returncode == 2 and "Befehle:" in bare.stdout + bare.stderr


def test_ingest_summary_once_in_german_with_singular(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Titel\n\nEin kurzer Text über KI im Betrieb.\n", encoding="utf-8")
    (docs / "kaputt.pdf").write_bytes(b"%PDF-1.4\n" + b"x" * 3000)  # no xref, no %%EOF
    r = _cli("ingest", str(docs), data_dir=tmp_path / "data", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    out = r.stdout + r.stderr
    assert "neu docs/a.md (1 Passage)" in out, out
    summary = [line for line in r.stdout.splitlines() if line.startswith("Ergebnis:")]
    assert summary == ["Ergebnis: 1 neu, 0 aktualisiert, 0 unverändert, 0 entfernt, 1 fehlgeschlagen; "
                       "1 Passage im Index, " + summary[0].rsplit(", ", 1)[1]], r.stdout
    assert re.fullmatch(r"\d+,\d s", summary[0].rsplit(", ", 1)[1])
    for english in ("added", "updated", "unchanged", "removed", "failed", "Passagen)", "Datei(en)", "EOF marker"):
        assert english not in out, (english, out)
    assert "docs/kaputt.pdf: Das PDF ist beschädigt oder unvollständig" in r.stderr
    assert "1 Datei oder Pfad konnte nicht indexiert werden" in r.stderr


def test_pdf_library_messages_go_to_the_debug_log_only(capfd, caplog):
    from ingestion.limits import IngestLimits
    from ingestion.loaders import LoadError, load_bytes

    caplog.set_level(logging.DEBUG, logger="lernbegleiter.ingest")
    with pytest.raises(LoadError) as err:
        load_bytes("kaputt.pdf", b"%PDF-1.4\n" + b"x" * 3000, IngestLimits())
    assert str(err.value).startswith("Das PDF ist beschädigt")
    printed = capfd.readouterr()
    assert "EOF marker" not in printed.err + printed.out
    assert any("EOF marker not found" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    # the library's logger is restored afterwards
    assert logging.getLogger("pypdf").propagate is True
