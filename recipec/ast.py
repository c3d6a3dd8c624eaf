"""Frozen surface-syntax nodes of a recipe; each carries a Span that equality ignores."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Union

from recipec.source import Span

_NOSPAN = Span("", 0, 0)


def _span() -> Span:
    return field(default=_NOSPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Word:
    """A name as written (a type, FTYPE, role, unit, architecture or profile)."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    """A number as written; `value` is its float."""

    text: str
    span: Span = _span()

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def is_int(self) -> bool:
        return self.text.isdigit()


@dataclass(frozen=True)
class LayerFilter:
    """`first N`, `last N`, `A..B`, `N`, `N,M,…`, `every N [from M]`, `trunk`, `full-attention`,
    `recurrent` or `mtp`."""

    kind: str  # "first" | "last" | "range" | "one" | "list" | "every" | "trunk" | "full-attention" | "recurrent" | "mtp"
    a: int | None = None  # first/last: the count; range: the start; one: the layer; every: the stride
    b: int | None = None  # range: the end; every: the first layer (0 when `from` is not written)
    span: Span = _span()
    items: tuple[int, ...] = ()  # the layers of a list, as written

    def __str__(self) -> str:
        if self.kind == "every":
            return f"every {self.a}" + (f" from {self.b}" if self.b else "")
        return {
            "first": f"first {self.a}",
            "last": f"last {self.a}",
            "range": f"{self.a}..{self.b}",
            "one": f"{self.a}",
            "list": ",".join(map(str, self.items)),
        }.get(self.kind, self.kind)  # trunk, full-attention, recurrent, mtp: the keyword


@dataclass(frozen=True)
class Selector:
    """A role glob with an optional layer filter: `ffn_down_exps@first 2`."""

    role: str
    layers: LayerFilter | None = None
    span: Span = _span()

    def __str__(self) -> str:
        return self.role + (f"@{self.layers}" if self.layers else "")


# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class RecipeName:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Extends:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Arch:
    names: tuple[Word, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Base:
    ftype: Word
    span: Span = _span()


@dataclass(frozen=True)
class Ladder:
    types: tuple[Word, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BudgetAmount:
    """`budget 19.4 GiB` or `budget 4.5 bpw` (the unit says which)."""

    amount: Number
    unit: Word
    span: Span = _span()


@dataclass(frozen=True)
class BudgetFit:
    """`budget fit 24 GiB ctx 32768 kv q8_0 [parallel 1] [overhead 1 GiB]`."""

    device: Number
    device_unit: Word
    ctx: Number
    kv: Word
    parallel: Number | None = None
    overhead: Number | None = None
    overhead_unit: Word | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Bound:
    """`floor|ceiling|pin SEL… TYPE`."""

    kind: str  # "floor" | "ceiling" | "pin"
    selectors: tuple[Selector, ...]
    type: Word
    span: Span = _span()


@dataclass(frozen=True)
class Tie:
    """`tie ROLE ROLE…` (roles) or `tie auto` (roles empty, auto True)."""

    roles: tuple[Word, ...] = ()
    auto: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Depth:
    layers: LayerFilter
    multiplier: str  # as written, without the leading x
    span: Span = _span()


@dataclass(frozen=True)
class Mtp:
    """`mtp keep T [outside budget]`, `mtp optimise [floor T]`, `mtp drop`."""

    policy: str  # "keep" | "optimise" | "drop"
    type: Word | None = None
    outside_budget: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Solver:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Errors:
    """`errors "PATH"`: the measured error file (recipec measure), relative to this recipe."""

    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Target:
    profile: Word
    span: Span = _span()


@dataclass(frozen=True)
class Serve:
    """`serve SETTING VALUE`: ctx, flash-attn, cache-type, spec, mmproj, ngl."""

    setting: str
    value: str  # as written (a quoted path keeps no quotes)
    span: Span = _span()


Statement = Union[RecipeName, Extends, Arch, Base, Ladder, BudgetAmount, BudgetFit, Bound, Tie,
                  Depth, Mtp, Solver, Target, Serve, Errors]


@dataclass(frozen=True)
class Comment:
    """A `#` comment: `trailing` when it follows a statement on the same line."""

    text: str
    line: int
    trailing: bool
    span: Span = _span()


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file: statements in order, comments, and the lines left blank."""

    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    blank_lines: tuple[int, ...] = field(default=(), compare=False)
    span: Span = _span()


def strip_spans(node):
    """A plain nested tuple form of NODE without spans (for debugging and tests)."""
    if is_dataclass(node):
        return (type(node).__name__,) + tuple(
            strip_spans(getattr(node, f.name)) for f in fields(node) if f.compare
        )
    if isinstance(node, tuple):
        return tuple(strip_spans(n) for n in node)
    return node
