"""What the model-free checks share: the lint context, type ranks, role and layer overlap."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import gguf

from recipec import ggml
from recipec.recipe import BoundRule, LayerSpec, Recipe, SelectorSpec
from recipec.selectors import role_matches  # noqa: F401  (the checks' import point)

# Architectures whose published GGUFs may carry MTP (nextn) blocks.
MTP_ARCHS = frozenset({"qwen35", "qwen35moe", "qwen3next", "glm4moe", "deepseek2", "mimo2"})


@dataclass(frozen=True)
class LintContext:
    """What every check sees: the validated recipe and its statements."""

    recipe: Recipe
    statements: tuple  # effective AST statements, parents first
    own: dict  # file -> the statements written in that file
    expect_imatrix: bool | None = None  # None: unknown (lint was not told)


def rank(type_name: str) -> float:
    """Order types by storage bits per weight (floors and ceilings compare this)."""
    return ggml.bits_per_weight(type_name)


@lru_cache(maxsize=None)
def known_roles() -> frozenset[str]:
    """Every role of every architecture the gguf package knows (name without blk.N. and .weight)."""
    roles = set()
    for name in gguf.TENSOR_NAMES.values():
        if "{xid}" in name:
            continue
        roles.add(name.replace("blk.{bid}.", ""))
    return frozenset(roles)


def roles_overlap(a: str, b: str) -> bool:
    """Whether role globs A and B can name a common role (known roles or each other's literal)."""
    pool = known_roles() | {a, b}
    return any(role_matches(a, r) and role_matches(b, r) for r in pool if "*" not in r and "?" not in r) \
        or (a == b)


def _interval(f: LayerSpec | None) -> tuple[float, float] | None:
    if f is None:
        return None
    if f.kind == "range":
        return (f.a, f.b)
    if f.kind == "one":
        return (f.a, f.a)
    if f.kind == "first":
        return (0, f.a - 1)
    if f.kind == "list":
        return (min(f.items), max(f.items))
    return None  # `last N` and `trunk`: without a model, any trunk layer


def layers_overlap(a: LayerSpec | None, b: LayerSpec | None) -> bool:
    """Whether two layer filters may share a layer (without a model: `last N` may hit anything)."""
    if a is None or b is None:
        return True
    if (a.kind == "mtp") != (b.kind == "mtp"):
        return False
    if a.kind == "mtp":
        return True
    if a.kind == "list" or b.kind == "list":  # a list overlaps only through one of its layers
        one, other = (a, b) if a.kind == "list" else (b, a)
        return any(layers_overlap(LayerSpec(kind="one", a=n), other) for n in one.items)
    ia, ib = _interval(a), _interval(b)
    if ia is None or ib is None:
        return True
    return ia[0] <= ib[1] and ib[0] <= ia[1]


def selectors_overlap(a: SelectorSpec, b: SelectorSpec) -> bool:
    return roles_overlap(a.role, b.role) and layers_overlap(a.layers, b.layers)


def bounds_overlap(a: BoundRule, b: BoundRule) -> tuple[SelectorSpec, SelectorSpec] | None:
    """The first pair of overlapping selectors of two bound statements, if any."""
    for sa in a.selectors:
        for sb in b.selectors:
            if selectors_overlap(sa, sb):
                return sa, sb
    return None


def ladder_span(recipe: Recipe, type_name: str):
    """Where TYPE_NAME was written in the ladder (or the ladder statement)."""
    return recipe.spans.get(f"ladder:{type_name}", recipe.spans.get("ladder"))


def chosen_types(recipe: Recipe):
    """(type, span, where) of every type the optimiser may write: ladder, pins, mtp keep."""
    out = []
    for t in recipe.ladder or ():
        out.append((t, ladder_span(recipe, t), "the ladder"))
    for b in recipe.bounds:
        if b.kind == "pin":
            out.append((b.type, b.type_span, "a pin"))
    if recipe.mtp.policy == "keep" and recipe.mtp.type:
        out.append((recipe.mtp.type, recipe.mtp.span, "`mtp keep`"))
    return out
