"""Check recipes without a model: syntax, meaning and the model-free rules."""

from __future__ import annotations

import sys

from recipec.exitcodes import exit_code
from recipec.report import FORMATS, default_format


def add_arguments(p) -> None:
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="output format (default: text; github inside GitHub Actions)")
    p.add_argument("--strict", action="store_true", help="warnings are findings too (exit 1)")
    p.add_argument("--no-imatrix", action="store_true",
                   help="the recipe will be compiled without an imatrix")


def run(args) -> int:
    from recipec.parser import gc_paused

    with gc_paused():  # one pause for the whole command: each resume would scan all it built
        return _run(args)


def _run(args) -> int:
    from recipec.checks import lint
    from recipec.recipe import load

    diags, sources = [], {}
    for path in args.recipes:
        loaded = load(path)
        sources.update(loaded.sources)
        diags.extend(lint(loaded, expect_imatrix=False if args.no_imatrix else None))
    fmt = args.format or default_format()
    sys.stdout.write(FORMATS[fmt](diags, sources))
    return exit_code(diags, strict=args.strict)
