"""German help and usage errors for the command line.

Typer/Click print their own frame in English ("Usage:", "Options", "Show this message and exit.",
"Missing argument ..."). The CLI's command and group classes below render the whole help page in
German from the command's parameters instead, and ``run`` turns Click's usage errors into one German
message. Only public attributes of Click parameters are used (name, opts, help, required, default,
is_flag, metavar, nargs), so this does not depend on Typer's internal help renderer.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

HELP_OPTION = "Diese Hilfe anzeigen und beenden."
OPTIONS = "[OPTIONEN]"
WIDTH = 28  # column of the help texts


def _metavar(param: Any) -> str:
    """The value placeholder of an option or argument, in German capitals."""
    if getattr(param, "metavar", None):
        return str(param.metavar)
    name = str(getattr(param, "name", "") or "WERT").upper()
    return name + ("..." if getattr(param, "nargs", 1) not in (1, None) else "")


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False)) or getattr(param, "name", None) == "help"


def _usage(ctx: Any) -> str:
    cmd = ctx.command
    pieces = [OPTIONS]
    if isinstance(cmd, TyperGroup):
        pieces.append("BEFEHL [ARGUMENTE]...")
    pieces += [_metavar(p) for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]
    return f"Aufruf: {ctx.command_path} {' '.join(pieces)}"


def _default(param: Any) -> str:
    default = getattr(param, "default", None)
    if _is_flag(param) or default is None or default == () or callable(default):
        return ""
    if not getattr(param, "show_default", True):
        return ""
    return f" [Standard: {default}]"


def _row(left: str, text: str) -> str:
    if len(left) + 2 >= WIDTH:
        return f"  {left}\n  {' ' * WIDTH}{text}".rstrip()
    return f"  {left.ljust(WIDTH)}{text}".rstrip()


def render_help(ctx: Any) -> str:
    cmd = ctx.command
    lines = [_usage(ctx), ""]
    if cmd.help:
        lines += [" ".join(cmd.help.split()), ""]
    args = [p for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]
    if args:
        lines.append("Argumente:")
        for p in args:
            need = " (erforderlich)" if p.required else ""
            lines.append(_row(_metavar(p), f"{getattr(p, 'help', None) or ''}{need}".strip()))
        lines.append("")
    opts = [p for p in cmd.get_params(ctx) if getattr(p, "param_type_name", "") == "option"]
    if opts:
        lines.append("Optionen:")
        for p in opts:
            names = ", ".join(sorted(p.opts, key=len))
            left = names if _is_flag(p) else f"{names} {_metavar(p)}"
            text = HELP_OPTION if p.name == "help" else (p.help or "")
            lines.append(_row(left, (text + _default(p)).strip()))
        lines.append("")
    if isinstance(cmd, TyperGroup):
        names = cmd.list_commands(ctx)
        if names:
            lines.append("Befehle:")
            for name in names:
                sub = cmd.get_command(ctx, name)
                short = " ".join((sub.help or "").split()) if sub is not None else ""
                lines.append(_row(name, short))
            lines.append("")
            lines.append(f"Hilfe zu einem Befehl: {ctx.command_path} BEFEHL --help")
    return "\n".join(lines).rstrip() + "\n"


class GermanCommand(TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(ctx))

    def get_usage(self, ctx: Any) -> str:
        return _usage(ctx)


class GermanGroup(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if type(cmd) is TyperCommand:  # a command added without cls=GermanCommand gets the German help too
            cmd.__class__ = GermanCommand
        return cmd

    def get_usage(self, ctx: Any) -> str:
        return _usage(ctx)


# --- usage errors ----------------------------------------------------------------------------

_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Missing argument '([^']+)'"), lambda m: f"Es fehlt das Argument {m[1].upper()}."),
    (re.compile(r"Missing option '([^']+)'"), lambda m: f"Es fehlt die Option {m[1]}."),
    (re.compile(r"No such option: (\S+)"), lambda m: f"Unbekannte Option: {m[1]}"),
    (re.compile(r"No such command '([^']+)'"), lambda m: f"Unbekannter Befehl „{m[1]}“."),
    (re.compile(r"Missing command"), lambda m: "Es fehlt ein Befehl."),
    (re.compile(r"Option '([^']+)' requires an argument"), lambda m: f"Die Option {m[1]} braucht einen Wert."),
    (re.compile(r"Option '([^']+)' does not take a value"), lambda m: f"Die Option {m[1]} nimmt keinen Wert."),
    (re.compile(r"Got unexpected extra arguments? \((.*)\)"), lambda m: f"Unerwartete zusätzliche Angabe: {m[1]}"),
    (re.compile(r"Invalid value for '([^']+)': .*valid integer"),
     lambda m: f"Ungültiger Wert für {m[1]}: bitte eine ganze Zahl angeben."),
    (re.compile(r"Invalid value for '([^']+)': '([^']*)' is not a valid (integer|float)"),
     lambda m: f"Ungültiger Wert für {m[1]}: „{m[2]}“ ist keine {'ganze ' if m[3] == 'integer' else ''}Zahl."),
    (re.compile(r"Invalid value for '([^']+)': (.*)"), lambda m: f"Ungültiger Wert für {m[1]}: {m[2]}"),
]


def german_error(message: str) -> str:
    for pattern, make in _ERRORS:
        m = pattern.search(message)
        if m:
            return make(m)
    return message


def run(app: typer.Typer) -> None:
    """Run the Typer app; Click's usage errors and aborts become German messages (exit codes kept)."""
    try:
        rv = app(standalone_mode=False)
    except Exception as e:  # Click's exception classes differ between Typer versions: match by name
        kind = type(e).__name__
        ctx = getattr(e, "ctx", None)
        if kind == "NoArgsIsHelpError" and ctx is not None:
            sys.stderr.write(render_help(ctx))
            sys.exit(2)
        if kind == "Abort":
            sys.stderr.write("Abgebrochen.\n")
            sys.exit(1)
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            if ctx is not None:
                sys.stderr.write(_usage(ctx) + "\n")
                sys.stderr.write(f"Hilfe: {ctx.command_path} --help\n")
            sys.stderr.write(f"Fehler: {german_error(e.format_message())}\n")
            sys.exit(e.exit_code)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)
