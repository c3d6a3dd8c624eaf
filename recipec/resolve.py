"""Resolve: Recipe x ModelInfo x ImatrixStats -> Plan (the optimiser).

Steps: selectors -> tensors; bounds (pin > floors/ceilings; highest floor, lowest ceiling);
candidates (ladder within the bounds, on the target, through llama-quantize's shape fallback);
groups (ties per layer, `tie auto` by imatrix fingerprint, every other tensor alone); weights
(imatrix activation energy x depth); the budget as a byte capacity; the solver; the plan.

Weights. A tensor's weight is its activation energy: for each matrix (each expert of a stack)
the imatrix importance (mean over columns of in_sum2 / counts) x ne0 x output rows, summed; a
group's weight is the sum over its tensors, times the depth multiplier of the layer (`depth`
statements, the later statement wins where they overlap; MTP layers 1 unless a `depth @mtp`-style
statement names them). Without an imatrix the importance is 1, so the weight is the element
count; tensors an imatrix has no data for get the median importance of those it has.

Costs are weight x error(type) (see errormodel); the objective is their sum over the groups.

Default ladder (a recipe without `ladder`): Q3_K IQ4_XS Q4_K Q5_K Q6_K Q8_0: the K-quant steps
llama.cpp's own mixtures use, plus IQ4_XS (the best 4-bit type per byte), nothing that needs an
imatrix, nothing a CPU or GPU build lacks. Default FTYPE (a recipe without `base`): Q4_K_M; every
quantized tensor gets an explicit rule, so the FTYPE only names the file type.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field, replace
from typing import Optional

from recipec import __version__, errormodel, ggml, hardware, kvcache, solve
from recipec.checks.common import role_matches
from recipec.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from recipec.imatrix import ImatrixStats
from recipec.llamacpp import (KV_STRING_MAX, imatrix_kv_bytes, is_quantizable, needs_imatrix, pad,
                              predict_file_size, shape_fallback, tensor_info_bytes)
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec import plan as P
from recipec.recipe import LayerSpec, Recipe, SelectorSpec
from recipec.rules import synthesize
from recipec.source import Span

DEFAULT_LADDER: tuple[str, ...] = ("Q3_K", "IQ4_XS", "Q4_K", "Q5_K", "Q6_K", "Q8_0")
DEFAULT_FTYPE = "Q4_K_M"
TENSOR_TYPES_FILE = "tensor-types.txt"


def rank(type_name: str) -> float:
    """Floors and ceilings compare storage bits per weight."""
    return ggml.bits_per_weight(type_name)


@dataclass(frozen=True)
class Bound:
    """A bound on one tensor and the statement that set it."""

    kind: str  # pin | floor | ceiling | mtp-keep | mtp-floor
    type: str
    span: Optional[Span]

    @property
    def reason(self) -> str:
        return f"{self.kind}@{self.span.line}" if self.span else self.kind

    @property
    def where(self) -> str:
        return str(self.span) if self.span else "(default)"


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


@dataclass(frozen=True)
class GroupOption:
    requested: str
    types: tuple[str, ...]  # written type of each member
    bytes: int  # budget bytes of the members (padded where the file is measured)
    cost: float


@dataclass(frozen=True)
class Group:
    tensors: tuple[str, ...]
    weight: float
    options: tuple[GroupOption, ...]
    tie: Optional[str]  # tie@LINE, tie-auto, or None
    chosen: int = 0
    counted: bool = True


@dataclass(frozen=True)
class Resolution:
    """The plan and the working that produced it."""

    plan: P.Plan
    model: ModelInfo  # the output model (MTP blocks removed when dropped)
    tensors: dict[str, TensorResolution]
    groups: tuple[Group, ...]
    problem_groups: tuple[int, ...]  # indices of the groups the solver decided (plan.problem order)
    diagnostics: tuple[Diagnostic, ...] = ()
    assignment: dict[str, str] = field(default_factory=dict)
    rules: tuple = ()
    source_model: ModelInfo | None = None  # the input model as read (before any MTP drop)


# ----------------------------------------------------------------------------- selectors


def _layer_set(spec: LayerSpec | None, trunk: int) -> set[int] | None:
    """Trunk layers a filter names (None: no filter; MTP handled by the caller)."""
    if spec is None or spec.kind == "mtp":
        return None
    if spec.kind == "first":
        return set(range(min(spec.a, trunk)))
    if spec.kind == "last":
        return set(range(max(0, trunk - spec.a), trunk))
    if spec.kind == "range":
        return set(range(spec.a, spec.b + 1))
    return {spec.a}


def select(sel: SelectorSpec, model: ModelInfo) -> list[TensorInfo]:
    """The tensors a selector names, in file order."""
    layers = _layer_set(sel.layers, model.trunk_layers)
    out = []
    for t in model.tensors:
        if not role_matches(sel.role, t.role):
            continue
        if sel.layers is not None:
            if sel.layers.kind == "mtp":
                if not t.mtp:
                    continue
            elif t.mtp or t.layer is None or t.layer not in layers:
                continue
        out.append(t)
    return out


def _depth_of(recipe: Recipe, t: TensorInfo, trunk: int) -> float:
    m = 1.0
    for d in recipe.depth:
        if d.layers.kind == "mtp":
            if t.mtp:
                m = d.multiplier
        elif t.layer is not None and not t.mtp and t.layer in (_layer_set(d.layers, trunk) or ()):
            m = d.multiplier
    return m


# ----------------------------------------------------------------------------- model shaping


def drop_mtp(model: ModelInfo) -> ModelInfo:
    """MODEL without its MTP blocks (what `--prune-layers` + nextn_predict_layers=0 writes)."""
    if not model.nextn_layers:
        return model
    gone = [t for t in model.tensors if t.mtp]
    keep = tuple(t for t in model.tensors if not t.mtp)
    md = dict(model.metadata)
    md["nextn_predict_layers"] = 0
    md["block_count"] = model.trunk_layers
    sources = model.sources
    if len(sources) == 1:  # the header loses the dropped tensors' records
        s = sources[0]
        sources = (replace(s, data_offset=max(0, s.data_offset - tensor_info_bytes(gone))),)
    return ModelInfo(arch=model.arch, tensors=keep, block_count=model.trunk_layers, nextn_layers=0,
                     alignment=model.alignment, sources=sources, metadata=md)


def output_order(tensors) -> list:
    """llama-quantize's write order: globals first, then by layer, names compared bytewise."""
    return sorted(tensors, key=lambda t: (-1 if t.layer is None or not t.name.startswith("blk.") else t.layer,
                                          t.name.encode()))


