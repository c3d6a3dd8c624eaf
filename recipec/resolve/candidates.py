"""Stage 4 of resolve: each tensor's candidates, the ladder within its bounds, on the target,
through llama-quantize's shape fallback, with its exact bytes and error cost.

Costs are weight x error(type) (see errormodel). A type is removed (and `explain` says why) when
the target does not run it, when its block does not divide the rows and nothing falls back, when
it needs an imatrix the tensor has no data for, or when it writes the same type as a cheaper one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from recipec import ggml
from recipec.diagnostics import Diagnostic
from recipec.imatrix import ImatrixStats
from recipec.llamacpp import is_quantizable, needs_imatrix, shape_fallback
from recipec.modelinfo import TensorInfo
from recipec.recipe import Recipe
from recipec.resolve.bounds import Bound, Deciding, decide, overridden
from recipec.resolve.settings import Settings, rank
from recipec.resolve.weights import Weigher


@dataclass(frozen=True)
class Candidate:
    """One type the optimiser may give a tensor: as asked, as written, its bytes and cost."""

    requested: str
    type: str  # what llama-quantize writes (after the shape fallback)
    bytes: int
    error: float
    cost: float


@dataclass(frozen=True)
class TensorResolution:
    """Everything resolve decided about one tensor (what `explain` prints)."""

    tensor: TensorInfo
    quantized: bool
    bounds: tuple[Bound, ...] = ()  # every statement that bounds it
    pin: Optional[Bound] = None
    floor: Optional[Bound] = None
    ceiling: Optional[Bound] = None
    weight: float = 0.0
    depth: float = 1.0
    candidates: tuple[Candidate, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()  # (type, why it is not a candidate)
    counted: bool = True  # counts against the budget
    group: Optional[int] = None  # index into Resolution.groups


def _within(x: str, d: Deciding) -> bool:
    return (d.floor is None or rank(x) >= rank(d.floor.type)) and (d.ceiling is None or rank(x) <= rank(d.ceiling.type))


def start_type(t: TensorInfo, d: Deciding, s: Settings) -> str:
    """Where a tensor starts without a budget: its stock type, raised to its floor or cut to its ceiling."""
    x = s.stock.get(t.name, t.type)
    if d.floor is not None and rank(x) < rank(d.floor.type):
        return d.floor.type
    if d.ceiling is not None and rank(x) > rank(d.ceiling.type):
        return d.ceiling.type
    return x


def _asked(t: TensorInfo, d: Deciding, s: Settings) -> list[str]:
    """The requested types to try, cheapest first: the pin; else the ladder within the bounds (and,
    without a budget, the start type first, so ties can still meet on a ladder type above it)."""
    if d.pin:
        return [d.pin.type]
    ladder = [x for x in s.ladder if _within(x, d)]
    if not s.from_stock:
        return ladder
    first = start_type(t, d, s)
    return [first] + [x for x in ladder if rank(x) > rank(first)]


def _why_not(x: str, t: TensorInfo, pinned: bool, s: Settings, no_data: Optional[str]) -> Optional[str]:
    """Why the requested type X cannot be a candidate of T (None: it can)."""
    prof = s.profile
    if not pinned and prof is not None and not prof.supports(x):
        return f"not supported by target {prof.name}"
    out = shape_fallback(x, t.shape[0])
    if out is None:
        return f"block {ggml.block_size(x)} does not divide rows of {t.shape[0]} and it has no fallback"
    if out != x and prof is not None and not prof.supports(out):
        return f"falls back to {out}, which target {prof.name} does not support"
    if no_data and needs_imatrix(t.name, out, s.ftype):
        return f"needs an imatrix ({no_data})"
    return None


def candidates(t: TensorInfo, d: Deciding, s: Settings, weight: float,
               imatrix: ImatrixStats | None) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """The candidates of T within the bounds D, and the types removed with the reason."""
    no_data = ("no imatrix given" if imatrix is None
               else "the imatrix has no data for it" if t.name not in imatrix else None)
    cands: list[Candidate] = []
    removed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for x in _asked(t, d, s):
        why = _why_not(x, t, d.pin is not None, s, no_data)
        out = shape_fallback(x, t.shape[0])
        if why is None and out in seen:
            why = f"writes {out}, like a cheaper candidate"
        err = s.error(t.name, x, out) if why is None else None
        if err is None and why is None and (d.pin is not None or s.from_stock):
            err = 0.0  # no trade-off is made here (a pin, or no budget): the error only informs explain
        elif why is None and err is None:
            why = "not measured in the error file"
        if why is not None:
            removed.append((x, why))
            continue
        seen.add(out)
        cands.append(Candidate(x, out, ggml.tensor_bytes(out, t.shape), err, weight * err))
    return cands, removed


def resolve_tensors(recipe: Recipe, s: Settings, bounds: dict[str, tuple[Bound, ...]], weigh: Weigher,
                    imatrix: ImatrixStats | None) -> tuple[dict[str, TensorResolution], list[Diagnostic]]:
    """Every output tensor's bounds, weight and candidates; errors R305/R307, note R306."""
    res: dict[str, TensorResolution] = {}
    diags: list[Diagnostic] = []
    mtp_without_data = 0
    lost: dict[tuple[Bound, Bound], list[str]] = {}
    for t in s.out_model.tensors:
        bl = bounds.get(t.name, ())
        counted = not (t.mtp and recipe.mtp.outside_budget)
        if not is_quantizable(t, arch=s.model.arch):
            res[t.name] = TensorResolution(t, False, bl, counted=counted)
            continue
        d, conflict = decide(t.name, bl)
        if conflict is not None:
            diags.append(conflict)
            res[t.name] = TensorResolution(t, True, bl, None, d.floor, d.ceiling)
            continue
        for pair in overridden(bl, d):
            lost.setdefault(pair, []).append(t.name)
        w, depth = weigh.weight(t), weigh.depth(t)
        cands, removed = candidates(t, d, s, w, imatrix)
        if t.mtp and imatrix is not None and any("the imatrix has no data" in why for _, why in removed):
            mtp_without_data += 1
        if not cands:
            diags.append(_no_candidate(t, d, removed, recipe))
        res[t.name] = TensorResolution(t, True, bl, d.pin, d.floor, d.ceiling, w, depth, tuple(cands),
                                       tuple(removed), counted=counted)
    if mtp_without_data:
        diags.append(Diagnostic(
            "R306", f"{mtp_without_data} MTP tensor(s) have no imatrix data: types that need "
                    "an imatrix were removed from their candidates", recipe.mtp.span,
            hint="collect the imatrix with `llama-imatrix --nextn` to allow them"))
    for (loser, winner), names in sorted(lost.items(), key=lambda kv: (_at(kv[0][0]), _at(kv[0][1]))):
        diags.append(override_warning(loser, winner, names))
    return res, diags


