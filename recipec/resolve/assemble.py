"""Stage 7 of resolve: the Plan. Per-tensor entries with the statement that decided each one, the
llama-quantize invocation (structured), the totals, the MTP and serve entries, the problem as solved.
"""

from __future__ import annotations

import re
from typing import Optional

from recipec import ggml
from recipec.version import __version__
from recipec import plan as P
from recipec.diagnostics import Diagnostic
from recipec.files import base_name
from recipec.imatrix import ImatrixStats
from recipec.llamacpp import predict_file_size
from recipec.modelinfo import ModelInfo
from recipec.recipe import Recipe
from recipec.resolve.bounds import Bound
from recipec.resolve.candidates import TensorResolution
from recipec.resolve.groups import Group
from recipec.resolve.optimise import Solved, counted_bytes
from recipec.mixture import quantize_order
from recipec.resolve.settings import Settings, rank

TENSOR_TYPES_FILE = "tensor-types.txt"


def group_floor(r: TensorResolution, g: Group, res: dict[str, TensorResolution]) -> Optional[Bound]:
    """The floor that holds on R's group: the highest of its members' floors (R's own on a tie),
    since a tied group takes a type every member can take."""
    best = r.floor
    for n in g.tensors:
        b = res[n].floor
        if b is not None and (best is None or rank(b.type) > rank(best.type)):
            best = b
    return best


def _stock_reason(r: TensorResolution, g: Group, s: Settings, floor: Optional[Bound]) -> str:
    asked = g.options[g.chosen].requested
    if asked == s.stock.get(r.tensor.name):
        return f"stock:{s.ftype}"
    for b in (r.floor, r.ceiling, floor):
        if b is not None and asked == b.type:
            return b.reason
    return g.tie or "ladder"


def reason(r: TensorResolution, g: Group, decided: bool, s: Settings,
           res: Optional[dict[str, TensorResolution]] = None) -> str:
    """Which statement (or the solver, or the stock mix) gave R its type; a floor that reaches R
    through a tie is named by its own line."""
    floor = group_floor(r, g, res) if res is not None else r.floor
    if r.pin:
        why = r.pin.reason
    elif s.from_stock:
        why = _stock_reason(r, g, s, floor)
    elif decided:
        if g.chosen == 0 and floor:
            why = floor.reason
        elif g.chosen == len(g.options) - 1 and r.ceiling:
            why = r.ceiling.reason
        else:
            why = "solver"
    else:
        why = (floor.reason if floor else r.ceiling.reason if r.ceiling
               else "ladder" if len(g.options) == 1 else "best")
    cand = next(c for c in r.candidates if c.requested == g.options[g.chosen].requested)
    if cand.type != cand.requested:
        why += f" fallback:{cand.requested}->{cand.type}"
    return why


def entries(s: Settings, res: dict[str, TensorResolution],
            solved: Solved) -> tuple[list[P.TensorEntry], dict[str, int]]:
    """The plan's tensor entries in llama-quantize's write order, and each quantized tensor's group."""
    group_index = {n: i for i, g in enumerate(solved.groups) for n in g.tensors}
    problem_index = {i: k for k, i in enumerate(solved.decided)}
    out = []
    for t in quantize_order(s.out_model.tensors):  # the order llama-quantize writes them
        r = res[t.name]
        gi = group_index.get(t.name)
        if gi is None:
            typ, nbytes, why = t.type, ggml.tensor_bytes(t.type, t.shape), "not-quantized"
        else:
            g = solved.groups[gi]
            cand = next(c for c in r.candidates if c.requested == g.options[g.chosen].requested)
            typ, nbytes, why = cand.type, cand.bytes, reason(r, g, gi in problem_index, s, res)
        out.append(P.TensorEntry(name=t.name, role=t.role, layer=t.layer, mtp=t.mtp, shape=t.shape,
                                 source_type=t.type, type=typ, bytes=nbytes, reason=why,
                                 group=problem_index.get(gi) if gi is not None else None))
    return out, group_index


def source_name(model: ModelInfo, model_file: Optional[str]) -> str:
    """The GGUF llama-quantize reads: the file given, or the manifest's first source file."""
    if model_file and not model_file.endswith(".json"):
        return base_name(model_file)
    if model.sources:
        return model.sources[0].name
    if model_file:
        return re.sub(r"(\.manifest)?\.json$", "", base_name(model_file)) + ".gguf"
    return "model.gguf"


def quantize_entry(recipe: Recipe, s: Settings, imatrix: ImatrixStats | None, imatrix_files: tuple[str, ...],
                   model_file: Optional[str]) -> P.LlamaQuantize:
    """How llama-quantize is run for this plan (its rules are added by the rules stage)."""
    model = s.model
    imatrix_name = base_name(imatrix_files[0]) if imatrix is not None and imatrix_files else None
    prune = tuple(model.mtp_layers) if s.drop else ()
    override = (f"{model.arch}.nextn_predict_layers=int:0",) if s.drop else ()
    options = P.quantize_options(TENSOR_TYPES_FILE, imatrix_name, prune, override)
    src = source_name(model, model_file)
    out_name = (re.sub(r"[^A-Za-z0-9._-]+", "-", recipe.name or "model").strip("-") or "model") + ".gguf"
    shards = tuple(P.ShardEntry(name=x.name, header_bytes=x.data_offset, header_sha256=x.header_sha256)
                   for x in model.sources)
    return P.LlamaQuantize(ftype=s.ftype, input=src, output=out_name, shards=shards,
                           tensor_type_file=TENSOR_TYPES_FILE, imatrix=imatrix_name, prune_layers=prune,
                           override_kv=override, options=options, args=options + (src, out_name, s.ftype))


