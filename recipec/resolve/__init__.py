"""Resolve: Recipe x ModelInfo x ImatrixStats -> Plan (the optimiser), in named stages.

    settings   arch check; FTYPE, ladder, target, MTP shape (settings.py)
    bounds     selectors -> pins, floors, ceilings, MTP policy per tensor (bounds.py)
    weights    imatrix activation energy x depth (weights.py)
    candidates ladder within the bounds, on the target, through the shape fallback (candidates.py)
    groups     ties, `tie auto`, the options of each decision (groups.py)
    optimise   the budget as a capacity, and the solver (optimise.py)
    assemble   entries with reasons, the llama-quantize invocation, totals: the Plan (assemble.py)

Each stage is a function of the previous stages' values; this module only wires them. The
rules are not made here: they are synthesised from the plan's entries (recipec.rules).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from recipec import plan as P
from recipec.budget import padded_measure
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.errorfile import ErrorFile
from recipec.imatrix import ImatrixStats
from recipec.modelinfo import ModelInfo
from recipec.recipe import Recipe
from recipec.resolve import assemble
from recipec.resolve.bounds import Bound, bind
from recipec.resolve.candidates import Candidate, TensorResolution, resolve_tensors
from recipec.resolve.groups import Group, GroupOption, form_groups
from recipec.resolve.optimise import optimise
from recipec.resolve.settings import DEFAULT_FTYPE, DEFAULT_LADDER, check_arch, drop_mtp, settings
from recipec.resolve.weights import weigher

__all__ = ["Bound", "Candidate", "DEFAULT_FTYPE", "DEFAULT_LADDER", "Group", "GroupOption", "Resolution",
           "TensorResolution", "drop_mtp", "resolve"]


@dataclass(frozen=True)
class Resolution:
    """The plan and the working that produced it (what `explain` reads)."""

    plan: P.Plan
    model: ModelInfo  # the output model (MTP blocks removed when dropped)
    tensors: dict[str, TensorResolution]
    groups: tuple[Group, ...]
    problem_groups: tuple[int, ...]  # indices of the groups the solver decided (plan.problem order)
    diagnostics: tuple[Diagnostic, ...] = ()


def resolve(recipe: Recipe, model: ModelInfo, imatrix: ImatrixStats | None = None, *,
            inputs: P.Inputs | None = None, model_file: str | None = None,
            imatrix_files: tuple[str, ...] = (), node_limit: int = 20000,
            errors: ErrorFile | None = None) -> Resolution:
    """Resolve RECIPE against MODEL (and IMATRIX) into a Plan; raise DiagnosticError on errors."""
    check_arch(recipe, model)
    s = settings(recipe, model, imatrix=imatrix is not None, errors=errors)
    bounds, found = bind(recipe, s)
    res, more = resolve_tensors(recipe, s, bounds, weigher(recipe, s.out_model, imatrix, s.errors), imatrix)
    found += more
    errors = [d for d in found if d.is_error]
    if errors:
        raise DiagnosticError(errors)
    names = [t.name for t in s.out_model.tensors if res[t.name].quantized]
    groups = form_groups(recipe, res, names, imatrix, padded=padded_measure(recipe.budget),
                         alignment=s.out_model.alignment or 32)
    solved = optimise(recipe, s, res, groups, imatrix, imatrix_files, node_limit)
    entries, group_index = assemble.entries(s, res, solved)
    inputs = inputs or P.Inputs(recipe=P.FileRef(path=recipe.path, sha256=recipe.sha256),
                                model=P.FileRef(path=model_file or "", sha256=""))
    lq = assemble.quantize_entry(recipe, s, imatrix, imatrix_files, model_file)
    stock = assemble.stock_entry(s, res, solved)
    plan = assemble.plan(recipe, s, entries, solved, lq, inputs, found, len(imatrix_files), stock)
    final = {n: replace(r, group=group_index.get(n)) for n, r in res.items()}
    # advice, not a fact about the plan (which records its error model): kept out of the plan's notes
    advice = [_unmeasured(recipe)] if solved.solver != "none" and s.errors is None else []
    return Resolution(plan=plan, model=s.out_model, tensors=final, groups=solved.groups,
                      problem_groups=solved.decided, diagnostics=tuple(found) + tuple(advice))


def _unmeasured(recipe: Recipe) -> Diagnostic:
    """R311: the budget was spent by the theoretical error model."""
    return Diagnostic(
        "R311", "the budget was spent by the theoretical error model (2^(−2·bits per weight) × imatrix "
        "energy), which does not know how much each tensor's error costs in output quality: on recipec's "
        "quality bench its plans had more KL divergence than llama.cpp's stock mix of the same size at "
        "three of four sizes (docs/quality.md)", recipe.budget.span,
        hint="measure this model's errors: recipec measure MODEL.gguf --imatrix I --kld TEXT -o errors.json, "
             "then compile with --errors errors.json")
