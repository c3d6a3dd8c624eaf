"""Deviations from a start mix -> the few `pin` statements a person would write (for `recipec import`).

Given every quantized tensor's wanted type and the type a recipe without pins gives it (the stock
mix, or `mtp keep`), find `pin SEL… TYPE` statements that select every deviating tensor and no
tensor of another wanted type, so their order never matters:

* per role, layer ranges over the layers the role has, each inside a run of layers already of the
  type and stretched to the first or last layer when the run reaches it (`@first N`, `@last N`,
  `@A..B`, `@N`; no filter when every tensor of the role has the type, `@trunk` when every tensor
  but the MTP block's has it; `@mtp` for MTP blocks); where that takes three or more ranges, one
  stride instead (`@every N [from M]`) when a stride names every layer that needs the type and no
  layer of the role that has another (odd and even layers, every 4th layer), written
  `@full-attention` when it is a hybrid model's full-attention layers;
* one statement per type and set of layer filters, naming every role that shares both, with a
  family of roles written as a glob (`attn_*`, `ffn_*_exps`) when the glob selects nothing else
  of another type;
* where lint, which has no model, could not tell two statements of different types apart (`last N`
  may be any layer; a glob may name roles absent there), both are written tight: exact roles, each
  with the exact range of layers that has it (L002 conflicting-pins never fires).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from recipec import ggml
from recipec.checks.common import layers_overlap, roles_overlap
from recipec.diagnostics import error
from recipec.mixture import is_quantizable, quantize_order, shape_fallback
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec.selectors import in_layers, layer_context, role_matches, select


@dataclass(frozen=True)
class Layers:
    """A layer filter as recipec.selectors reads it (kind, a, b, items): first, last, range, one,
    every (a the step, b the first layer), list, full-attention, trunk or mtp."""

    kind: str
    a: int | None = None
    b: int | None = None
    items: tuple[int, ...] = ()  # a list's layers

    def __str__(self) -> str:
        if self.kind == "every":
            return f"every {self.a}" + (f" from {self.b}" if self.b else "")
        if self.kind == "list":
            return ",".join(map(str, self.items))
        return {"first": f"first {self.a}", "last": f"last {self.a}", "range": f"{self.a}..{self.b}",
                "one": f"{self.a}", "mtp": "mtp", "trunk": "trunk", "full-attention": "full-attention"}[self.kind]


@dataclass(frozen=True)
class Sel:
    """A selector: a role (or role glob) and an optional layer filter."""

    role: str
    layers: Layers | None = None

    def __str__(self) -> str:
        return self.role + (f"@{self.layers}" if self.layers else "")


@dataclass(frozen=True)
class Choice:
    """Tensors of one role pinned to one type: the filter as a person writes it, and the exact one."""

    role: str
    type: str
    layers: Layers | None
    tight: Layers | None


@dataclass(frozen=True)
class Pin:
    """`pin SEL… TYPE`, and the exact roles it names (its globs expanded)."""

    selectors: tuple[Sel, ...]
    type: str
    roles: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"pin {' '.join(map(str, self.selectors))} {self.type}"


def quantized_tensors(model: ModelInfo) -> list[TensorInfo]:
    """The tensors llama-quantize may change, in file order."""
    return [t for t in model.tensors if is_quantizable(t, arch=model.arch)]


# --- one role: layer ranges -----------------------------------------------------------------------

def intervals(types: Sequence[str], need: Sequence[bool], want: str) -> list[tuple[int, int]]:
    """Position intervals covering every needed position of type WANT, each inside a run of
    positions already of that type, stretched to either end when the run reaches it."""
    out, i, n = [], 0, len(types)
    while i < n:
        if types[i] != want:
            i += 1
            continue
        j = i
        while j + 1 < n and types[j + 1] == want:
            j += 1
        hit = [k for k in range(i, j + 1) if need[k]]
        if hit:
            out.append((0 if i == 0 else hit[0], n - 1 if j == n - 1 else hit[-1]))
        i = j + 1
    return out


def stride(layers: Sequence[int], types: Sequence[str], need: Sequence[bool], want: str) -> Layers | None:
    """`every N [from M]` over a role present in LAYERS (with TYPES): it names every needed layer of
    type WANT and no layer of the role that has another type; N the largest such step, M the
    lowest start that works. None when no step of 2 or more does."""
    hit = [layer for layer, t, k in zip(layers, types, need) if k and t == want]
    step = 0
    for x, y in zip(hit, hit[1:]):
        step = math.gcd(step, y - x)
    if step < 2:
        return None
    for start in dict.fromkeys((hit[0] % step, hit[0])):  # from the first layer it can, else the first hit
        if all(t == want for layer, t in zip(layers, types) if layer >= start and (layer - start) % step == 0):
            return Layers("every", step, start)
    return None


def _filters(layers: Sequence[int], a: int, b: int, trunk: int) -> tuple[Layers, Layers]:
    """(as a person writes it, exact) filters for positions A..B of a role present in LAYERS."""
    tight = Layers("one", layers[a]) if a == b else Layers("range", layers[a], layers[b])
    if a == b:
        return tight, tight
    if a == 0:
        return Layers("first", layers[b] + 1), tight
    if b == len(layers) - 1:
        return Layers("last", trunk - layers[a]), tight
    return tight, tight


def _role_choices(role: str, tensors: Sequence[TensorInfo], final: Mapping[str, str],
                  start: Mapping[str, str], trunk: int,
                  full_attention: frozenset[int] | None = None) -> tuple[list[Choice], set[str]]:
    """One role's choices outside the MTP blocks, and the MTP tensors a bare selector covers."""
    out: list[Choice] = []
    covered: set[str] = set()
    uniform = {final[t.name] for t in tensors}
    for t in (t for t in tensors if t.layer is None and final[t.name] != start[t.name]):
        if len(uniform) > 1:
            raise error("Q205", f"{t.name} differs from the other `{role}` tensors, and no layer "
                        "filter selects it alone")
        out.append(Choice(role, final[t.name], None, None))
        covered |= {u.name for u in tensors}
    body = sorted((t for t in tensors if t.layer is not None and not t.mtp), key=lambda t: t.layer)
    layers = [t.layer for t in body]
    types = [final[t.name] for t in body]
    need = [final[t.name] != start[t.name] for t in body]
    for want in sorted({x for x, k in zip(types, need) if k}):
        spans = intervals(types, need, want)
        every = stride(layers, types, need, want) if len(spans) > 2 else None
        if every is not None:
            named = full_attention is not None and frozenset(range(every.b, trunk, every.a)) == full_attention
            # exact: the role's layers it names (lint, which has no model, cannot bound a stride)
            exact = Layers("list", items=tuple(x for x in layers if x >= every.b and (x - every.b) % every.a == 0))
            out.append(Choice(role, want, Layers("full-attention") if named else every, exact))
            continue
        for a, b in spans:
            if a == 0 and b == len(body) - 1 and uniform == {want}:
                out.append(Choice(role, want, None, None))
                covered |= {t.name for t in tensors}
            elif a == 0 and b == len(body) - 1 and a < b:  # every trunk layer, not the MTP blocks
                out.append(Choice(role, want, Layers("trunk"), Layers("range", layers[0], layers[-1])))
            else:
                out.append(Choice(role, want, *_filters(layers, a, b, trunk)))
    return out, covered


