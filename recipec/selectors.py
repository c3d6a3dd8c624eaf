"""Selector matching: role globs and layer filters -> the tensors a statement names.

A selector is a role glob (`attn_*`, `ffn_down_exps`, `nextn.eh_proj`) with an optional layer
filter (`@first 2`, `@last 4`, `@3..7`, `@12`, `@3,7,11`, `@trunk`, `@mtp`). Layer filters count
trunk layers; `@trunk` is every trunk layer; `@mtp` names the MTP blocks. A filter binds to the
selector it is written on. Shared by lint (role overlap) and resolve (binding to tensors).
"""

from __future__ import annotations

import fnmatch
import re
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


def layer_set(spec: LayerSpec | None, trunk: int) -> range | frozenset[int] | None:
    """The trunk layers a filter names (None: no filter, or `@mtp`, which the caller handles).

    Ranges are clipped to the trunk, so a filter naming layer 10^10 costs nothing.
    """
    if spec is None or spec.kind == "mtp":
        return None
    if spec.kind == "first":
        return range(min(spec.a, trunk))
    if spec.kind == "last":
        return range(max(0, trunk - spec.a), trunk)
    if spec.kind == "range":
        return range(min(spec.a, trunk), min(spec.b + 1, trunk))
    if spec.kind == "trunk":
        return range(trunk)
    if spec.kind == "list":
        return frozenset(n for n in spec.items if n < trunk)
    return frozenset({spec.a})


def in_layers(spec: LayerSpec | None, t: Named, trunk: int) -> bool:
    """Whether tensor T lies in the layers SPEC names (no filter: every tensor)."""
    if spec is None:
        return True
    if spec.kind == "mtp":
        return t.mtp
    if t.mtp or t.layer is None:
        return False
    return t.layer in layer_set(spec, trunk)


def specificity(sel: SelectorSpec) -> tuple[tuple[int, int], bool]:
    """How specific SEL is (a layer filter, a literal role), and whether it names `@mtp`: between two
    pins on one tensor the more specific selector wins (resolve), and lint does not call that a conflict."""
    layers = sel.layers
    literal = not any(ch in sel.role for ch in "*?[")
    return (int(layers is not None), int(literal)), getattr(layers, "kind", None) == "mtp"


def select(sel: SelectorSpec, tensors: Iterable[Named], trunk: int) -> list:
    """The tensors SEL names, in the order given."""
    return [t for t in tensors if role_matches(sel.role, t.role) and in_layers(sel.layers, t, trunk)]


def depth_of(rules: Iterable[DepthRule], t: Named, trunk: int) -> float:
    """The depth multiplier of tensor T: the last `depth` statement naming its layer, else 1."""
    m = 1.0
    for d in rules:
        if in_layers(d.layers, t, trunk):
            m = d.multiplier
    return m
