"""L007 imatrix-type-on-mtp: a type that needs an imatrix may reach MTP tensors, which have no
imatrix data unless it was collected with `llama-imatrix --nextn`.

Bad:
    ladder IQ2_XS IQ3_S Q4_K
    mtp    optimise

Good:
    ladder IQ2_XS IQ3_S Q4_K
    mtp    optimise floor Q4_K
"""

from recipec import ggml
from recipec.checks.common import MTP_ARCHS, LintContext, rank
from recipec.diagnostics import Diagnostic

CODE = "L007"
NAME = "imatrix-type-on-mtp"


def check(ctx: LintContext):
    r = ctx.recipe
    if r.arch and not set(r.arch) & MTP_ARCHS:
        return
    mtp = r.mtp
    if mtp.policy == "keep" and mtp.type in ggml.IMATRIX_TYPES:
        yield Diagnostic(CODE, f"`mtp keep {mtp.type}` needs imatrix data for the MTP tensors", mtp.span,
                         hint="collect the imatrix with --nextn, or keep the MTP block at Q4_K or above")
    if mtp.policy == "optimise" and r.ladder:
        floor = rank(mtp.type) if mtp.type else 0.0
        risky = [t for t in r.ladder if t in ggml.IMATRIX_TYPES and rank(t) >= floor]
        if risky:
            yield Diagnostic(CODE, f"{', '.join(risky)} {'needs' if len(risky) == 1 else 'need'} imatrix data, which MTP tensors may lack",
                             r.spans.get("ladder"),
                             hint="add `mtp optimise floor Q4_K` or `mtp keep Q6_K` (compile also drops them "
                                  "for tensors without data)")
    for b in r.bounds:
        if b.kind == "pin" and b.type in ggml.IMATRIX_TYPES and any(
                s.layers is not None and s.layers.kind == "mtp" for s in b.selectors):
            yield Diagnostic(CODE, f"pin {b.type} on MTP tensors needs imatrix data for them", b.type_span,
                             hint="collect the imatrix with --nextn, or pin a type such as Q4_K")
