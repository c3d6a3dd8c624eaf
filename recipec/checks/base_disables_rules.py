"""L004 base-disables-rules: with base F16, BF16, F32 or COPY llama-quantize ignores every rule.

Bad:
    base F16

Good:
    base Q8_0
"""

from recipec import ggml
from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic

CODE = "L004"
NAME = "base-disables-rules"


def check(ctx: LintContext):
    base = ctx.recipe.base
    if base in ggml.RULE_DISABLING_FTYPES:
        yield Diagnostic(CODE, f"base {base} makes llama-quantize silently ignore every --tensor-type rule",
                         ctx.recipe.spans.get("base"),
                         hint="use a quantized FTYPE such as Q8_0 or Q4_K_M (rules still decide every tensor)")
