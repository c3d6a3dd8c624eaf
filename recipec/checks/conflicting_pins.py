"""L002 conflicting-pins: two pins give overlapping tensors different types.

Bad:
    pin output Q8_0
    pin outp* Q6_K

Good:
    pin output Q8_0
"""

from recipec.checks.common import LintContext, bounds_overlap
from recipec.diagnostics import Diagnostic

CODE = "L002"
NAME = "conflicting-pins"


def check(ctx: LintContext):
    pins = [b for b in ctx.recipe.bounds if b.kind == "pin"]
    for i, a in enumerate(pins):
        for b in pins[i + 1:]:
            if a.type == b.type:
                continue
            pair = bounds_overlap(a, b)
            if pair:
                yield Diagnostic(CODE, f"pin {b.type} conflicts with pin {a.type} at {a.span}: "
                                 f"`{pair[1].text}` and `{pair[0].text}` may select the same tensors",
                                 b.span, hint="narrow one selector (a layer filter or an exact role)")