def _mtp_choices(role: str, tensors: Sequence[TensorInfo], final: Mapping[str, str],
                 start: Mapping[str, str], covered: set[str]) -> list[Choice]:
    """One role's MTP tensors that still deviate: `ROLE@mtp` (bare for a role only MTP blocks have)."""
    mtp = [t for t in tensors if t.mtp]
    if not any(final[t.name] != start[t.name] and t.name not in covered for t in mtp):
        return []
    kinds = {final[t.name] for t in mtp}
    if len(kinds) > 1:
        raise error("Q205", f"the MTP blocks' `{role}` tensors have different types "
                    f"({', '.join(sorted(kinds))}), and `@mtp` selects them all at once")
    f = None if all(t.mtp for t in tensors) else Layers("mtp")
    return [Choice(role, kinds.pop(), f, f)]


def deviations(model: ModelInfo, final: Mapping[str, str], start: Mapping[str, str]) -> list[Choice]:
    """Choices that together select every quantized tensor whose FINAL type is not its START type,
    and no tensor of another final type."""
    by_role: dict[str, list[TensorInfo]] = {}
    for t in quantized_tensors(model):
        by_role.setdefault(t.role, []).append(t)
    out: list[Choice] = []
    ctx = layer_context(model)
    hybrid = frozenset(ctx.full_attention) if ctx.recurrent else None  # a stride that is the model's own set
    for role, tensors in by_role.items():
        choices, covered = _role_choices(role, tensors, final, start, model.trunk_layers, hybrid)
        out += choices + _mtp_choices(role, tensors, final, start, covered)
    return out


