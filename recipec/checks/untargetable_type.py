"""L005 untargetable-type: a type llama-quantize cannot write (Q8_1, Q8_K, I8 … crash it).

Bad:
    pin output Q8_K

Good:
    pin output Q8_0
"""

from recipec import ggml
from recipec.checks.common import LintContext, ladder_span
from recipec.diagnostics import Diagnostic

CODE = "L005"
NAME = "untargetable-type"


def _uses(recipe):
    for t in recipe.ladder or ():
        yield t, ladder_span(recipe, t)
    for b in recipe.bounds:
        yield b.type, b.type_span
    if recipe.mtp.type:
        yield recipe.mtp.type, recipe.mtp.span


def check(ctx: LintContext):
    for t, span in _uses(ctx.recipe):
        if t in ggml.TARGET_TYPES:
            continue
        why = "aborts llama-quantize (exit 134, a partial file left behind)" if t in ggml.CRASH_TYPES \
            else "is not a type llama-quantize can quantize into"
        yield Diagnostic(CODE, f"{t} {why}", span,
                         hint="choose a target type such as Q8_0, Q6_K, Q4_K or IQ4_XS")
