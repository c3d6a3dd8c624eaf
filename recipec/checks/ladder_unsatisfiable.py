"""L009 ladder-unsatisfiable: no type of the ladder meets a floor, a ceiling, or both at once.

Bad:
    ladder IQ4_XS Q4_K
    floor  attn_* Q6_K

Good:
    ladder IQ4_XS Q4_K Q6_K
    floor  attn_* Q6_K
"""

from recipec.checks.common import LintContext, first_conflicts, rank
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
    def nothing_between(x, y) -> bool:  # (kind, type) pairs
        if x[0] == y[0]:
            return False
        lo, hi = (rank(x[1]), rank(y[1])) if x[0] == "floor" else (rank(y[1]), rank(x[1]))
        return lo <= hi and not any(lo <= r <= hi for r in ranks)

    bounds = floors + ceilings
    for i, j, _ in sorted(first_conflicts(bounds, nothing_between, lambda a, b: True),
                          key=lambda t: (bounds[t[0]].kind != "floor", t)):  # floors first, as written
        f, c = (bounds[i], bounds[j]) if bounds[i].kind == "floor" else (bounds[j], bounds[i])
        yield Diagnostic(CODE, f"no ladder type lies between floor {f.type} ({f.span}) and "
                         f"ceiling {c.type} ({c.span})", c.type_span,
                         hint=f"add a type between {f.type} and {c.type} to the ladder")
    m = r.mtp
    if m.policy == "optimise" and m.type and not any(x >= rank(m.type) for x in ranks):
        yield Diagnostic(CODE, f"no ladder type is at or above the MTP floor {m.type}", m.span,
                         hint=f"add {m.type} to the ladder")
