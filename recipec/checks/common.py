"""What the model-free checks share: the lint context, type ranks, role and layer overlap."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache

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
    for name in ggml.gguf_constants().TENSOR_NAMES.values():
        if "{xid}" in name:
            continue
        roles.add(name.replace("blk.{bid}.", ""))
    return frozenset(roles)


@lru_cache(maxsize=65536)  # it walks every known role: asked once per pair of role texts
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
    return None  # `last N`, `trunk`, `full-attention`, `recurrent`: without a model, any trunk layer


def _stride_meets(every: LayerSpec, other: LayerSpec) -> bool:
    """Whether the stride EVERY (`every a from b`) shares a layer with OTHER, computed from the ends."""
    step, start = max(1, every.a), every.b
    if other.kind == "every":  # b1 + i·a1 = b2 + j·a2 has a solution iff gcd(a1, a2) divides b1 - b2
        return (start - other.b) % math.gcd(step, max(1, other.a)) == 0
    span = _interval(other)
    if span is None:
        return True
    lo, hi = max(span[0], start), span[1]
    first = start + -(-(lo - start) // step) * step  # the stride's first layer at or after lo
    return first <= hi


def layers_overlap(a: LayerSpec | None, b: LayerSpec | None) -> bool:
    """Whether two layer filters may share a layer (without a model: `last N` may hit anything;
    `full-attention` and `recurrent` never share one)."""
    if a is None or b is None:
        return True
    if (a.kind == "mtp") != (b.kind == "mtp"):
        return False
    if a.kind == "mtp":
        return True
    if {a.kind, b.kind} == {"full-attention", "recurrent"}:
        return False
    if a.kind == "list" or b.kind == "list":  # a list overlaps only through one of its layers
        one, other = (a, b) if a.kind == "list" else (b, a)
        return any(layers_overlap(LayerSpec(kind="one", a=n), other) for n in one.items)
    if a.kind == "every" or b.kind == "every":
        every, other = (a, b) if a.kind == "every" else (b, a)
        return _stride_meets(every, other)
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


# ----------------------------------------------------------------------------- overlap in linear time
# The pairwise checks (L001, L002, L009) ask which bound statements may select the same tensors.
# Comparing every pair is quadratic (1,000 pins: 500,000 pairs, each walking every known role);
# instead each selector is filed under the roles it may name, and within a role a sweep over the
# layer intervals yields only the pairs whose filters may meet. The index is a superset: each pair
# it yields is confirmed with `bounds_overlap`, so the checks say exactly what they said before.


def _is_glob(role: str) -> bool:
    return "*" in role or "?" in role


@lru_cache(maxsize=65536)
def _known_named(glob: str) -> frozenset[str]:
    """The known roles the glob GLOB names."""
    return frozenset(r for r in known_roles() if role_matches(glob, r))


def _role_keys(role: str, unknown_literals: frozenset[str]) -> frozenset[str]:
    """The index keys of ROLE: a literal is its own key; a glob is filed under its own text and
    under every known role and every literal of the recipe it names."""
    if not _is_glob(role):
        return frozenset({role})
    return _known_named(role) | {role} | {x for x in unknown_literals if role_matches(role, x)}


def _sides(spec: LayerSpec | None) -> tuple[tuple[str, float, float], ...]:
    """Where a layer filter may reach, as a superset: (side, first layer, last layer) per side."""
    if spec is None:
        return (("mtp", -math.inf, math.inf), ("trunk", -math.inf, math.inf))
    if spec.kind == "mtp":
        return (("mtp", -math.inf, math.inf),)
    iv = _interval(spec)
    if iv is None:
        return (("trunk", -math.inf, math.inf),)
    return (("trunk", min(iv), max(iv)),)


def _min_meeting(intervals: list[tuple[float, float, int]],
                 queries: list[tuple[float, float, int]]) -> dict[int, float]:
    """For each query (first, last, id): the least index of INTERVALS (first, last, index) that meet
    it (first <= query last and last >= query first), or inf. Offline: queries by their last
    layer, intervals added by their first, a Fenwick tree of least indices over the interval ends."""
    ends = sorted({hi for _, hi, _ in intervals})
    where = {h: k for k, h in enumerate(ends)}
    size = len(ends)
    tree = [math.inf] * (size + 1)  # position p (end ascending) is stored at size - p: suffix minima
    out: dict[int, float] = {}
    pending = sorted(intervals)
    j = 0
    for lo, hi, qid in sorted(queries, key=lambda q: q[1]):
        while j < len(pending) and pending[j][0] <= hi:
            k = size - where[pending[j][1]]
            while k <= size:
                tree[k] = min(tree[k], pending[j][2])
                k += k & -k
            j += 1
        k, best = size - bisect.bisect_left(ends, lo), math.inf
        while k > 0:
            best = min(best, tree[k])
            k -= k & -k
        out[qid] = min(out.get(qid, math.inf), best)  # a statement asks once per selector
    return out


def _layer_key(spec: LayerSpec | None):
    return None if spec is None else (spec.kind, spec.a, spec.b, spec.items)


# A glob naming more known roles than this (`*`) is filed once under WIDE instead of under each
# role; every selector is also filed under ALL. A wide selector asks ALL; any other asks its roles
# and WIDE: still every pair that may meet, without 353 copies of each `pin *@N` line.
_WIDE_GLOB = 32
_ALL, _WIDE = "\x00all", "\x00wide"


def _places(bounds: list[BoundRule], reps: list[int], klass) -> dict[str, tuple[list, list]]:
    """Selector text -> the (role key, side, class) groups it is filed under and those it asks,
    each with the layers it may reach."""
    unknown = frozenset(s.role for i in reps for s in bounds[i].selectors
                        if not _is_glob(s.role) and s.role not in known_roles())
    places: dict[str, tuple[list, list]] = {}
    for i in reps:
        for s in bounds[i].selectors:
            if s.text in places:
                continue
            keys, k, sides = _role_keys(s.role, unknown), klass(s), _sides(s.layers)
            wide = len(keys) > _WIDE_GLOB
            filed = [_ALL, _WIDE] if wide else [_ALL, *keys]
            asks = [_ALL] if wide else [*keys, _WIDE]
            places[s.text] = ([((key, side, k), lo, hi) for key in filed for side, lo, hi in sides],
                              [((key, side, k), lo, hi) for key in asks for side, lo, hi in sides])
    return places


def _earliest_meeting(bounds: list[BoundRule], reps: list[int], clash, klass) -> dict[int, float]:
    """Each distinct statement -> the least index of a distinct statement that may meet it (by the
    index: a superset of `bounds_overlap`) and whose (kind, type) CLASH with its own."""
    categories = {(b.kind, b.type) for b in (bounds[i] for i in reps)}
    against = {c: [d for d in categories if clash(c, d)] for c in categories}
    targets = {d for ds in against.values() for d in ds}  # only these are ever asked for
    filed = [i for i in reps if (bounds[i].kind, bounds[i].type) in targets]
    asking = [i for i in reps if against[(bounds[i].kind, bounds[i].type)]]
    places = _places(bounds, sorted(set(filed) | set(asking)), klass)
    intervals: dict[tuple, list] = {}  # (group, kind, type) -> intervals
    for i in filed:
        for s in bounds[i].selectors:
            for group, lo, hi in places[s.text][0]:
                intervals.setdefault((group, bounds[i].kind, bounds[i].type), []).append((lo, hi, i))
    queries: dict[tuple, list] = {}
    for i in asking:
        for s in bounds[i].selectors:
            for group, lo, hi in places[s.text][1]:
                for kind, type_ in against[(bounds[i].kind, bounds[i].type)]:
                    if (group, kind, type_) in intervals:
                        queries.setdefault((group, kind, type_), []).append((lo, hi, i))
    earliest: dict[int, float] = {}
    for key, asked in queries.items():
        for i, best in _min_meeting(intervals[key], asked).items():
            earliest[i] = min(earliest.get(i, math.inf), best)
    return earliest


def first_conflicts(bounds: list[BoundRule], clash, conflict, klass=lambda sel: 0) -> list[tuple[int, int, tuple]]:
    """(a, b, selectors) for each statement b of BOUNDS that overlaps an earlier statement a with
    which it conflicts: a is the earliest such, selectors the first overlapping pair (a's, b's).

    CLASH((kind, type), (kind, type)) says whether statements of those kinds and types can
    conflict (symmetric; never for one and the same); CONFLICT(a, b) decides it for two statements
    that overlap; KLASS(selector) splits selectors that never conflict with each other (L002:
    selectors of different specificity). Linear up to logarithms: identical statements are
    indexed once, and each statement finds its earliest candidate through the index; only when
    that candidate turns out not to conflict does it compare with every statement before it."""
    first: dict[tuple, int] = {}
    copies: dict[int, list[int]] = {}
    for i, b in enumerate(bounds):
        key = (b.kind, tuple((s.role, _layer_key(s.layers)) for s in b.selectors), b.type)
        copies.setdefault(first.setdefault(key, i), []).append(i)
    reps = list(copies)
    earliest = _earliest_meeting(bounds, reps, clash, klass)

    def confirmed(a: int, b: int) -> bool:
        x, y = bounds[min(a, b)], bounds[max(a, b)]
        return clash((x.kind, x.type), (y.kind, y.type)) and bounds_overlap(x, y) is not None and conflict(x, y)

    out = []
    for rep, a in earliest.items():
        if a == math.inf:
            continue
        a = int(a)
        if not confirmed(a, rep):  # the index over-approximates: find the true earliest
            a = next((r for r in reps if r != rep and confirmed(r, rep)), None)
            if a is None:
                continue
        out.extend((a, b, bounds_overlap(bounds[a], bounds[b])) for b in copies[rep] if a < b)
    return sorted(out, key=lambda t: (t[1], t[0]))


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
