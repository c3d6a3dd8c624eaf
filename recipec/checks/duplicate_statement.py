"""L003 duplicate-statement: a statement repeats, or overrides one earlier in the same file.

Bad:
    budget 19 GiB
    budget 20 GiB

Good:
    budget 20 GiB
"""

from recipec import ast
from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic
from recipec.recipe import _key

_KIND = {ast.BudgetAmount: "budget", ast.BudgetFit: "budget", ast.RecipeName: "recipe"}

CODE = "L003"
NAME = "duplicate-statement"


def check(ctx: LintContext):
    for statements in ctx.own.values():
        first: dict = {}
        for s in statements:
            key = _key(s)
            if key is None:
                key = ("same", s)  # ties, extends: only an identical repeat is a duplicate
            if key in first:
                earlier = first[key]
                word = "repeats" if earlier == s else "overrides"
                kind = s.kind if isinstance(s, ast.Bound) else _KIND.get(type(s), type(s).__name__.lower())
                yield Diagnostic(CODE, f"this {kind} statement {word} the one at line {earlier.span.line}",
                                 s.span, hint="keep one of them")
            else:
                first[key] = s
