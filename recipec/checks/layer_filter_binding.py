"""L015 layer-filter-on-last-selector: a layer filter written once, after the last of several
selectors, binds to that selector only; the others select every layer.

A layer filter belongs to the selector it is written on. The line below pins `attn_v` and
`ffn_down_exps` in every layer and `ffn_down_shexp` in the first 10, which is rarely what it
looks like; write the filter on each selector that needs it (or split the line).

Bad:
    pin attn_v ffn_down_exps ffn_down_shexp@first 10 Q6_K

Good:
    pin attn_v@first 10 ffn_down_exps@first 10 ffn_down_shexp@first 10 Q6_K
"""

from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic

CODE = "L015"
NAME = "layer-filter-on-last-selector"


def _filter_text(sel) -> str:
    """The `@…` part of a selector as written (`@first 10`)."""
    return sel.text[len(sel.role):]


def check(ctx: LintContext):
    for b in ctx.recipe.bounds:
        *rest, last = b.selectors
        if not rest or last.layers is None or any(s.layers is not None for s in rest):
            continue
        at = _filter_text(last)
        bare = " and ".join(f"`{s.text}`" for s in rest)
        every = " ".join(s.role + at for s in b.selectors)
        yield Diagnostic(CODE, f"`{at}` binds to `{last.role}` only: {bare} "
                         f"{'selects' if len(rest) == 1 else 'select'} every layer",
                         last.span,
                         hint=f"write the filter on each selector: `{b.kind} {every} {b.type}` "
                              f"(or put {bare} on a line of their own to mean every layer)")
