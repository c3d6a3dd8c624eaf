"""L006 no-shape-fallback: NVFP4 and Q1_0 have no shape fallback; a row their block does not
divide makes llama-quantize fail. compile checks every tensor; lint warns where they may be chosen.

Bad:
    ladder Q4_K NVFP4 Q8_0

Good (MXFP4's block of 32 divides every row llama.cpp models have):
    ladder Q4_K MXFP4 Q8_0
"""

from recipec import ggml
from recipec.checks.common import LintContext, chosen_types
from recipec.diagnostics import Diagnostic

CODE = "L006"
NAME = "no-shape-fallback"


def check(ctx: LintContext):
    for t, span, where in chosen_types(ctx.recipe):
        if t in ggml.NO_FALLBACK_TYPES:
            yield Diagnostic(CODE, f"{t} in {where} has no shape fallback: a tensor whose rows are not a "
                             f"multiple of {ggml.block_size(t)} makes llama-quantize fail", span,
                             hint="compile drops it for such tensors; pin them to another type to be explicit")
