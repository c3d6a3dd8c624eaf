"""Stage 6 of resolve: the budget as a capacity, and the solver's choice for every group.

Groups with one option, and groups outside the budget (`mtp keep … outside budget`), take their
best option and count as fixed bytes; the others are the optimisation problem: minimise the sum
of chosen costs with the chosen bytes within the capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from recipec import budget as B
from recipec import solve
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.imatrix import ImatrixStats
from recipec.recipe import Recipe
from recipec.resolve.candidates import TensorResolution
from recipec.resolve.groups import Group
from recipec.resolve.settings import Settings, rank


@dataclass(frozen=True)
class Solved:
    """The groups with their chosen option, and how the choice was made."""

    groups: tuple[Group, ...]
    decided: tuple[int, ...]  # indices of the groups the solver decided (plan.problem order)
    capacity: B.Capacity
    objective: float
    bound: float
    gap: float
    solver: str  # optimal | greedy | none
    added_kv: tuple[int, int]  # (bytes, slack) of the header keys the quantize run adds


def _best(g: Group, from_stock: bool = False) -> int:
    """A group's option without a budget: its lowest cost; from the stock mix, its lowest type
    (the start type, or for tied tensors with different start types the lowest they share)."""
    if from_stock:
        return min(range(len(g.options)), key=lambda k: (rank(g.options[k].requested), g.options[k].bytes, k))
    return min(range(len(g.options)), key=lambda k: (g.options[k].cost, g.options[k].bytes, k))


def capacity_for(recipe: Recipe, s: Settings, res: dict[str, TensorResolution], groups: list[Group],
                 decided: set[int], kv: tuple[int, int]) -> B.Capacity:
    """The bytes the DECIDED groups may use under the recipe's budget."""
    counted = [(t.name, res[t.name].quantized) for t in s.out_model.tensors if res[t.name].counted]
    fixed_options = [g.options[_best(g, s.from_stock)].bytes for i, g in enumerate(groups)
                     if i not in decided and g.counted]
    fixed = B.fixed_bytes(s.out_model, counted, fixed_options, recipe.budget)
    return B.capacity(recipe.budget, s.out_model, fixed, kv)


def _infeasible(recipe: Recipe, cap: B.Capacity, problem: list[list[solve.Option]]) -> DiagnosticError:
    lo = sum(min(o.bytes for o in g) for g in problem)
    hi = sum(max(o.bytes for o in g) for g in problem)
    return DiagnosticError(Diagnostic(
        "R304", f"the budget {cap.text} cannot be met: with every tensor at its floor the "
                f"plan needs {B.in_unit(recipe.budget, cap, lo)}", recipe.budget.span,
        notes=(f"smallest feasible: {B.in_unit(recipe.budget, cap, lo)} (everything at its floor)",
               f"largest useful: {B.in_unit(recipe.budget, cap, hi)} (everything at its ceiling)"),
        hint="raise the budget, lower floors, or add smaller types to the ladder"))


def optimise(recipe: Recipe, s: Settings, res: dict[str, TensorResolution], groups: list[Group],
             imatrix: ImatrixStats | None, imatrix_files: tuple[str, ...], node_limit: int) -> Solved:
    """Choose every group's option: the best one without a budget, the solver's within one."""
    decided = [i for i, g in enumerate(groups) if len(g.options) > 1 and g.counted]
    kv = B.added_kv(recipe, imatrix, imatrix_files)
    cap = capacity_for(recipe, s, res, groups, set(decided), kv)
    choice = {i: _best(g, s.from_stock) for i, g in enumerate(groups)}
    problem = [[solve.Option(o.bytes, o.cost) for o in groups[i].options] for i in decided]
    if cap.capacity is None:
        objective = sum(groups[i].options[choice[i]].cost for i in decided)
        bound, gap = objective, 0.0
    else:
        if sum(min(o.bytes for o in g) for g in problem) > cap.capacity:
            raise _infeasible(recipe, cap, problem)
        if recipe.solver == "greedy":
            sol = solve.greedy(problem, cap.capacity)
            bound = solve.lower_bound(problem, cap.capacity)
        else:
            sol = solve.optimal(problem, cap.capacity, node_limit=node_limit)
            bound = sol.bound
        choice.update(zip(decided, sol.choice))
        objective = sol.objective
        bound = min(bound, objective)
        gap = 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)
    solver = recipe.solver if cap.capacity is not None else "none"  # no budget: no trade-off to solve
    return Solved(tuple(replace(g, chosen=choice[i]) for i, g in enumerate(groups)), tuple(decided), cap,
                  objective, bound, gap, solver, kv)


def counted_bytes(solved: Solved) -> int | None:
    """What the counted tensors use, in the budget's measure (None without a budget)."""
    if solved.capacity.kind is None:
        return None
    return solved.capacity.fixed + sum(solved.groups[i].options[solved.groups[i].chosen].bytes
                                       for i in solved.decided)