# ----------------------------------------------------------------------------- budget


def _fmt_size(n: float, unit: str) -> str:
    from recipec.recipe import SIZE_UNITS

    v = n / SIZE_UNITS.get(unit, 1)
    return f"{v:.3f} {unit}" if unit != "B" else f"{int(n)} B"


@dataclass(frozen=True)
class Capacity:
    kind: Optional[str]
    text: Optional[str]
    capacity: Optional[int]  # bytes the counted groups may use (None: no budget)
    limit: Optional[int]  # the budget in its own measure (file bytes, tensor bytes, device bytes)
    fixed: int  # bytes in the budget's measure that no decision changes
    padded: bool  # whether options count padded bytes
    kv_bytes: Optional[int] = None
    elements: int = 0


def _added_kv(recipe: Recipe, imatrix: ImatrixStats | None, imatrix_files: tuple[str, ...]) -> tuple[int, int]:
    """(bytes, slack) of the header keys the quantize run adds: provenance, and the imatrix keys.

    The imatrix path is the one given to compile (quantize.sh's default); another path or dataset
    name at quantize time may take up to llama.cpp's 127-byte limit: that is the slack.
    """
    extra = P.provenance_kv_bytes(recipe.name)
    if imatrix is None or not imatrix_files:
        return extra, 0
    datasets = getattr(imatrix, "datasets", ()) or ()
    dataset = len(datasets[0].encode("utf-8")) if datasets else None
    likely = imatrix_kv_bytes(len(imatrix_files[0].encode("utf-8")), dataset)
    return extra + likely, imatrix_kv_bytes(KV_STRING_MAX, KV_STRING_MAX) - likely


