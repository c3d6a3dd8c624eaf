"""Check recipes without a model: syntax, meaning and the model-free rules."""

from __future__ import annotations

import sys

from recipec.checks import lint
from recipec.diagnostics import Severity
from recipec.recipe import load
from recipec.report import FORMATS, default_format


def add_arguments(p) -> None:
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="output format (default: text; github inside GitHub Actions)")
    p.add_argument("--strict", action="store_true", help="warnings are findings too (exit 1)")
    p.add_argument("--no-imatrix", action="store_true",
                   help="the recipe will be compiled without an imatrix")


def run(args) -> int:
    diags, sources = [], {}
    unreadable = False
    for path in args.recipes:
        loaded = load(path)
        sources.update(loaded.sources)
        found = lint(loaded, expect_imatrix=False if args.no_imatrix else None)
        unreadable |= any(d.code in ("P009",) for d in found)
        diags.extend(found)
    fmt = args.format or default_format()
    sys.stdout.write(FORMATS[fmt](diags, sources))
    if unreadable:
        return 2
    if any(d.severity is Severity.ERROR for d in diags):
        return 1
    if args.strict and any(d.severity is Severity.WARNING for d in diags):
        return 1
    return 0
