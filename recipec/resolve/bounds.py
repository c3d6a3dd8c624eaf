"""Stage 2 of resolve: selectors -> bounds on tensors (pins, floors, ceilings, the MTP policy).

Precedence: a pin beats floors and ceilings (an explicit `pin` beats `mtp keep`, the later pin
the earlier); of several floors the highest holds, of several ceilings the lowest; a floor above
a ceiling on one tensor is an error naming both statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from recipec.diagnostics import Diagnostic, did_you_mean
from recipec.llamacpp import is_quantizable
from recipec.modelinfo import ModelInfo
from recipec.recipe import Recipe
from recipec.resolve.settings import Settings, rank
from recipec.selectors import select
from recipec.source import Span


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
class Deciding:
    """The bounds that hold on one tensor once precedence is applied."""

    pin: Optional[Bound] = None
    floor: Optional[Bound] = None
    ceiling: Optional[Bound] = None


def bind(recipe: Recipe, s: Settings) -> tuple[dict[str, tuple[Bound, ...]], list[Diagnostic]]:
    """Every tensor's bounds, in statement order (MTP policy first); and the diagnostics.

    A selector that matches nothing is an error (R301); one that names only tensors llama-quantize
    never quantizes is a warning (R302).
    """
    model = s.model
    bounds: dict[str, list[Bound]] = {}
    diags: list[Diagnostic] = []
    for rule in recipe.bounds:
        for sel in rule.selectors:
            hit = select(sel, model.tensors, model.trunk_layers)
            if not hit:
                diags.append(_matches_nothing(sel, model))
                continue
            if not any(is_quantizable(t, arch=model.arch) for t in hit):
                diags.append(Diagnostic(
                    "R302", f"`{sel.text}` names only tensors llama-quantize never quantizes "
                            f"({hit[0].name}{' …' if len(hit) > 1 else ''}): the statement has no effect",
                    sel.span, hint="remove the statement or the selector"))
            for t in hit:
                bounds.setdefault(t.name, []).append(Bound(rule.kind, rule.type, rule.span))
    mtp = recipe.mtp
    kind = {"keep": "mtp-keep", "optimise": "mtp-floor"}.get(mtp.policy)
    if s.has_mtp and kind and mtp.type:
        for t in model.tensors:
            if t.mtp:
                bounds.setdefault(t.name, []).insert(0, Bound(kind, mtp.type, mtp.span))
    return {name: tuple(bl) for name, bl in bounds.items()}, diags


def _matches_nothing(sel, model: ModelInfo) -> Diagnostic:
    guess = did_you_mean(sel.role, list(model.roles))
    where = "" if sel.layers is None else " in those layers"
    return Diagnostic("R301", f"`{sel.text}` matches no tensor of this {model.arch} model{where}", sel.span,
                      hint=f"did you mean {guess}?" if guess else "see `recipec inspect` for the model's roles")


def decide(name: str, bl: tuple[Bound, ...]) -> tuple[Deciding, Optional[Diagnostic]]:
    """The pin, highest floor and lowest ceiling among BL; R307 when the floor is above the ceiling."""
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
        return Deciding(None, floor, ceiling), Diagnostic(
            "R307", f"{name}: the floor {floor.type} ({floor.where}) is above the ceiling "
                    f"{ceiling.type} ({ceiling.where})", floor.span,
            notes=(f"{ceiling.where}: the ceiling {ceiling.type}",),
            hint="lower the floor or raise the ceiling")
    return Deciding(pin, floor, ceiling), None
