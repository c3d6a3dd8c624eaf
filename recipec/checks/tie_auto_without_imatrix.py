"""L008 tie-auto-without-imatrix: `tie auto` finds ties from imatrix data; without an imatrix it
ties nothing. Lint knows there is none when run with `--no-imatrix`.

Bad (recipec lint --no-imatrix):
    tie auto

Good:
    tie attn_q attn_k attn_v
"""

from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic

CODE = "L008"
NAME = "tie-auto-without-imatrix"


def check(ctx: LintContext):
    if ctx.recipe.tie_auto and ctx.expect_imatrix is False:
        yield Diagnostic(CODE, "`tie auto` needs an imatrix to find tensors that read the same input",
                         ctx.recipe.spans.get("tie_auto"),
                         hint="compile with --imatrix, or tie roles explicitly: `tie attn_q attn_k attn_v`")
