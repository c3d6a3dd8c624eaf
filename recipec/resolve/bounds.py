"""Stage 2 of resolve: selectors -> bounds on tensors (pins, floors, ceilings, the MTP policy).

Precedence: a pin beats floors and ceilings; between pins the more specific selector wins (a
layer filter beats none, then a literal role beats a glob; equal: the later line); `mtp keep`
owns the MTP block unless a pin names it with `@mtp`; of several floors the highest holds, of
several ceilings the lowest; a floor above a ceiling on one tensor is an error naming both
statements. A statement that selects a tensor but neither decides it nor is respected by what
decides it is overridden there (`overridden`, reported as R309).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from recipec.diagnostics import Diagnostic, did_you_mean
from recipec.llamacpp import is_quantizable
from recipec.modelinfo import ModelInfo
from recipec.recipe import Recipe
from recipec.resolve.settings import Settings, rank
from recipec.selectors import LayerContext, filter_text, layer_context, outside_trunk, select, specificity
from recipec.source import Span


@dataclass(frozen=True)
class Bound:
    """A bound on one tensor and the statement that set it."""

    kind: str  # pin | floor | ceiling | mtp-keep | mtp-floor
    type: str
    span: Optional[Span]
    specificity: tuple[int, int] = (0, 0)  # (has a layer filter, names a literal role)
    names_mtp: bool = False  # the selector names the MTP blocks explicitly (`@mtp`)

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
    never quantizes is a warning (R302); a layer filter (of a selector or a `depth`) that names
    layers the trunk does not have is a warning (R310).
    """
    model = s.model
    ctx = layer_context(model)
    bounds: dict[str, list[Bound]] = {}
    diags: list[Diagnostic] = [d for rule in recipe.depth if (d := _past_trunk(rule.layers, rule.span, ctx, model, ""))]
    for rule in recipe.bounds:
        for sel in rule.selectors:
            hit = select(sel, model.tensors, ctx)
            if not hit:
                diags.append(_matches_nothing(sel, model, ctx))
                continue
            if (past := _past_trunk(sel.layers, sel.span, ctx, model)):
                diags.append(past)
            if not any(is_quantizable(t, arch=model.arch) for t in hit):
                diags.append(Diagnostic(
                    "R302", f"`{sel.text}` names only tensors llama-quantize never quantizes "
                            f"({hit[0].name}{' …' if len(hit) > 1 else ''}): the statement has no effect",
                    sel.span, hint="remove the statement or the selector"))
            spec, mtp_sel = specificity(sel)
            for t in hit:
                bounds.setdefault(t.name, []).append(Bound(rule.kind, rule.type, rule.span, spec, mtp_sel))
    mtp = recipe.mtp
    kind = {"keep": "mtp-keep", "optimise": "mtp-floor"}.get(mtp.policy)
    if s.has_mtp and kind and mtp.type:
        for t in model.tensors:
            if t.mtp:
                bounds.setdefault(t.name, []).insert(0, Bound(kind, mtp.type, mtp.span))
    return {name: tuple(bl) for name, bl in bounds.items()}, diags


def _past_trunk(spec, span: Span, ctx: LayerContext, model: ModelInfo, at: str = "@") -> Optional[Diagnostic]:
    """R310 when SPEC names layers the trunk does not have (an MTP block is named by `@mtp`)."""
    past = outside_trunk(spec, ctx)
    if past is None:
        return None
    n = model.nextn_layers
    mtp = "" if not n else (f"; layer {ctx.trunk} is the MTP block, named by `@mtp`" if n == 1 else
                            f"; layers {ctx.trunk}..{ctx.trunk + n - 1} are the MTP blocks, named by `@mtp`")
    last = f"0..{ctx.trunk - 1}" if ctx.trunk else "none"
    return Diagnostic("R310", f"`{at}{filter_text(spec)}` names {past}, which this {model.arch} model does not have "
                              f"(trunk layers {last}{mtp})", span,
                      hint="those layers select nothing; write `@trunk` for every trunk layer")


def _matches_nothing(sel, model: ModelInfo, ctx: LayerContext) -> Diagnostic:
    guess = did_you_mean(sel.role, list(model.roles))
    where = "" if sel.layers is None else " in those layers"
    kind = getattr(sel.layers, "kind", None)
    if kind in ("full-attention", "recurrent") and not getattr(ctx, kind.replace("-", "_")):
        where += f" (it has no {kind} trunk layer)"
    elif (past := outside_trunk(sel.layers, ctx)) is not None:
        where += f" (it has trunk layers {f'0..{ctx.trunk - 1}' if ctx.trunk else 'none'}, not {past})"
    return Diagnostic("R301", f"`{sel.text}` matches no tensor of this {model.arch} model{where}", sel.span,
                      hint=f"did you mean {guess}?" if guess
                      else "`recipec roles --model M` lists the model's roles, their layers and layer sets")


def decide(name: str, bl: tuple[Bound, ...]) -> tuple[Deciding, Optional[Diagnostic]]:
    """The pin, highest floor and lowest ceiling among BL; R307 when the floor is above the ceiling."""
    pin = winning_pin(bl)
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


def winning_pin(bl: tuple[Bound, ...]) -> Optional[Bound]:
    """The pin that decides: `mtp keep` unless a pin names `@mtp`; else the most specific, then the last."""
    keep = next((b for b in bl if b.kind == "mtp-keep"), None)
    pins = [b for b in bl if b.kind == "pin" and (keep is None or b.names_mtp)]
    best = None
    for b in pins:
        if best is None or b.specificity >= best.specificity:
            best = b
    return best or keep


def overridden(bl: tuple[Bound, ...], d: Deciding) -> list[tuple[Bound, Bound]]:
    """(loser, winner) for every statement in BL that D's deciding bound neither is nor respects."""
    out: list[tuple[Bound, Bound]] = []
    seen: set = set()
    for b in bl:
        key = (b.kind, b.type, b.span)
        if key in seen or b is d.pin:
            continue
        seen.add(key)
        if d.pin is not None:
            lost = ((b.kind in ("pin", "mtp-keep") and b.type != d.pin.type)
                    or (b.kind in ("floor", "mtp-floor") and rank(d.pin.type) < rank(b.type))
                    or (b.kind == "ceiling" and rank(d.pin.type) > rank(b.type)))
            if lost and (b.span is None or b.span != d.pin.span):  # not another selector of the pin's own line
                out.append((b, d.pin))
    return out
