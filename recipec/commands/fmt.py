"""Format recipes in the one canonical layout (comments kept, keyword column aligned)."""

from __future__ import annotations

import difflib
import os
import sys
import tempfile

from recipec.diagnostics import DiagnosticError
from recipec.formatter import format_source
from recipec.report import print_text
from recipec.source import SourceFile


def add_arguments(p) -> None:
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="change nothing; print what would change")


def _write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".recipec-fmt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args) -> int:
    changed = failed = 0
    for path in args.recipes:
        try:
            try:
                src = SourceFile.read(path)
            except OSError as exc:
                from recipec.diagnostics import error
                raise error("P009", f"cannot read recipe {path}: {exc.strerror or exc}", hint="check the path")
            text = format_source(src)
        except DiagnosticError as exc:
            print_text(exc.diagnostics, sys.stderr)
            failed += 1
            continue
        if text == src.text:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                src.text.splitlines(True), text.splitlines(True), f"{path} (original)", f"{path} (formatted)"))
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
        elif not args.diff:
            _write_atomic(path, text)
            print(f"reformatted {path}", file=sys.stderr)
    if failed:
        return 2
    return 1 if changed and (args.check or args.diff) else 0
