"""Budgets as byte capacities: what the optimised groups may use, in the budget's own measure.

A size budget counts the predicted whole file (header and padded tensor data, with the header
keys the quantize run adds); a bpw budget counts raw tensor bytes against the elements of the
counted tensors; a `fit` budget counts the file plus the KV cache (or recurrent state) plus an
overhead against the device. Bytes that no decision changes (tensors llama-quantize never
quantizes, groups with one option) are fixed; the capacity is the limit less the fixed bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from recipec import ggml, kvcache
from recipec.imatrix import ImatrixStats
from recipec.llamacpp import KV_STRING_MAX, imatrix_kv_bytes, pad, predict_file_size
from recipec.modelinfo import ModelInfo
from recipec.plan import provenance_kv_bytes
from recipec.recipe import SIZE_UNITS, Budget, Recipe


@dataclass(frozen=True)
class Capacity:
    """A budget turned into bytes."""

    kind: Optional[str]  # size | bpw | fit, None without a budget
    text: Optional[str]  # the budget as written
    capacity: Optional[int]  # bytes the decided groups may use (None: no budget)
    limit: Optional[int]  # the budget in its own measure (file bytes, tensor bytes, device bytes)
    fixed: int  # bytes in the budget's measure that no decision changes
    padded: bool  # whether options count padded bytes
    kv_bytes: Optional[int] = None
    elements: int = 0


@dataclass(frozen=True)
class Fixed:
    """What the budget's measure holds before any decision."""

    padded: int  # padded bytes of the fixed tensors (size and fit budgets)
    raw: int  # raw bytes of the fixed tensors (bpw budgets)
    elements: int  # elements of every counted tensor


def padded_measure(budget: Budget | None) -> bool:
    """Whether the budget measures padded file bytes (size, fit) rather than raw tensor bytes (bpw)."""
    return budget is not None and budget.kind in ("size", "fit")


def fixed_bytes(model: ModelInfo, counted: Iterable[tuple[str, bool]], fixed_options: Iterable[int],
                budget: Budget | None) -> Fixed:
    """Fixed bytes: never-quantized counted tensors at their source type, plus FIXED_OPTIONS
    (the bytes of each counted group that has one option, already in the budget's measure).

    COUNTED: (tensor name, quantized) for every tensor that counts against the budget.
    """
    by_name = model.by_name
    align = model.alignment or 32
    padded = raw = elements = 0
    for name, quantized in counted:
        t = by_name[name]
        elements += t.n_elements
        if not quantized:
            nbytes = ggml.tensor_bytes(t.type, t.shape)
            padded += pad(nbytes, align)
            raw += nbytes
    extra = sum(fixed_options)
    if padded_measure(budget):
        padded += extra
    else:
        raw += extra
    return Fixed(padded, raw, elements)


def added_kv(recipe: Recipe, imatrix: ImatrixStats | None, imatrix_files: tuple[str, ...]) -> tuple[int, int]:
    """(bytes, slack) of the header keys the quantize run adds: provenance, and the imatrix keys.

    The imatrix path is the one given to compile (quantize.sh's default); another path or dataset
    name at quantize time may take up to llama.cpp's 127-byte limit: that is the slack.
    """
    extra = provenance_kv_bytes(recipe.name)
    if imatrix is None or not imatrix_files:
        return extra, 0
    datasets = getattr(imatrix, "datasets", ()) or ()
    dataset = len(datasets[0].encode("utf-8")) if datasets else None
    likely = imatrix_kv_bytes(len(imatrix_files[0].encode("utf-8")), dataset)
    return extra + likely, imatrix_kv_bytes(KV_STRING_MAX, KV_STRING_MAX) - likely


def capacity(budget: Budget | None, model: ModelInfo, fixed: Fixed, kv: tuple[int, int] = (0, 0)) -> Capacity:
    """BUDGET as the bytes left for the decided groups of MODEL (the output model)."""
    if budget is None:
        return Capacity(None, None, None, None, 0, False)
    if budget.kind == "bpw":
        limit = int(budget.bpw * fixed.elements / 8)
        return Capacity("bpw", f"{budget.bpw:g} bpw", limit - fixed.raw, limit, fixed.raw, False,
                        elements=fixed.elements)
    pred = predict_file_size(model, {t.name: t.type for t in model.tensors}, extra_kv_bytes=kv[0])
    meta = pred.metadata_bytes + (pred.slack or 0) + kv[1]
    if budget.kind == "size":
        base = meta + fixed.padded
        return Capacity("size", f"{budget.amount:g} {budget.unit}", budget.bytes - base, budget.bytes, base, True)
    cache = kvcache.estimate(model, budget.ctx, budget.kv_type, budget.parallel).total
    base = meta + fixed.padded + cache + budget.overhead_bytes
    text = f"fit {budget.device_text} ctx {budget.ctx} kv {budget.kv_type.lower()} parallel {budget.parallel}"
    return Capacity("fit", text, budget.device_bytes - base, budget.device_bytes, base, True, kv_bytes=cache)


def fmt_size(n: float, unit: str) -> str:
    """N bytes in UNIT (`19.400 GiB`; plain bytes as `123 B`)."""
    if unit == "B":
        return f"{int(n)} B"
    return f"{n / SIZE_UNITS.get(unit, 1):.3f} {unit}"


def in_unit(budget: Budget, cap: Capacity, group_bytes: int) -> str:
    """A total for the decided groups, in the budget's own unit."""
    total = cap.fixed + group_bytes
    if budget.kind == "bpw":
        return f"{8 * total / cap.elements:.4f} bpw"
    unit = budget.unit if budget.kind == "size" else budget.device_text.split()[-1]
    return fmt_size(total, unit)
