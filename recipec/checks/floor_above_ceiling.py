"""L001 floor-above-ceiling: a floor is above a ceiling on selectors that overlap.

Bad:
    floor   ffn_*_exps Q6_K
    ceiling ffn_down_exps Q4_K

Good:
    floor   ffn_*_exps Q4_K
    ceiling ffn_down_exps Q6_K
"""

from recipec.checks.common import LintContext, bounds_overlap, rank
from recipec.diagnostics import Diagnostic

CODE = "L001"
NAME = "floor-above-ceiling"


def check(ctx: LintContext):
    floors = [b for b in ctx.recipe.bounds if b.kind == "floor"]
    ceilings = [b for b in ctx.recipe.bounds if b.kind == "ceiling"]
    for f in floors:
        for c in ceilings:
            if rank(f.type) <= rank(c.type):
                continue
            pair = bounds_overlap(f, c)
            if pair:
                later, other = (f, c) if f.span > c.span else (c, f)
                yield Diagnostic(CODE, f"floor {f.type} ({f.span}) is above ceiling {c.type} ({c.span}) "
                                 f"where `{pair[0].text}` and `{pair[1].text}` overlap", later.span,
                                 hint="lower the floor or raise the ceiling",
                                 notes=(f"the other statement is at {other.span}",))
