"""L009 ladder-unsatisfiable: no type of the ladder meets a floor, a ceiling, or both at once.

Bad:
    ladder IQ4_XS Q4_K
    floor  attn_* Q6_K

Good:
    ladder IQ4_XS Q4_K Q6_K
    floor  attn_* Q6_K
"""

from recipec.checks.common import LintContext, bounds_overlap, rank
from recipec.diagnostics import Diagnostic

CODE = "L009"
NAME = "ladder-unsatisfiable"


def check(ctx: LintContext):
    r = ctx.recipe
    if not r.ladder:
        return
    ranks = [rank(t) for t in r.ladder]
    ladder = " ".join(r.ladder)
    floors = [b for b in r.bounds if b.kind == "floor"]
    ceilings = [b for b in r.bounds if b.kind == "ceiling"]
    for f in floors:
        if not any(x >= rank(f.type) for x in ranks):
            yield Diagnostic(CODE, f"no ladder type ({ladder}) is at or above the floor {f.type}", f.type_span,
                             hint=f"add {f.type} or a larger type to the ladder")
    for c in ceilings:
        if not any(x <= rank(c.type) for x in ranks):
            yield Diagnostic(CODE, f"no ladder type ({ladder}) is at or below the ceiling {c.type}", c.type_span,
                             hint=f"add {c.type} or a smaller type to the ladder")
    for f in floors:
        for c in ceilings:
            lo, hi = rank(f.type), rank(c.type)
            if lo <= hi and bounds_overlap(f, c) and not any(lo <= x <= hi for x in ranks):
                yield Diagnostic(CODE, f"no ladder type lies between floor {f.type} ({f.span}) and "
                                 f"ceiling {c.type} ({c.span})", c.type_span,
                                 hint=f"add a type between {f.type} and {c.type} to the ladder")
    m = r.mtp
    if m.policy == "optimise" and m.type and not any(x >= rank(m.type) for x in ranks):
        yield Diagnostic(CODE, f"no ladder type is at or above the MTP floor {m.type}", m.span,
                         hint=f"add {m.type} to the ladder")