def _at(b: Bound) -> tuple[str, int]:
    return (b.span.file, b.span.line) if b.span else ("", 0)


def _said(b: Bound) -> str:
    return f"`{b.kind.replace('-', ' ')} {b.type}`"


def override_warning(loser: Bound, winner: Bound, names: list[str]) -> Diagnostic:
    """R309: LOSER selects NAMES but WINNER decides them."""
    line = f"line {winner.span.line}" if winner.span else "the default"
    return Diagnostic(
        "R309", f"{_said(loser)} is overridden by {_said(winner)} ({line}) on {len(names)} tensor(s): "
                f"{', '.join(names[:3])}{' …' if len(names) > 3 else ''}", loser.span,
        notes=(f"{winner.where}: {_said(winner)} decides them",),
        hint="narrow the selector, or add `# recipec: ignore[R309]` to this line if that is intended")


def _no_candidate(t: TensorInfo, d: Deciding, removed: list[tuple[str, str]], recipe: Recipe) -> Diagnostic:
    deciding = d.pin or d.floor or d.ceiling
    why = "; ".join(f"{a}: {b}" for a, b in removed) or "the ladder has no type within the bounds"
    return Diagnostic("R305", f"{t.name} has no candidate type left ({why})",
                      deciding.span if deciding else recipe.spans.get("ladder"),
                      hint="widen the bounds or add a type to the ladder")
