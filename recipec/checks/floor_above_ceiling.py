"""L001 floor-above-ceiling: a floor is above a ceiling on selectors that overlap (reported once at
the later statement, against the earliest one it contradicts).

Bad:
    floor   ffn_*_exps Q6_K
    ceiling ffn_down_exps Q4_K

Good:
    floor   ffn_*_exps Q4_K
    ceiling ffn_down_exps Q6_K
"""

from recipec.checks.common import LintContext, first_conflicts, rank
from recipec.diagnostics import Diagnostic

CODE = "L001"
NAME = "floor-above-ceiling"


def _clash(x, y) -> bool:
    """(kind, type) pairs: a floor ranked above a ceiling."""
    if x[0] == y[0]:
        return False
    (_, f), (_, c) = (x, y) if x[0] == "floor" else (y, x)
    return rank(f) > rank(c)


def check(ctx: LintContext):
    """Each floor or ceiling above/below an earlier overlapping one, reported once at the later."""
    bounds = [b for b in ctx.recipe.bounds if b.kind in ("floor", "ceiling")]
    for i, j, pair in first_conflicts(bounds, _clash, lambda a, b: True):
        earlier, later = bounds[i], bounds[j]
        (f, fs), (c, cs) = sorted([(earlier, pair[0]), (later, pair[1])], key=lambda t: t[0].kind != "floor")
        yield Diagnostic(CODE, f"floor {f.type} ({f.span}) is above ceiling {c.type} ({c.span}) "
                         f"where `{fs.text}` and `{cs.text}` overlap", later.span,
                         hint="lower the floor or raise the ceiling",
                         notes=(f"the other statement is at {earlier.span}",))