def _capacity(recipe: Recipe, model: ModelInfo, counted_fixed_padded: int, counted_fixed_raw: int,
              counted_elements: int, drop: bool, added_kv: tuple[int, int] = (0, 0)) -> Capacity:
    b = recipe.budget
    if b is None:
        return Capacity(None, None, None, None, 0, False)
    pred = predict_file_size(model, {t.name: t.type for t in model.tensors}, extra_kv_bytes=added_kv[0])
    meta = pred.metadata_bytes + (pred.slack or 0) + added_kv[1]
    if b.kind == "size":
        fixed = meta + counted_fixed_padded
        return Capacity("size", f"{b.amount:g} {b.unit}", b.bytes - fixed, b.bytes, fixed, True)
    if b.kind == "bpw":
        limit = int(b.bpw * counted_elements / 8)
        return Capacity("bpw", f"{b.bpw:g} bpw", limit - counted_fixed_raw, limit, counted_fixed_raw, False,
                        elements=counted_elements)
    kv = kvcache.estimate(model, b.ctx, b.kv_type, b.parallel).total
    fixed = meta + counted_fixed_padded + kv + b.overhead_bytes
    text = f"fit {b.device_text} ctx {b.ctx} kv {b.kv_type.lower()} parallel {b.parallel}"
    return Capacity("fit", text, b.device_bytes - fixed, b.device_bytes, fixed, True, kv_bytes=kv)


def _in_unit(recipe: Recipe, cap: Capacity, group_bytes: int) -> str:
    """A total for the groups, expressed in the budget's own unit."""
    b = recipe.budget
    total = cap.fixed + group_bytes
    if b.kind == "bpw":
        return f"{8 * total / cap.elements:.4f} bpw"
    unit = b.unit if b.kind == "size" else b.device_text.split()[-1]
    return _fmt_size(total, unit)


# ----------------------------------------------------------------------------- resolve