# --- choices -> statements ------------------------------------------------------------------------

def _glob_candidates(role: str) -> list[str]:
    """Role globs a person writes for a family of roles: `attn_*`, `ffn_*_exps`."""
    parts = role.split("_")
    if "." in role or "*" in role or len(parts) < 2:
        return []
    return [f"{parts[0]}_*"] + ([f"{parts[0]}_*_{parts[-1]}"] if len(parts) > 2 else [])


def _glob_ok(glob: str, filters: Sequence[Layers | None], typ: str, model: ModelInfo,
             final: Mapping[str, str]) -> bool:
    """Whether GLOB in FILTERS selects only quantized tensors whose final type is TYP."""
    ctx = layer_context(model)
    for t in quantized_tensors(model):
        if role_matches(glob, t.role) and any(in_layers(f, t, ctx) for f in filters):
            if final[t.name] != typ:
                return False
    return True


def merge_roles(roles: Sequence[str], filters: Sequence[Layers | None], typ: str, model: ModelInfo,
                final: Mapping[str, str]) -> list[str]:
    """ROLES (which share TYP and FILTERS) with families written as globs, the widest first."""
    left = list(roles)
    while True:
        best: tuple[int, int, str] | None = None
        for g in {g for r in left if "*" not in r for g in _glob_candidates(r)}:
            named = [r for r in left if "*" not in r and role_matches(g, r)]
            if len(named) >= 2 and _glob_ok(g, filters, typ, model, final):
                key = (-len(named), len(g), g)
                best = key if best is None or key < best else best
        if best is None:
            return left
        glob = best[2]
        at = min(i for i, r in enumerate(left) if "*" not in r and role_matches(glob, r))
        gone = {r for r in left if "*" not in r and role_matches(glob, r)}
        left = [r for r in left[:at] if r not in gone] + [glob] + [r for r in left[at:] if r not in gone]


def role_order(model: ModelInfo) -> dict[str, int]:
    """Roles in the order llama-quantize writes their first tensor (globals first, then by layer,
    names bytewise): the same for a source model and any file quantized from it."""
    order: dict[str, int] = {}
    for t in quantize_order(model.tensors):
        order.setdefault(t.role, len(order))
    return order


def _filter_key(f: Layers | None) -> tuple:
    if f is None:
        return (0, 0)
    if f.kind == "trunk":
        return (1, -1)
    if f.kind == "every":
        return (1, f.b)
    if f.kind == "full-attention":
        return (1, -1)
    if f.kind == "list":
        return (1, f.items[0])
    return (2, 0) if f.kind == "mtp" else (1, f.a if f.kind != "last" else 1 << 30)


