"""Model-free lint checks (`recipec lint`): one module per rule, an explicit registry."""

from __future__ import annotations

from recipec.checks import (
    base_disables_rules,
    conflicting_pins,
    duplicate_statement,
    floor_above_ceiling,
    imatrix_type_on_mtp,
    ladder_unsatisfiable,
    layer_filter_binding,
    mtp_dropped,
    no_shape_fallback,
    tie_auto_without_imatrix,
    unknown_role,
    unknown_target,
    unsupported_on_target,
    untargetable_type,
)
from recipec.checks.common import LintContext
from recipec.diagnostics import Diagnostic
from recipec.parser import gc_paused
from recipec.recipe import Loaded, ignored_codes

REGISTRY = (
    floor_above_ceiling,
    conflicting_pins,
    duplicate_statement,
    base_disables_rules,
    untargetable_type,
    no_shape_fallback,
    imatrix_type_on_mtp,
    tie_auto_without_imatrix,
    ladder_unsatisfiable,
    unsupported_on_target,
    unknown_role,
    unknown_target,
    mtp_dropped,
    layer_filter_binding,
)


def lint(loaded: Loaded, expect_imatrix: bool | None = None) -> list[Diagnostic]:
    """Every diagnostic for a loaded recipe: validation first, then each check; ignores applied."""
    with gc_paused():
        return _lint(loaded, expect_imatrix)


def _lint(loaded: Loaded, expect_imatrix: bool | None) -> list[Diagnostic]:
    diags = list(loaded.diagnostics)
    if loaded.recipe is not None:
        ctx = LintContext(loaded.recipe, loaded.statements, loaded.own, expect_imatrix)
        for rule in REGISTRY:
            diags.extend(rule.check(ctx))
    silenced = {path: ignored_codes(src) for path, src in loaded.sources.items()}
    kept = [d for d in diags
            if not (d.span and d.code in silenced.get(d.span.file, {}).get(d.span.line, ()))]
    seen, out = set(), []
    for d in sorted(kept, key=lambda d: d.sort_key()):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