def resolve(recipe: Recipe, model: ModelInfo, imatrix: ImatrixStats | None = None, *,
            inputs: P.Inputs | None = None, model_file: str | None = None,
            imatrix_files: tuple[str, ...] = (), node_limit: int = 20000) -> Resolution:
    """Resolve RECIPE against MODEL (and IMATRIX) into a Plan; raise DiagnosticError on errors."""
    diags: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    if recipe.arch and model.arch not in recipe.arch:
        raise DiagnosticError(Diagnostic(
            "R303", f"the model is {model.arch}, the recipe is for {' '.join(recipe.arch)}",
            recipe.spans.get("arch"), hint=f"compile against a {'/'.join(recipe.arch)} model, or add "
                                            f"{model.arch} to the arch statement"))
    ftype = recipe.base or DEFAULT_FTYPE
    ladder = recipe.ladder or DEFAULT_LADDER
    prof = hardware.profile(recipe.target) if recipe.target else None
    mtp = recipe.mtp
    has_mtp = model.nextn_layers > 0 and any(t.mtp for t in model.tensors)
    drop = has_mtp and mtp.policy == "drop"
    out_model = drop_mtp(model) if drop else model

    # --- bounds per tensor, in statement order
    bounds: dict[str, list[Bound]] = {}
    for rule in recipe.bounds:
        for sel in rule.selectors:
            hit = select(sel, model)
            if not hit:
                roles = list(model.roles)
                guess = did_you_mean(sel.role, roles)
                where = "" if sel.layers is None else " in those layers"
                errors.append(Diagnostic(
                    "R301", f"`{sel.text}` matches no tensor of this {model.arch} model{where}", sel.span,
                    hint=f"did you mean {guess}?" if guess else "see `recipec inspect` for the model's roles"))
                continue
            if not any(is_quantizable(t, arch=model.arch) for t in hit):
                diags.append(Diagnostic(
                    "R302", f"`{sel.text}` names only tensors llama-quantize never quantizes "
                            f"({hit[0].name}{' …' if len(hit) > 1 else ''}): the statement has no effect",
                    sel.span, hint="remove the statement or the selector"))
            for t in hit:
                bounds.setdefault(t.name, []).append(Bound(rule.kind, rule.type, rule.span))
    if has_mtp and mtp.policy == "keep" and mtp.type:
        for t in model.tensors:
            if t.mtp:
                bounds.setdefault(t.name, []).insert(0, Bound("mtp-keep", mtp.type, mtp.span))
    if has_mtp and mtp.policy == "optimise" and mtp.type:
        for t in model.tensors:
            if t.mtp:
                bounds.setdefault(t.name, []).insert(0, Bound("mtp-floor", mtp.type, mtp.span))

    # --- importance
    imps: dict[str, float] = {}
    if imatrix is not None:
        for t in out_model.tensors:
            ts = imatrix.get(t.name)
            if ts is not None:
                imps[t.name] = float(sum(ts.importance)) / max(1, len(ts.importance))
    fallback_imp = statistics.median(imps.values()) if imps else 1.0

    def weight_of(t: TensorInfo) -> float:
        per = t.shape[0] * (t.shape[1] if len(t.shape) > 1 else 1)
        ts = imatrix.get(t.name) if imatrix is not None else None
        if ts is not None:
            return float(sum(ts.importance)) * per
        n_mat = t.n_elements // per if per else 1
        return fallback_imp * per * n_mat

    # --- candidates per tensor
    align = out_model.alignment or 32
    res: dict[str, TensorResolution] = {}
    mtp_without_data: list[str] = []
    for t in out_model.tensors:
        q = is_quantizable(t, arch=model.arch)
        bl = tuple(bounds.get(t.name, ()))
        if not q:
            res[t.name] = TensorResolution(t, False, bl, counted=not (t.mtp and mtp.outside_budget))
            continue
        pins = [b for b in bl if b.kind in ("pin", "mtp-keep")]
        explicit = [b for b in pins if b.kind == "pin"]
        pin = (explicit or pins or [None])[-1]
        floor = ceiling = None
        for b in bl:
            if b.kind in ("floor", "mtp-floor") and (floor is None or rank(b.type) >= rank(floor.type)):
                floor = b
            if b.kind == "ceiling" and (ceiling is None or rank(b.type) <= rank(ceiling.type)):
                ceiling = b
        if pin is None and floor and ceiling and rank(floor.type) > rank(ceiling.type):
            errors.append(Diagnostic(
                "R307", f"{t.name}: the floor {floor.type} ({floor.where}) is above the ceiling "
                        f"{ceiling.type} ({ceiling.where})", floor.span,
                notes=(f"{ceiling.where}: the ceiling {ceiling.type}",),
                hint="lower the floor or raise the ceiling"))
            res[t.name] = TensorResolution(t, True, bl, None, floor, ceiling)
            continue
        asked = [pin.type] if pin else [x for x in ladder
                                        if (floor is None or rank(x) >= rank(floor.type))
                                        and (ceiling is None or rank(x) <= rank(ceiling.type))]
        cands: list[Candidate] = []
        removed: list[tuple[str, str]] = []
        w = weight_of(t) * _depth_of(recipe, t, model.trunk_layers)
        seen: set[str] = set()
        no_data = imatrix is None or t.name not in imatrix
        for x in asked:
            if not pin and prof is not None and not prof.supports(x):
                removed.append((x, f"not supported by target {prof.name}"))
                continue
            out = shape_fallback(x, t.shape[0])
            if out is None:
                removed.append((x, f"block {ggml.block_size(x)} does not divide rows of {t.shape[0]} "
                                   "and it has no fallback"))
                continue
            if out != x and prof is not None and not prof.supports(out):
                removed.append((x, f"falls back to {out}, which target {prof.name} does not support"))
                continue
            if needs_imatrix(t.name, out, ftype) and no_data:
                why = "no imatrix given" if imatrix is None else "the imatrix has no data for it"
                removed.append((x, f"needs an imatrix ({why})"))
                if t.mtp and imatrix is not None:
                    mtp_without_data.append(t.name)
                continue
            if out in seen:
                removed.append((x, f"writes {out}, like a cheaper candidate"))
                continue
            seen.add(out)
            nb = ggml.tensor_bytes(out, t.shape)
            err = errormodel.error(out)
            cands.append(Candidate(x, out, nb, err, w * err))
        if not cands:
            deciding = pin or floor or ceiling
            why = "; ".join(f"{a}: {b}" for a, b in removed) or "the ladder has no type within the bounds"
            errors.append(Diagnostic(
                "R305", f"{t.name} has no candidate type left ({why})",
                deciding.span if deciding else recipe.spans.get("ladder"),
                hint="widen the bounds or add a type to the ladder"))
        res[t.name] = TensorResolution(
            t, True, bl, pin, floor, ceiling, w, _depth_of(recipe, t, model.trunk_layers), tuple(cands),
            tuple(removed), counted=not (t.mtp and mtp.outside_budget))
    if mtp_without_data:
        diags.append(Diagnostic(
            "R306", f"{len(set(mtp_without_data))} MTP tensor(s) have no imatrix data: types that need "
                    "an imatrix were removed from their candidates", mtp.span,
            hint="collect the imatrix with `llama-imatrix --nextn` to allow them"))
    if errors:
        raise DiagnosticError(errors + [d for d in diags if d.is_error])

    # --- groups: explicit ties per layer, tie auto by fingerprint, everything else alone
    names = [t.name for t in out_model.tensors if res[t.name].quantized]
    parent = {n: n for n in names}
    tie_of: dict[str, str] = {}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a, b, why):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb, key=names.index)] = min(ra, rb, key=names.index)
        tie_of.setdefault(a, why)
        tie_of.setdefault(b, why)

    order = {n: i for i, n in enumerate(names)}
    for tie in recipe.ties:
        by_layer: dict[tuple, list[str]] = {}
        for n in names:
            t = res[n].tensor
            if any(role_matches(r, t.role) for r in tie.roles):
                by_layer.setdefault((t.layer, t.mtp), []).append(n)
        for members in by_layer.values():
            for m in members[1:]:
                union(members[0], m, f"tie@{tie.span.line}")
    if recipe.tie_auto and imatrix is not None:
        by_fp: dict[str, list[str]] = {}
        for n in names:
            fp = imatrix.fingerprint(n)
            if fp:
                by_fp.setdefault(fp, []).append(n)
        for members in by_fp.values():
            for m in members[1:]:
                union(members[0], m, "tie-auto")
    members_of: dict[str, list[str]] = {}
    for n in names:
        members_of.setdefault(find(n), []).append(n)
    group_lists = sorted(members_of.values(), key=lambda ms: order[ms[0]])

    # --- options per group: requested types every member can take
    groups: list[Group] = []
    for ms in group_lists:
        common = None
        for n in ms:
            asked = {c.requested for c in res[n].candidates}
            common = asked if common is None else common & asked
        tie = tie_of.get(ms[0]) if len(ms) > 1 else None
        first = [c.requested for c in res[ms[0]].candidates]
        reqs = [x for x in first if x in (common or set())]
        if not reqs:
            spans = [b.span for n in ms for b in res[n].bounds if b.span]
            raise DiagnosticError(Diagnostic(
                "R305", f"the tied tensors {', '.join(ms[:4])}{' …' if len(ms) > 4 else ''} have no type "
                        f"in common ({tie})", spans[0] if spans else None,
                hint="their floors, ceilings or pins disagree: align them or untie the roles"))
        counted = all(res[n].counted for n in ms)
        padded_measure = recipe.budget is not None and recipe.budget.kind in ("size", "fit")
        opts = []
        wsum = sum(res[n].weight for n in ms)
        for x in reqs:
            cs = [next(c for c in res[n].candidates if c.requested == x) for n in ms]
            nbytes = sum(pad(c.bytes, align) if padded_measure else c.bytes for c in cs)
            opts.append(GroupOption(x, tuple(c.type for c in cs), nbytes, sum(c.cost for c in cs)))
        opts.sort(key=lambda o: (o.bytes, o.cost, rank(o.requested)))
        groups.append(Group(tuple(ms), wsum, tuple(opts), tie, counted=counted))

    # --- budget and solve
    decided = [i for i, g in enumerate(groups) if len(g.options) > 1 and g.counted]
    decided_set = set(decided)
    padded_measure = recipe.budget is not None and recipe.budget.kind in ("size", "fit")
    fixed_padded = fixed_raw = elements = 0
    choice: dict[int, int] = {}
    for i, g in enumerate(groups):
        if i in decided_set:
            continue
        # fixed groups (one option) and groups outside the budget: their best option
        choice[i] = min(range(len(g.options)), key=lambda k: (g.options[k].cost, g.options[k].bytes, k))
    for t in out_model.tensors:
        r = res[t.name]
        if not r.counted:
            continue
        elements += t.n_elements
        if not r.quantized:
            fixed_padded += pad(ggml.tensor_bytes(t.type, t.shape), align)
            fixed_raw += ggml.tensor_bytes(t.type, t.shape)
    for i, g in enumerate(groups):
        if i not in decided_set and g.counted:
            o = g.options[choice[i]]
            fixed_padded += o.bytes if padded_measure else 0
            fixed_raw += 0 if padded_measure else o.bytes
    added_kv = _added_kv(recipe, imatrix, imatrix_files)
    cap = _capacity(recipe, out_model, fixed_padded, fixed_raw, elements, drop, added_kv)
    problem = [[solve.Option(o.bytes, o.cost) for o in groups[i].options] for i in decided]
    solver_name = recipe.solver
    if cap.capacity is None:
        for k, i in enumerate(decided):
            g = groups[i]
            choice[i] = min(range(len(g.options)), key=lambda j: (g.options[j].cost, g.options[j].bytes, j))
        objective = sum(groups[i].options[choice[i]].cost for i in decided)
        bound, gap = objective, 0.0
    else:
        lo = sum(min(o.bytes for o in g) for g in problem)
        if lo > cap.capacity:
            hi = sum(max(o.bytes for o in g) for g in problem)
            raise DiagnosticError(Diagnostic(
                "R304", f"the budget {cap.text} cannot be met: with every tensor at its floor the "
                        f"plan needs {_in_unit(recipe, cap, lo)}", recipe.budget.span,
                notes=(f"smallest feasible: {_in_unit(recipe, cap, lo)} (everything at its floor)",
                       f"largest useful: {_in_unit(recipe, cap, hi)} (everything at its ceiling)"),
                hint="raise the budget, lower floors, or add smaller types to the ladder"))
        if solver_name == "greedy":
            sol = solve.greedy(problem, cap.capacity)
            bound = solve.lower_bound(problem, cap.capacity)
        else:
            sol = solve.optimal(problem, cap.capacity, node_limit=node_limit)
            bound = sol.bound
        for k, i in enumerate(decided):
            choice[i] = sol.choice[k]
        objective = sol.objective
        bound = min(bound, objective)
        gap = 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)
    groups = [replace(g, chosen=choice[i]) for i, g in enumerate(groups)]

    # --- per-tensor outcome and reasons
    assignment: dict[str, str] = {}
    final: dict[str, TensorResolution] = {}
    group_index = {n: i for i, g in enumerate(groups) for n in g.tensors}
    problem_index = {i: k for k, i in enumerate(decided)}
    entries = []
    for t in output_order(out_model.tensors):
        r = res[t.name]
        if not r.quantized:
            typ, nbytes, reason, gi = t.type, ggml.tensor_bytes(t.type, t.shape), "not-quantized", None
        else:
            gi = group_index[t.name]
            g = groups[gi]
            o = g.options[g.chosen]
            cand = next(c for c in r.candidates if c.requested == o.requested)
            typ, nbytes = cand.type, cand.bytes
            if r.pin:
                reason = r.pin.reason
            elif gi in decided_set:
                lowest = g.chosen == 0
                highest = g.chosen == len(g.options) - 1
                if lowest and r.floor:
                    reason = r.floor.reason
                elif highest and r.ceiling:
                    reason = r.ceiling.reason
                else:
                    reason = "solver"
            else:
                reason = (r.floor.reason if r.floor else r.ceiling.reason if r.ceiling
                          else "ladder" if len(g.options) == 1 else "best")
            if cand.type != cand.requested:
                reason += f" fallback:{cand.requested}->{cand.type}"
            assignment[t.name] = typ
        final[t.name] = replace(r, group=gi)
        entries.append(P.TensorEntry(
            name=t.name, role=t.role, layer=t.layer, mtp=t.mtp, shape=t.shape, source_type=t.type,
            type=typ, bytes=nbytes, reason=reason, group=problem_index.get(gi) if gi is not None else None))

    # --- totals
    types = {e.name: e.type for e in entries}
    pred = predict_file_size(out_model, types, extra_kv_bytes=added_kv[0])
    tensor_bytes = sum(e.bytes for e in entries)
    n_el = out_model.n_elements
    counted_bytes = None
    if cap.kind is not None:
        used = sum(groups[i].options[choice[i]].bytes for i in decided)
        counted_bytes = cap.fixed + used
    rules = synthesize(out_model, assignment)
    mtp_bytes = sum(e.bytes for e in entries if e.mtp)
    options = ["--tensor-type-file", TENSOR_TYPES_FILE]
    imatrix_name = None
    if imatrix is not None and imatrix_files:
        imatrix_name = _base(imatrix_files[0])
        options += ["--imatrix", imatrix_name]
    prune = tuple(model.mtp_layers) if drop else ()
    if drop:
        options += ["--prune-layers", ",".join(str(l) for l in prune),
                    "--override-kv", f"{model.arch}.nextn_predict_layers=int:0"]
    src_name = _source_name(model, model_file)
    out_name = re.sub(r"[^A-Za-z0-9._-]+", "-", recipe.name or "model").strip("-") or "model"
    out_name = f"{out_name}.gguf"
    notes = [d.headline() for d in diags]
    if len(imatrix_files) > 1:
        notes.append("several imatrices were merged for planning; llama-quantize takes one: merge them "
                     "(llama-imatrix --in-file A --in-file B -o merged.gguf) and pass that")
    plan = P.Plan(
        recipec_version=__version__, name=recipe.name, arch=model.arch, target=recipe.target,
        inputs=inputs or P.Inputs(recipe=P.FileRef(path=recipe.path, sha256=recipe.sha256),
                                  model=P.FileRef(path=model_file or "", sha256="")),
        llama_quantize=P.LlamaQuantize(
            ftype=ftype, options=tuple(options), input=src_name, output=out_name,
            args=tuple(options) + (src_name, out_name, ftype),
            rules=tuple(P.RuleEntry(pattern=r.pattern, type=r.type, text=str(r)) for r in rules),
            prune_layers=prune, imatrix=imatrix_name),
        totals=P.Totals(
            tensor_bytes=tensor_bytes, file_bytes=pred.bytes,
            file_bytes_slack=None if pred.slack is None else pred.slack + added_kv[1],
            bpw=round(8 * tensor_bytes / n_el, 6) if n_el else 0.0,
            budget=cap.text, budget_kind=cap.kind, budget_bytes=cap.limit, counted_bytes=counted_bytes,
            kv_cache_bytes=cap.kv_bytes, objective=objective, bound=bound, gap=gap,
            solver=solver_name if cap.capacity is not None or decided else "none"),
        mtp=P.MtpEntry(policy=mtp.policy if has_mtp else "none", type=mtp.type,
                       outside_budget=mtp.outside_budget, layers=tuple(model.mtp_layers) if has_mtp else (),
                       bytes=mtp_bytes),
        serve=P.ServeEntry(**{k: getattr(recipe.serve, k) for k in
                              ("ctx", "flash_attn", "cache_type", "spec_mtp", "mmproj", "ngl")}),
        tensors=tuple(entries),
        problem=P.Problem(capacity_bytes=cap.capacity, groups=tuple(
            P.GroupEntry(tensors=groups[i].tensors, weight=groups[i].weight,
                         options=tuple(P.OptionEntry(type=o.requested if len(set(o.types)) > 1 else o.types[0],
                                                     bytes=o.bytes, cost=o.cost) for o in groups[i].options),
                         chosen=groups[i].chosen) for i in decided)),
        notes=tuple(notes))
    return Resolution(plan=plan, model=out_model, tensors=final, groups=tuple(groups),
                      problem_groups=tuple(decided), diagnostics=tuple(diags), assignment=assignment,
                      rules=tuple(rules), source_model=model)


def _base(path: str) -> str:
    return re.split(r"[\\/]", str(path))[-1]


def _source_name(model: ModelInfo, model_file: str | None) -> str:
    """The GGUF llama-quantize reads: the file given, or the manifest's first source file."""
    if model_file and not model_file.endswith(".json"):
        return _base(model_file)
    if model.sources:
        return model.sources[0].name
    if model_file:
        return re.sub(r"(\.manifest)?\.json$", "", _base(model_file)) + ".gguf"
    return "model.gguf"
