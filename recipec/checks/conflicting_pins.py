"""L002 conflicting-pins: two equally specific pins give overlapping tensors different types.

Between pins of different specificity the more specific one wins (a layer filter beats none, a
literal role beats a glob), so `pin * NVFP4` with `pin output Q6_K` is fine; two globs, or two
literal roles with the same kind of filter, that overlap are ambiguous. Each pin is reported once,
against the earliest pin it conflicts with.

Bad:
    pin attn_* Q8_0
    pin *_v Q6_K

Good:
    pin attn_* Q8_0
    pin attn_v Q6_K
"""

from recipec.checks.common import LintContext, bounds_overlap, first_conflicts
from recipec.diagnostics import Diagnostic
from recipec.selectors import specificity

CODE = "L002"
NAME = "conflicting-pins"


def _clash(x, y) -> bool:
    return x[1] != y[1]  # (kind, type): pins of different types


def _conflict(a, b) -> bool:
    pair = bounds_overlap(a, b)
    return bool(pair) and specificity(pair[0])[0] == specificity(pair[1])[0]


def check(ctx: LintContext):
    """Each pin that conflicts with an earlier one, reported once (against the earliest)."""
    pins = [b for b in ctx.recipe.bounds if b.kind == "pin"]
    for i, j, pair in first_conflicts(pins, _clash, _conflict, lambda sel: specificity(sel)[0]):
        a, b = pins[i], pins[j]
        yield Diagnostic(CODE, f"pin {b.type} conflicts with pin {a.type} at {a.span}: "
                         f"`{pair[1].text}` and `{pair[0].text}` may select the same tensors",
                         b.span, hint="narrow one selector (a layer filter or an exact role)")
