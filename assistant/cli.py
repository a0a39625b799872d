"""Command line: ingest, search, ask, serve. German output for users."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .cli_help import GermanCommand, GermanGroup, run
from .search.index import IndexError_
from .roles import Role, parse_role
from .settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=GermanGroup,
                  help="KI-Lernbegleiter: Kursunterlagen indexieren, durchsuchen und Fragen beantworten.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RoleOpt = Annotated[Optional[str], typer.Option(
    "--role", "-r", metavar="ROLLE",
    help="Rolle, auf die die Antwort zugeschnitten wird: owner (Geschäftsführung), employee (Beschäftigte), "
         "works_council (Betriebsrat) oder consultant (Beratung)")]


def count_de(n: int, one: str, many: str) -> str:
    """"1 Passage", "3 Passagen"."""
    return f"{n} {one if n == 1 else many}"


STATUS_LINE = {"added": "neu", "updated": "aktualisiert", "removed": "entfernt"}


def ingest_summary(counts: dict[str, int], passages: int, seconds: float) -> str:
    """The one German summary line of an ingest run."""
    parts = f"{counts['added']} neu, {counts['updated']} aktualisiert, {counts['unchanged']} unverändert, " \
            f"{counts['removed']} entfernt, {counts['failed']} fehlgeschlagen"
    return (f"Ergebnis: {parts}; {count_de(passages, 'Passage', 'Passagen')} im Index, "
            f"{seconds:.1f} s".replace(".", ","))


def _role(value: str | None) -> Role | None:
    try:
        return parse_role(value)
    except ValueError as e:
        err.print(f"[red]Fehler:[/red] {e}")
        raise typer.Exit(2) from None


def _service(settings: Settings, rebuild: bool = False):
    from .service import ChatService

    try:
        return ChatService.build(settings, rebuild=rebuild)
    except IndexError_ as e:
        err.print(f"[red]Fehler:[/red] {e}")
        raise typer.Exit(2) from None


def _service_for_ingest(settings: Settings, rebuild: bool, paths: list[Path]):
    """The service to ingest with. An index built by another embedder is rebuilt automatically:
    its vectors cannot be compared with the configured model's. Every file it held that still
    exists is ingested again together with ``paths``, so nothing the user added is lost."""
    from .search.index import EmbedderMismatch, stored_sources
    from .service import ChatService

    try:
        return ChatService.build(settings, rebuild=rebuild), paths
    except EmbedderMismatch as e:
        old = stored_sources(settings.collection, str(settings.chroma_path), settings.chroma_url)
        given = {p.resolve() for p in paths}
        keep = [Path(s) for s in old if Path(s).is_file() and not any(
            Path(s).resolve() == g or g in Path(s).resolve().parents for g in given)]
        gone = [s for s in old if not Path(s).is_file()]
        err.print(f"Der Index wurde mit dem Embedder „{e.built_with}“ gebaut, eingestellt ist „{e.configured}“. "
                  f"Er wird jetzt neu aufgebaut ({len(old)} Dateien; das dauert etwa eine Minute je 700 Passagen).")
        if gone:
            err.print(f"[yellow]Nicht mehr vorhanden, daher nicht übernommen:[/yellow] {', '.join(gone[:10])}"
                      + (" …" if len(gone) > 10 else ""))
        try:
            return ChatService.build(settings, rebuild=True), paths + keep
        except IndexError_ as e2:
            err.print(f"[red]Fehler:[/red] {e2}")
            raise typer.Exit(2) from None
    except IndexError_ as e:
        err.print(f"[red]Fehler:[/red] {e}")
        raise typer.Exit(2) from None


def _warn_stale(svc, settings: Settings) -> None:
    """List documents older than LB_STAND_WARN_MONTHS (by their front matter `stand`)."""
    from .normen import de_date

    try:
        stale = svc.stale_units()
    except Exception:  # a warning must never stop ingest or serve
        return
    if stale:
        names = ", ".join(f"{name} ({de_date(stand)})" for name, stand in stale[:15])
        more = f" und {len(stale) - 15} weitere" if len(stale) > 15 else ""
        err.print(f"[yellow]Warnung:[/yellow] {count_de(len(stale), 'Einheit hat', 'Einheiten haben')} "
                  f"einen Stand älter als "
                  f"{settings.stand_warn_months} Monate (LB_STAND_WARN_MONTHS) – bitte rechtlich prüfen: "
                  f"{escape(names)}{more}", highlight=False)


@app.command(cls=GermanCommand)
def ingest(paths: Annotated[list[Path], typer.Argument(metavar="PFADE...", help="Dateien oder Ordner")],
           rebuild: Annotated[bool, typer.Option("--rebuild", help="Index verwerfen und neu aufbauen")] = False) -> None:
    """Dateien (md, txt, pdf, docx, html) inkrementell in den Index aufnehmen."""
    settings = Settings()
    svc, paths = _service_for_ingest(settings, rebuild, list(paths))
    started = time.perf_counter()
    results = []
    with Progress(TextColumn("Indexiere"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("ingest", total=None)

        def progress(n: int, total: int) -> None:
            bar.update(task, completed=n, total=total)

        def on_file(r) -> None:
            results.append(r)
            if r.status == "failed":
                bar.console.print(f"[yellow]übersprungen[/yellow] {escape(r.source)}: {escape(r.reason)}")
            elif r.status != "unchanged":
                what = STATUS_LINE.get(r.status, r.status)
                detail = "" if r.status == "removed" else f" ({count_de(r.chunks, 'Passage', 'Passagen')})"
                bar.console.print(f"{what:>12} {escape(r.source)}{detail}", highlight=False)

        report = svc.ingest(paths, on_file=on_file, progress=progress)
    for r in report.results:
        if r not in results and r.status == "failed":
            err.print(f"[yellow]übersprungen[/yellow] {escape(r.source)}: {escape(r.reason)}")
    c = report.counts
    out.print(ingest_summary(c, svc.index.count(), time.perf_counter() - started), highlight=False)
    _warn_stale(svc, settings)
    if c["failed"]:  # a missing path or any skipped file: scripts and `make` must notice
        what = count_de(c["failed"], "Datei oder Pfad konnte", "Dateien oder Pfade konnten")
        err.print(f"[yellow]{what} nicht indexiert werden (siehe oben).[/yellow]")
        raise typer.Exit(1)


@app.command(cls=GermanCommand)
def search(query: Annotated[str, typer.Argument(metavar="FRAGE", help="Frage oder Suchbegriffe")],
           role: RoleOpt = None,
           k: Annotated[int, typer.Option("-k", metavar="ANZAHL", help="Höchstzahl der Treffer")] = 8,
           as_json: Annotated[bool, typer.Option("--json", help="Treffer als JSON ausgeben")] = False,
           mode: Annotated[str, typer.Option(metavar="MODUS", help="Suchverfahren: hybrid (Stichwörter und "
                                                                    "Bedeutung), lexical oder dense")] = "hybrid") -> None:
    """Passagen zu einer Frage suchen."""
    r = _role(role)
    if mode not in ("hybrid", "lexical", "dense"):
        err.print("[red]Fehler:[/red] --mode muss hybrid, lexical oder dense sein.")
        raise typer.Exit(2)
    hits = _service(Settings()).search(query, r, k, mode=mode)  # type: ignore[arg-type]
    if as_json:
        sys.stdout.write(json.dumps({"hits": [{"id": h.id, "text": h.text, "score": h.score, "metadata": h.metadata}
                                              for h in hits]}, ensure_ascii=False, indent=2) + "\n")
        return
    if not hits:
        out.print("Keine Treffer.")
    for i, h in enumerate(hits, 1):
        path = h.metadata.get("heading_path", "")
        page = f" (S. {h.metadata['page']})" if h.metadata.get("page") else ""
        out.print(f"[bold]{i}. {h.title}[/bold]{' › ' + path if path else ''}{page}  [dim]{h.score:.4f}[/dim]")
        out.print(f"   {' '.join(h.text.split())[:240]}", highlight=False)


@app.command(cls=GermanCommand)
def ask(question: Annotated[str, typer.Argument(metavar="FRAGE", help="Ihre Frage, in Anführungszeichen")],
        role: RoleOpt = None) -> None:
    """Eine Frage stellen; die Antwort erscheint Stück für Stück mit Quellen."""
    from .normen import de_date

    r = _role(role)
    svc = _service(Settings())
    for ev in svc.chat(question, r):
        kind, data = ev["event"], ev["data"]
        if kind == "delta":
            out.print(data["text"], end="", highlight=False, markup=False)
        elif kind == "sources" and data:
            out.print("\n\n[bold]Quellen[/bold]")
            for s in data:
                stand = f" – Stand: {de_date(s.get('stand'))}" if s.get("stand") else ""
                out.print(f"  [{s['n']}] {s['label']}{stand}", highlight=False, markup=False)
        elif kind == "notice" and data.get("message"):
            out.print(f"\n{data['message']}", highlight=False, markup=False)
        elif kind == "followups" and data:
            out.print("\n[bold]Weiterfragen[/bold]")
            for f in data:
                out.print(f"  • {f}", highlight=False, markup=False)
        elif kind == "error":
            err.print(f"\n[red]Fehler:[/red] {data['message']}")
            raise typer.Exit(1)
    out.print()


EinsatzOpt = Annotated[Optional[list[str]], typer.Option(
    "--einsatz", metavar="BEREICH", help="mehrfach: texte, kundenkontakt, personalauswahl, personaleinsatz, leistungsbewertung, "
                      "zeiterfassung, maschinen, gesundheit, emotionserkennung")]
DatenOpt = Annotated[Optional[list[str]], typer.Option(
    "--daten", metavar="DATENART", help="mehrfach: beschaeftigte, kunden, gesundheit, standort, leistung")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="md (Ausgabe im Terminal) | docx | pdf")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", metavar="DATEI", help="Datei, in die das Dokument geschrieben wird")]


def _document(kind: str, fields: dict, fmt: str, out_path: Path | None) -> None:
    """Build a briefing or check with the toolkits and print it (md) or write it to a file."""
    from .toolkits.briefing import BriefingInput
    from .toolkits.check import CheckInput
    from .toolkits.course import CourseError
    from .toolkits.document import FORMATS
    from .toolkits.rules import DATEN, EINSATZ
    from .toolkits.service import Toolkits

    if fmt not in FORMATS:
        err.print(f"[red]Fehler:[/red] --format muss {', '.join(FORMATS)} sein.")
        raise typer.Exit(2)
    for key, allowed in (("einsatz", EINSATZ), ("daten", DATEN)):
        wrong = [v for v in fields[key] if v not in allowed]
        if wrong:
            err.print(f"[red]Fehler:[/red] Unbekannte Angabe für --{key}: {escape(', '.join(wrong))}. "
                      f"Erlaubt sind: {', '.join(allowed)}.")
            raise typer.Exit(2)
    try:
        tk = Toolkits.load()
    except CourseError as e:
        err.print(f"[red]Fehler:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    doc = tk.briefing(BriefingInput(**fields)) if kind == "briefing" else tk.check(CheckInput(**fields))
    data = doc.render(fmt)
    if out_path is None and fmt == "md":
        sys.stdout.write(data.decode("utf-8"))
        return
    target = out_path or Path(doc.filename(fmt))
    try:
        target.write_bytes(data)
    except OSError as e:
        err.print(f"[red]Fehler:[/red] Die Datei {escape(str(target))} konnte nicht geschrieben werden "
                  f"({escape(e.strerror or type(e).__name__)}).")
        raise typer.Exit(1) from None
    out.print(f"Geschrieben: {escape(str(target))} ({len(data)} Bytes)", highlight=False)


@app.command(cls=GermanCommand)
def briefing(branche: Annotated[str, typer.Option(metavar="TEXT", help="Branche des Betriebs, z. B. Tischlerei")],
             beschaeftigte: Annotated[Optional[int], typer.Option(min=1, metavar="ANZAHL", help="Zahl der Beschäftigten")] = None,
             betriebsrat: Annotated[bool, typer.Option("--betriebsrat/--kein-betriebsrat", help="Es gibt einen Betriebsrat (Standard: keiner)")] = False,
             werkzeuge: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="KI-Werkzeuge im Einsatz oder geplant")] = "",
             ziele: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="Ziele des Betriebs")] = "",
             sorgen: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="Sorgen und Vorbehalte")] = "",
             einsatz: EinsatzOpt = None, daten: DatenOpt = None,
             cloud: Annotated[bool, typer.Option(help="Externer Anbieter/Cloud verarbeitet Daten")] = False,
             entscheidet: Annotated[bool, typer.Option(help="KI trifft oder bereitet Entscheidungen über Personen vor")] = False,
             arbeit_aendert: Annotated[bool, typer.Option(help="Aufgaben oder Abläufe ändern sich deutlich")] = False,
             fmt: FormatOpt = "md", out_path: OutOpt = None) -> None:
    """Briefing für ein Beratungsgespräch mit einem Betrieb (aus den Kursunterlagen zusammengestellt)."""
    if not branche.strip():
        err.print("[red]Fehler:[/red] Bitte die Branche des Betriebs angeben (--branche).")
        raise typer.Exit(2)
    _document("briefing", dict(branche=branche.strip(), beschaeftigte=beschaeftigte, betriebsrat=betriebsrat,
                               werkzeuge=werkzeuge, ziele=ziele, sorgen=sorgen, einsatz=list(einsatz or []),
                               daten=list(daten or []), cloud=cloud, entscheidet=entscheidet,
                               arbeit_aendert=arbeit_aendert), fmt, out_path)


@app.command(cls=GermanCommand)
def check(beschreibung: Annotated[str, typer.Option(metavar="TEXT", help="Was das KI-System tut")],
          betroffene: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="Wer betroffen ist")] = "",
          anbieter: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="Anbieter, Produkt")] = "",
          einsatz: EinsatzOpt = None, daten: DatenOpt = None,
          cloud: Annotated[bool, typer.Option(help="Externer Anbieter/Cloud verarbeitet Daten")] = False,
          entscheidet: Annotated[bool, typer.Option(help="KI trifft oder bereitet Entscheidungen über Personen vor")] = False,
          betriebsrat: Annotated[bool, typer.Option("--betriebsrat/--kein-betriebsrat", help="Es gibt einen Betriebsrat (Standard: ja; sonst --kein-betriebsrat)")] = True,
          beschaeftigte: Annotated[Optional[int], typer.Option(min=1, metavar="ANZAHL", help="Zahl der Beschäftigten")] = None,
          arbeit_aendert: Annotated[bool, typer.Option(help="Aufgaben oder Abläufe ändern sich deutlich")] = False,
          fmt: FormatOpt = "md", out_path: OutOpt = None) -> None:
    """Prüfung eines KI-Systems für den Betriebsrat: Rechte, Datenschutz, KI-Verordnung, Fragen, Regelungspunkte."""
    if not beschreibung.strip():
        err.print("[red]Fehler:[/red] Bitte beschreiben Sie, was das KI-System tut (--beschreibung).")
        raise typer.Exit(2)
    _document("check", dict(beschreibung=beschreibung.strip(), betroffene=betroffene, anbieter=anbieter,
                            einsatz=list(einsatz or []), daten=list(daten or []), cloud=cloud,
                            entscheidet=entscheidet, betriebsrat=betriebsrat, beschaeftigte=beschaeftigte,
                            arbeit_aendert=arbeit_aendert), fmt, out_path)


@app.command(cls=GermanCommand)
def paths(role: RoleOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="Als JSON ausgeben")] = False) -> None:
    """Die Lernpfade je Rolle zeigen: Einheiten, geschätzte Minuten, warum die Einheit passt, Quizfragen."""
    from .learning.catalog import CatalogError, load_catalog
    from .learning.quiz import QuizError, load_quizzes
    from .learning.service import headline
    from .normen import DEFAULT_CORPUS

    r = _role(role)
    try:
        catalog = load_catalog(DEFAULT_CORPUS)
        quizzes = load_quizzes(DEFAULT_CORPUS, {k: u.sections() for k, u in catalog.units.items()})
    except (CatalogError, QuizError) as e:
        err.print(f"[red]Fehler:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    chosen = [r] if r else list(Role)
    data = [{"role": x.value, "headline": headline(x, len(catalog.path(x).steps), catalog.path(x).minutes),
             "steps": [{"unit_id": s.unit_id, "titel": catalog.units[s.unit_id].titel, "minuten": s.minuten,
                        "warum": s.warum, "quiz_items": len(quizzes.get(s.unit_id, []))}
                       for s in catalog.path(x).steps]} for x in chosen]
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    for p in data:
        out.print(f"\n[bold]{escape(p['headline'])}[/bold]")
        for i, s in enumerate(p["steps"], 1):
            quiz = f", Quiz: {s['quiz_items']} Fragen" if s["quiz_items"] else ""
            out.print(f"  {i}. {escape(s['titel'])} (ca. {s['minuten']} Min.{quiz})", highlight=False)
            out.print(f"     {escape(s['warum'])}", highlight=False, style="dim")


@app.command(cls=GermanCommand)
def serve(host: Annotated[Optional[str], typer.Option(metavar="ADRESSE", help="Adresse, an der der Server lauscht "
                                                                               "(Standard: LB_HOST, sonst 127.0.0.1)")] = None,
          port: Annotated[Optional[int], typer.Option(metavar="PORT", help="Port des Servers "
                                                                           "(Standard: LB_PORT, sonst 8000)")] = None,
          workers: Annotated[int, typer.Option("--workers", "-w", min=1, metavar="ANZAHL",
                                               help="Anzahl der Server-Prozesse (ab 2: Chroma-Server nötig, Redis "
                                                    "und PostgreSQL empfohlen; docs/deploy.md)")] = 1) -> None:
    """Die Web-Anwendung starten (API unter /api, Übersicht unter /)."""
    import uvicorn

    from .web.api import create_app

    settings = Settings()
    if workers > 1:
        _serve_workers(settings, host or settings.host, port or settings.port, workers)
        return
    svc = _service(settings)
    try:
        application = create_app(settings, svc)
    except IndexError_ as e:
        err.print(f"[red]Fehler:[/red] {e}")
        raise typer.Exit(2) from None
    _warn_stale(svc, settings)
    out.print(f"KI-Lernbegleiter läuft auf http://{host or settings.host}:{port or settings.port}")
    # proxy_headers=False: uvicorn would believe X-Forwarded-For from any loopback peer; the app itself
    # applies it for LB_TRUSTED_PROXIES only
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_level="info",
                access_log=False, proxy_headers=False, server_header=False)


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """`serve --workers N`: checked once here, then N uvicorn workers each build the app (assistant/serving)."""
    import os

    from .serving import workers as serving

    errors, warnings = serving.check(settings, workers)
    for e in errors:
        err.print(f"[red]Fehler:[/red] {escape(e)}", highlight=False)
    if errors:
        raise typer.Exit(2)
    for w in warnings:
        err.print(f"[yellow]Warnung:[/yellow] {escape(w)}", highlight=False)
    if "LB_EMBEDDER_THREADS" not in os.environ:  # the workers share the cores; inherited by the spawned workers
        os.environ["LB_EMBEDDER_THREADS"] = str(serving.embedder_threads_for(workers))
    problem = serving.preflight()
    if problem:
        err.print(f"[red]Fehler:[/red] {escape(problem)}", highlight=False)
        raise typer.Exit(2)
    out.print(f"KI-Lernbegleiter läuft auf http://{host}:{port} mit {workers} Prozessen "
              f"(je {os.environ['LB_EMBEDDER_THREADS']} Embedder-Threads)")
    serving.run(host, port, workers)


def main() -> None:
    from pydantic import ValidationError

    from .settings import settings_error_de

    try:
        run(app)
    except ValidationError as e:  # an invalid LB_* variable: one German line, no traceback
        if e.title != Settings.__name__:
            raise
        err.print(settings_error_de(e), markup=False, highlight=False)
        sys.exit(2)

