"""L014 mtp-selector-without-mtp (and E403 serve-mtp-dropped): statements about MTP blocks that
`mtp drop` removes.

Bad:
    mtp   drop
    serve spec mtp 2

Good:
    mtp   keep Q6_K
    serve spec mtp 2
"""

from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic

CODE = "L014"
NAME = "mtp-selector-without-mtp"


def check(ctx: LintContext):
    r = ctx.recipe
    if r.mtp.policy != "drop":
        return
    for b in r.bounds:
        for s in b.selectors:
            if s.layers is not None and s.layers.kind == "mtp":
                yield Diagnostic(CODE, f"`{s.text}` selects MTP blocks, which `mtp drop` removes", s.span,
                                 hint="remove the statement or keep the MTP blocks")
    for d in r.depth:
        if d.layers.kind == "mtp":
            yield Diagnostic(CODE, "`depth mtp` weights MTP blocks, which `mtp drop` removes", d.span,
                             hint="remove the statement or keep the MTP blocks")
    if r.serve.spec_mtp:
        yield Diagnostic("E403", "`serve spec mtp` drafts with the MTP block, which `mtp drop` removes",
                         r.serve.spans.get("spec_mtp"),
                         hint="use `mtp keep Q6_K` to keep the block, or remove `serve spec mtp`")