def named_output(lq: P.LlamaQuantize, tensors: list[P.TensorEntry]) -> P.LlamaQuantize:
    """LQ with its output named by what the file holds: `NAME-TYPE.gguf` when the trunk's quantized
    weights are mostly a TYPE other than the FTYPE's default type and NAME does not say it already
    (`general.file_type` stays the FTYPE; the card says both)."""
    body = P.body_type(tensors)
    if body is None or body[0] == ggml.FTYPE_DEFAULT.get(lq.ftype.upper()):
        return lq
    stem = lq.output[: -len(".gguf")] if lq.output.endswith(".gguf") else lq.output
    if _squash(body[0]) in _squash(stem):
        return lq
    out = f"{stem}-{body[0]}.gguf"
    return lq.model_copy(update={"output": out, "args": lq.options + (lq.input, out, lq.ftype)})


def _squash(text: str) -> str:
    """TEXT as a type name may be spelled in a file name: `IQ4_XS`, `iq4xs`, `IQ4-XS` -> `iq4xs`."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def totals(recipe: Recipe, s: Settings, tensors: list[P.TensorEntry], solved: Solved) -> P.Totals:
    """Sizes (predicted file, tensors, bpw), the budget, and the solver's objective, bound and gap."""
    cap = solved.capacity
    pred = predict_file_size(s.out_model, {e.name: e.type for e in tensors}, extra_kv_bytes=solved.added_kv[0])
    tensor_bytes = sum(e.bytes for e in tensors)
    n_el = s.out_model.n_elements
    return P.Totals(
        tensor_bytes=tensor_bytes, file_bytes=pred.bytes,
        file_bytes_slack=None if pred.slack is None else pred.slack + solved.added_kv[1],
        bpw=round(8 * tensor_bytes / n_el, 6) if n_el else 0.0,
        budget=cap.text, budget_kind=cap.kind, budget_bytes=cap.limit, counted_bytes=counted_bytes(solved),
        kv_cache_bytes=cap.kv_bytes, objective=solved.objective, bound=solved.bound, gap=solved.gap,
        solver=solved.solver)


def stock_entry(s: Settings, res: dict[str, TensorResolution], solved: Solved) -> P.StockEntry:
    """The stock mix of the FTYPE on the output model: size, and cost in the plan's own measure."""
    types = {t.name: s.stock.get(t.name, t.type) for t in s.out_model.tensors}
    pred = predict_file_size(s.out_model, types, extra_kv_bytes=solved.added_kv[0])
    tensor_bytes = sum(ggml.tensor_bytes(types[t.name], t.shape) for t in s.out_model.tensors)
    n_el = s.out_model.n_elements
    errs = [s.error(n, types[n], types[n]) for i in solved.decided for n in solved.groups[i].tensors]
    names = [n for i in solved.decided for n in solved.groups[i].tensors]
    objective = (None if any(e is None for e in errs)  # a stock type the error file did not measure
                 else sum(res[n].weight * e for n, e in zip(names, errs)))
    return P.StockEntry(ftype=s.ftype, file_bytes=pred.bytes, tensor_bytes=tensor_bytes,
                        bpw=round(8 * tensor_bytes / n_el, 6) if n_el else 0.0, objective=objective)


def problem(solved: Solved) -> P.Problem:
    """The optimisation problem exactly as solved (the decided groups, in order)."""
    groups = []
    for i in solved.decided:
        g = solved.groups[i]
        opts = tuple(P.OptionEntry(type=o.requested if len(set(o.types)) > 1 else o.types[0], bytes=o.bytes,
                                   cost=o.cost) for o in g.options)
        groups.append(P.GroupEntry(tensors=g.tensors, weight=g.weight, options=opts, chosen=g.chosen))
    return P.Problem(capacity_bytes=solved.capacity.capacity, groups=tuple(groups))


def plan(recipe: Recipe, s: Settings, tensors: list[P.TensorEntry], solved: Solved, lq: P.LlamaQuantize,
         inputs: P.Inputs, diags: list[Diagnostic], n_imatrix: int, stock: P.StockEntry) -> P.Plan:
    """The Plan: everything emit, verify and diff need."""
    mtp = recipe.mtp
    notes = [d.headline() for d in diags]
    if n_imatrix > 1:
        notes.append("several imatrices were merged for planning; llama-quantize takes one: merge them "
                     "(llama-imatrix --in-file A --in-file B -o merged.gguf) and pass that")
    return P.Plan(
        recipec_version=__version__, name=recipe.name, arch=s.model.arch, target=recipe.target, inputs=inputs,
        llama_quantize=named_output(lq, tensors), totals=totals(recipe, s, tensors, solved),
        mtp=P.MtpEntry(policy=mtp.policy if s.has_mtp else "none", type=mtp.type, outside_budget=mtp.outside_budget,
                       layers=tuple(s.model.mtp_layers) if s.has_mtp else (),
                       bytes=sum(e.bytes for e in tensors if e.mtp)),
        serve=P.ServeEntry(**{k: getattr(recipe.serve, k) for k in
                              ("ctx", "flash_attn", "cache_type", "spec_mtp", "mmproj", "ngl")}),
        tensors=tuple(tensors), problem=problem(solved), stock=stock, notes=tuple(notes),
        error_model="theoretical" if s.errors is None else "measured+kld" if s.errors.alpha else "measured")
