"""Explain why tensors get their types: role, layer, group, bounding statements, candidates.

Takes a tensor name, a role or a role glob (then one block per tensor). Prints the statements
that bound each tensor (file:line; the overridden ones marked), the line that really decided
(a floor reaching it through a tie is named by its own line), every candidate with its bytes and
error cost, and why the chosen one won. `--format json` prints the same as data.
"""

from __future__ import annotations

import fnmatch
import sys

from recipec.diagnostics import Diagnostic, did_you_mean
from recipec.exitcodes import EXIT_OK, exit_code
from recipec.jsonio import dumps
from recipec.report import print_text, shown


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("recipe", metavar="RECIPE")
    parser.add_argument("--model", required=True, metavar="M", help="GGUF (first shard) or manifest JSON")
    parser.add_argument("--errors", metavar="F", help="measured error file (recipec measure); "
                        "overrides the recipe's `errors` statement")
    parser.add_argument("--allow-imatrix-mismatch", action="store_true",
                        help="accept an imatrix made for another model (I107 becomes a warning)")
    parser.add_argument("--imatrix", action="append", default=[], metavar="I")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("tensor", metavar="TENSOR_OR_ROLE", help="a tensor name, a role, or a role glob")


_INDEX: dict = {}  # the last plan explained and its entries by name


def _entry(res, name: str):
    """The plan's entry for tensor NAME, from an index built once per plan (Plan.tensor scans the
    entries, and explaining every tensor of a 6,000-tensor model would scan them 6,000 times)."""
    if _INDEX.get("plan") is not res.plan:
        _INDEX.clear()
        _INDEX.update(plan=res.plan, by_name={t.name: t for t in reversed(res.plan.tensors)})  # first wins
    return _INDEX["by_name"].get(name)


def tensors_named(res, what: str) -> list[str]:
    """The tensors WHAT names: the tensor of that name, else those whose role (or name) matches it."""
    from recipec.selectors import role_matches

    if what in res.tensors:
        return [what]
    return [n for n, r in res.tensors.items()
            if role_matches(what, r.tensor.role) or fnmatch.fnmatchcase(n, what)]


def decided_by(res, name: str):
    """The bound that really decided tensor NAME (a tied member's floor included), or None."""
    r = res.tensors[name]
    if not r.quantized or r.group is None:
        return None
    if r.pin:
        return r.pin
    token = _entry(res, name).reason.split(" ")[0]
    g = res.groups[r.group]
    pool = [b for n in g.tensors for b in res.tensors[n].bounds]
    return next((b for b in pool if b.reason == token), None)


def _overrides(r) -> dict:
    """Bound -> the bound that overrides it on this tensor."""
    from recipec.resolve.bounds import Deciding, overridden

    return {id(lost): won for lost, won in overridden(r.bounds, Deciding(r.pin, r.floor, r.ceiling))}


def explain(res, name: str) -> str:
    """The explanation text for tensor NAME of a Resolution."""
    r = res.tensors[name]
    t = r.tensor
    entry = _entry(res, name)
    lines = [f"{name}", f"  role   {t.role}", f"  layer  {'global' if t.layer is None else t.layer}"
             + ("  (MTP block)" if t.mtp else ""), f"  shape  {list(t.shape)}  source {t.type}"]
    if not r.quantized:
        lines.append(f"  type   {t.type}: llama-quantize never quantizes this tensor (not-quantized)")
        return "\n".join(lines) + "\n"
    g = res.groups[r.group]
    others = [n for n in g.tensors if n != name]
    tie = f" ({g.tie})" if g.tie else ""
    lines.append(f"  group  {len(g.tensors)} tensor(s){tie}, weight {g.weight:.6g}"
                 + (f"; with {', '.join(others[:6])}{' …' if len(others) > 6 else ''}" if others else ""))
    lines.append(f"  weight {r.weight:.6g} (depth x{r.depth:g}; {res.plan.error_model} error model)")
    if r.bounds:
        lines.append("  bounded by:")
        lost = _overrides(r)
        for b in r.bounds:
            over = f"  (overridden by {lost[id(b)].kind} {lost[id(b)].type} at {lost[id(b)].where})" \
                if id(b) in lost else ""
            lines.append(f"    {b.where}: {b.kind} {b.type}{over}")
    else:
        lines.append("  bounded by: nothing (the ladder only)")
    lines.append("  candidates:")
    chosen = g.options[g.chosen].requested
    for c in r.candidates:
        mark = "*" if c.requested == chosen else " "
        via = f" (asked {c.requested}, falls back)" if c.type != c.requested else ""
        lines.append(f"   {mark} {c.type:<8} {c.bytes:>14} bytes  error {c.error:.3e}  cost {c.cost:.6g}{via}")
    for typ, why in r.removed:
        lines.append(f"     {typ:<8} removed: {why}")
    dec = decided_by(res, name)
    lines.append("  decided " + (f"{dec.where}: {dec.kind} {dec.type}" if dec else "by no statement"))
    lines.append(f"  chosen {entry.type} ({entry.reason})")
    lines.append("  why    " + _why(res, r, g))
    return "\n".join(lines) + "\n"


