"""Format recipes in the one canonical layout (comments kept, keyword column aligned)."""

from __future__ import annotations

import difflib
import sys

from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.exitcodes import exit_code
from recipec.files import write_text_atomically
from recipec.report import print_text
from recipec.source import MAX_RECIPE_BYTES, SourceFile


def add_arguments(p) -> None:
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="change nothing; print what would change")


def _format(path: str) -> tuple[SourceFile | None, str | None, list[Diagnostic]]:
    """The source and its canonical text, or the diagnostics that stop fmt on PATH."""
    from recipec.formatter import format_source

    try:
        src = SourceFile.read(path, limit=MAX_RECIPE_BYTES)
    except OSError as exc:
        return None, None, [Diagnostic("P009", f"cannot read recipe {path}: {exc.strerror or exc}",
                                       hint="check the path")]
    try:
        return src, format_source(src), []
    except DiagnosticError as exc:
        # a syntax error is a finding, as in `lint` (exit 1); the file is left as it is
        return src, None, list(exc.diagnostics)


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
            try:
                write_text_atomically(path, text)
            except OSError as exc:  # the recipe was read but cannot be replaced: an input problem (exit 2)
                unwritable = Diagnostic("U002", f"cannot write {path}: {exc.strerror or exc}",
                                        hint="check the file's and its folder's permissions")
                print_text([unwritable], sys.stderr)
                diags.append(unwritable)
                continue
            print(f"reformatted {path}", file=sys.stderr)
    return exit_code(diags, changed=changed and (args.check or args.diff))
