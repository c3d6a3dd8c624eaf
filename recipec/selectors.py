"""Selector matching: role globs and layer filters -> the tensors a statement names.

A selector is a role glob (`attn_*`, `ffn_down_exps`, `nextn.eh_proj`) with an optional layer
filter (`@first 2`, `@last 4`, `@3..7`, `@12`, `@3,7,11`, `@every 4 from 3`, `@trunk`,
`@full-attention`, `@recurrent`, `@mtp`). Layer filters count trunk layers; `@trunk` is every trunk
layer; `@full-attention` and `@recurrent` are the trunk layers of each kind in the model's metadata
(a model without recurrent layers has no `@recurrent` layer); `@mtp` names the MTP blocks. A filter
binds to the selector it is written on. Shared by lint (role overlap) and resolve (binding to
tensors). Nothing is materialised beyond the model's own layers: ranges and strides stay `range`s.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Protocol

from recipec.recipe import DepthRule, LayerSpec, SelectorSpec


class Named(Protocol):
    """What selection reads of a tensor."""

    role: str
    layer: int | None
    mtp: bool


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern))


def role_matches(glob: str, role: str) -> bool:
    """Whether the role glob GLOB names ROLE (fnmatch syntax, whole role)."""
    return bool(_glob(glob).match(role))


@dataclass(frozen=True)
class LayerContext:
    """What layer filters read of a model: the trunk's size and its layers of each kind."""

    trunk: int
    full_attention: frozenset[int] = frozenset()
    recurrent: frozenset[int] = frozenset()

    @classmethod
    def plain(cls, trunk: int) -> "LayerContext":
        """A model whose every trunk layer is full attention."""
        return cls(trunk, frozenset(range(trunk)))


def layer_context(model) -> LayerContext:
    """The layer context of MODEL (a ModelInfo: trunk_layers, full_attention_layers, recurrent_layers)."""
    trunk = model.trunk_layers
    return LayerContext(trunk, frozenset(n for n in model.full_attention_layers if n < trunk),
                        frozenset(n for n in model.recurrent_layers if n < trunk))


def layer_set(spec: LayerSpec | None, ctx: LayerContext) -> range | frozenset[int] | None:
    """The trunk layers a filter names (None: no filter, or `@mtp`, which the caller handles).

    Ranges and strides are clipped to the trunk, so a filter naming layer 10^10 costs nothing.
    """
    if spec is None or spec.kind == "mtp":
        return None
    trunk = ctx.trunk
    if spec.kind == "first":
        return range(min(spec.a, trunk))
    if spec.kind == "last":
        return range(max(0, trunk - spec.a), trunk)
    if spec.kind == "range":
        return range(min(spec.a, trunk), min(spec.b + 1, trunk))
    if spec.kind == "every":
        return range(min(spec.b, trunk), trunk, max(1, spec.a))
    if spec.kind == "trunk":
        return range(trunk)
    if spec.kind == "full-attention":
        return ctx.full_attention
    if spec.kind == "recurrent":
        return ctx.recurrent
    if spec.kind == "list":
        return frozenset(n for n in spec.items if n < trunk)
    return frozenset({spec.a})


def filter_text(spec: LayerSpec) -> str:
    """SPEC as a recipe writes it after `@` (`every 4 from 3`, `0..9`, `full-attention`)."""
    if spec.kind == "every":
        return f"every {spec.a}" + (f" from {spec.b}" if spec.b else "")
    return {"first": f"first {spec.a}", "last": f"last {spec.a}", "range": f"{spec.a}..{spec.b}",
            "one": f"{spec.a}", "list": ",".join(map(str, spec.items))}.get(spec.kind, spec.kind)


def outside_trunk(spec: LayerSpec | None, ctx: LayerContext) -> str | None:
    """The layers SPEC writes that the trunk does not have, in words (`layers 40..99`), else None.

    Computed from the filter's ends, never by listing layers; a stride is endless by nature, so
    only its first layer counts.
    """
    if spec is None:
        return None
    trunk = ctx.trunk
    if spec.kind in ("first", "last") and spec.a > trunk:
        return f"{spec.a} layers"
    if spec.kind == "range" and spec.b >= trunk:
        lo = max(spec.a, trunk)
        return f"layer {lo}" if lo == spec.b else f"layers {lo}..{spec.b}"
    if spec.kind == "one" and spec.a >= trunk:
        return f"layer {spec.a}"
    if spec.kind == "list" and any(n >= trunk for n in spec.items):
        past = [n for n in spec.items if n >= trunk]
        return ("layer " if len(past) == 1 else "layers ") + ",".join(map(str, past))
    if spec.kind == "every" and spec.b >= trunk:
        return f"layer {spec.b}"
    return None


def in_layers(spec: LayerSpec | None, t: Named, ctx: LayerContext) -> bool:
    """Whether tensor T lies in the layers SPEC names (no filter: every tensor)."""
    if spec is None:
        return True
    if spec.kind == "mtp":
        return t.mtp
    if t.mtp or t.layer is None:
        return False
    return t.layer in layer_set(spec, ctx)


def specificity(sel: SelectorSpec) -> tuple[tuple[int, int], bool]:
    """How specific SEL is (a layer filter, a literal role), and whether it names `@mtp`: between two
    pins on one tensor the more specific selector wins (resolve), and lint does not call that a conflict."""
    layers = sel.layers
    literal = not any(ch in sel.role for ch in "*?[")
    return (int(layers is not None), int(literal)), getattr(layers, "kind", None) == "mtp"


def select(sel: SelectorSpec, tensors: Iterable[Named], ctx: LayerContext) -> list:
    """The tensors SEL names, in the order given."""
    return [t for t in tensors if role_matches(sel.role, t.role) and in_layers(sel.layers, t, ctx)]


def depth_of(rules: Iterable[DepthRule], t: Named, ctx: LayerContext) -> float:
    """The depth multiplier of tensor T: the last `depth` statement naming its layer, else 1."""
    m = 1.0
    for d in rules:
        if in_layers(d.layers, t, ctx):
            m = d.multiplier
    return m
