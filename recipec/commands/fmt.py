"""Format recipes in the one canonical layout (comments kept, keyword column aligned)."""

from __future__ import annotations

import difflib
import sys

from recipec.diagnostics import Diagnostic, DiagnosticError, Kind
from recipec.exitcodes import exit_code
from recipec.files import write_text_atomically
from recipec.formatter import format_source
from recipec.report import print_text
from recipec.source import SourceFile


def add_arguments(p) -> None:
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="change nothing; print what would change")


def _format(path: str) -> tuple[SourceFile | None, str | None, list[Diagnostic]]:
    """The source and its canonical text, or the diagnostics that stop fmt on PATH."""
    try:
        src = SourceFile.read(path)
    except OSError as exc:
        return None, None, [Diagnostic("P009", f"cannot read recipe {path}: {exc.strerror or exc}",
                                       hint="check the path")]
    try:
        return src, format_source(src), []
    except DiagnosticError as exc:
        found = list(exc.diagnostics)
    # fmt has no findings of its own: a recipe it cannot parse is an input it cannot use (exit 2)
    if all(d.kind is Kind.FINDING for d in found):
        found.append(Diagnostic("U002", f"{path}: not formatted: it does not parse",
                                hint=f"`recipec lint {path}` explains every error"))
    return src, None, found


def run(args) -> int:
    changed = False
    diags: list[Diagnostic] = []
    for path in args.recipes:
        src, text, found = _format(path)
        if found:
            print_text(found, sys.stderr)
            diags.extend(found)
            continue
        if text == src.text:
            continue
        changed = True
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                src.text.splitlines(True), text.splitlines(True), f"{path} (original)", f"{path} (formatted)"))
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
        elif not args.diff:
            write_text_atomically(path, text)
            print(f"reformatted {path}", file=sys.stderr)
    return exit_code(diags, changed=changed and (args.check or args.diff))