def _group(choices: Sequence[Choice], model: ModelInfo, final: Mapping[str, str],
           tight: set[tuple[str, str]]) -> list[Pin]:
    """One pin per type and set of filters (the exact ones for (type, role) in TIGHT)."""
    order = role_order(model)
    filters: dict[tuple[str, str], list[Layers | None]] = {}
    for c in choices:
        filters.setdefault((c.type, c.role), []).append(c.tight if (c.type, c.role) in tight else c.layers)
    families: dict[tuple[str, tuple, bool], list[str]] = {}
    for (typ, role), fs in sorted(filters.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        exact = (typ, role) in tight
        families.setdefault((typ, tuple(sorted(set(fs), key=_filter_key)), exact), []).append(role)
    pins = []
    for (typ, fs, exact), roles in families.items():
        written = roles if exact else merge_roles(roles, fs, typ, model, final)
        pins.append(Pin(tuple(Sel(r, f) for r in written for f in fs), typ, tuple(roles)))
    return sorted(pins, key=lambda p: _pin_key(p, order))


def _pin_key(p: Pin, order: Mapping[str, int]) -> tuple:
    """Higher types first; then by where the first role sits in the model, then its layers."""
    first = p.selectors[0]
    return (-ggml.bits_per_weight(p.type), order.get(p.roles[0], 0), _filter_key(first.layers), str(p))


def clashes(pins: Sequence[Pin]) -> set[int]:
    """Indices of pins to write tight: of two pins of different types that lint (without a model)
    could not tell apart, the ones with a `last N` filter or a glob (both when neither has one)."""
    def loose(p: Pin) -> bool:
        return any("*" in s.role or (s.layers is not None and s.layers.kind == "last") for s in p.selectors)

    same_role = lru_cache(maxsize=None)(roles_overlap)  # it walks every known role: ask once per pair
    out: set[int] = set()
    for i, a in enumerate(pins):
        for j in range(i + 1, len(pins)):
            b = pins[j]
            if a.type != b.type and any(layers_overlap(x.layers, y.layers) and same_role(x.role, y.role)
                                        for x in a.selectors for y in b.selectors):
                out |= {k for k, p in ((i, a), (j, b)) if loose(p)} or {i, j}
    return out


def pin_statements(choices: Sequence[Choice], model: ModelInfo, final: Mapping[str, str]) -> list[Pin]:
    """The pins for CHOICES: compact, and written tight where lint would see a clash."""
    tight: set[tuple[str, str]] = set()
    while True:
        pins = _group(choices, model, final, tight)
        more = {(pins[i].type, r) for i in clashes(pins) for r in pins[i].roles} - tight
        if not more:
            return drop_redundant(pins, model)
        tight |= more


def drop_redundant(pins: Sequence[Pin], model: ModelInfo) -> list[Pin]:
    """PINS without the selectors whose tensors other selectors of the same type already select
    (`attn_gate` next to `attn_*@first 2`); exact roles go before globs, later pins first."""
    quantized, ctx = quantized_tensors(model), layer_context(model)
    picked = {(i, k): {t.name for t in select(sel, quantized, ctx)}
              for i, p in enumerate(pins) for k, sel in enumerate(p.selectors)}
    alive = set(picked)
    for i, k in sorted(picked, key=lambda ik: ("*" in pins[ik[0]].selectors[ik[1]].role, -ik[0], -ik[1])):
        others = set().union(*(picked[o] for o in alive if o != (i, k) and pins[o[0]].type == pins[i].type))
        if picked[(i, k)] <= others:
            alive.discard((i, k))
    out = []
    for i, p in enumerate(pins):
        kept = tuple(sel for k, sel in enumerate(p.selectors) if (i, k) in alive)
        if kept:
            out.append(Pin(kept, p.type, p.roles))
    return out


def recipe_types(model: ModelInfo, start: Mapping[str, str], pins: Iterable[Pin]) -> dict[str, str]:
    """What a recipe without a budget gives each quantized tensor: the last pin naming it (through
    the shape fallback), else its START type (the stock type, or `mtp keep`): recipec.resolve."""
    quantized, ctx = quantized_tensors(model), layer_context(model)
    out = {t.name: start[t.name] for t in quantized}
    for p in pins:
        for s in p.selectors:
            for t in select(s, quantized, ctx):
                out[t.name] = shape_fallback(p.type, t.shape[0]) or "(the run fails)"
    return out