def _why_stock(res, r, g) -> str:
    """Without a budget a tensor starts at the stock mix's type, moved only by its bounds or a tie."""
    from recipec.resolve.assemble import group_floor

    entry = _entry(res, r.tensor.name)
    ftype = res.plan.llama_quantize.ftype
    if entry.reason.startswith("stock:"):
        return f"no budget: llama-quantize's own {ftype} mix gives it {entry.type}, and no statement changes that"
    floor = group_floor(r, g, res.tensors)
    b = next((x for x in (r.floor, r.ceiling, floor) if x is not None and entry.reason.startswith(x.reason)), None)
    if b is not None:
        side = "cut to the ceiling" if b is r.ceiling else "raised to the floor"
        if b is floor and b is not r.floor:
            side += f" of a tied tensor ({g.tie})"
        return f"no budget: the stock {ftype} type is {side} at {b.where}"
    return f"no budget: tied with {len(g.tensors) - 1} other tensor(s) ({g.tie}), it takes the lowest type they share"


def _why(res, r, g) -> str:
    if r.pin:
        return f"pinned at {r.pin.where}"
    t = res.plan.totals
    if t.budget is None:
        return _why_stock(res, r, g)
    if len(g.options) == 1:
        b = r.floor or r.ceiling
        return "the only candidate" + (f" within the bound at {b.where}" if b else "")
    o = g.options[g.chosen]
    up = [x for x in g.options if x.bytes > o.bytes and x.cost < o.cost]
    down = [x for x in g.options if x.bytes < o.bytes]
    parts = [f"the {t.solver} solver under the budget {t.budget} (objective {t.objective:.6g}, gap {100 * t.gap:.3f} %)"]
    if up:
        nxt = min(up, key=lambda x: x.bytes)
        ratio = (o.cost - nxt.cost) / (nxt.bytes - o.bytes)
        parts.append(f"the group's next step up ({nxt.requested}, +{nxt.bytes - o.bytes} bytes) would cut the cost by "
                     f"{o.cost - nxt.cost:.6g} ({ratio:.3e} per byte): not worth it within the budget")
    else:
        parts.append("it is the group's best candidate")
    if not down and r.floor:
        parts.append(f"the floor at {r.floor.where} keeps it from going lower")
    return "; ".join(parts)


def run(args) -> int:
    from recipec.api import compile_recipe

    compiled = compile_recipe(args.recipe, args.model, args.imatrix, args.errors,
                              allow_imatrix_mismatch=args.allow_imatrix_mismatch)
    diags = list(compiled.diagnostics)
    res = compiled.resolution
    names = tensors_named(res, args.tensor) if res is not None else []
    if res is not None and not names:
        known = list(res.tensors)
        guess = did_you_mean(args.tensor, known) or did_you_mean(args.tensor + ".weight", known)
        diags.append(Diagnostic("R308", f"no tensor or role `{args.tensor}` in the model",
                                hint=f"did you mean {guess}?" if guess else "see `recipec inspect` for the names"))
    print_text(diags, sys.stderr, compiled.sources)
    if res is None or exit_code(diags) != EXIT_OK:
        return exit_code(diags)
    if args.format == "json":
        sys.stdout.write(dumps({"version": 1, "tensors": [explain_data(res, n) for n in names]}))
    else:
        sys.stdout.write(shown("\n".join(explain(res, n) for n in names)))
    return EXIT_OK


def explain_data(res, name: str) -> dict:
    """The explanation of tensor NAME as data (what `--format json` prints)."""
    r = res.tensors[name]
    t = r.tensor
    entry = _entry(res, name)
    lost = _overrides(r)
    dec = decided_by(res, name)
    data = {"name": name, "role": t.role, "layer": t.layer, "mtp": t.mtp, "shape": list(t.shape),
            "source_type": t.type, "type": entry.type, "reason": entry.reason, "quantized": r.quantized,
            "bounds": [{"kind": b.kind, "type": b.type, "where": b.where,
                        "overridden_by": lost[id(b)].where if id(b) in lost else None} for b in r.bounds],
            "decided_by": None if dec is None else {"kind": dec.kind, "type": dec.type, "where": dec.where}}
    if r.quantized and r.group is not None:
        g = res.groups[r.group]
        data["group"] = {"tensors": list(g.tensors), "tie": g.tie}
        data["candidates"] = [{"type": c.type, "requested": c.requested, "bytes": c.bytes, "error": c.error,
                               "cost": c.cost} for c in r.candidates]
        data["removed"] = [{"type": x, "why": why} for x, why in r.removed]
        data["why"] = _why(res, r, g)
    return data
