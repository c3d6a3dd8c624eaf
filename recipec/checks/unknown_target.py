"""L012 unknown-target: no hardware profile of this name.

Bad:
    target cuda-blackwel

Good:
    target cuda-blackwell
"""

from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic, did_you_mean
from recipec.hardware import profile_names

CODE = "L012"
NAME = "unknown-target"


def check(ctx: LintContext):
    t = ctx.recipe.target
    if t and t not in profile_names():
        guess = did_you_mean(t, profile_names())
        yield Diagnostic(CODE, f"no hardware profile named `{t}`", ctx.recipe.spans.get("target"),
                         hint=f"did you mean `{guess}`?" if guess else "profiles: " + ", ".join(profile_names()))
