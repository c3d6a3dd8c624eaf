"""L010 unsupported-on-target: the target hardware does not run this type natively.

Bad:
    target cuda
    ladder Q4_K NVFP4

Good:
    target cuda-blackwell
    ladder Q4_K NVFP4
"""

from recipec.checks.common import LintContext, chosen_types
from recipec.diagnostics import Diagnostic
from recipec.hardware import profile

CODE = "L010"
NAME = "unsupported-on-target"


def check(ctx: LintContext):
    r = ctx.recipe
    prof = profile(r.target) if r.target else None
    if prof is None:
        return
    for t, span, where in chosen_types(r):
        if not prof.supports(t):
            yield Diagnostic(CODE, f"{t} in {where} does not run natively on target {prof.name}", span,
                             hint=f"remove {t} or choose a target that runs it")
