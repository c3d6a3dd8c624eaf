"""Stage 5 of resolve: decisions. Tied tensors form one group (`tie` roles within a layer, `tie
auto` by equal imatrix fingerprints); every other quantized tensor is a group of its own. A
group's options are the requested types every member can take, with the members' summed bytes
(padded where the budget measures the file) and costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.imatrix import ImatrixStats
from recipec.llamacpp import pad
from recipec.recipe import Recipe
from recipec.resolve.candidates import TensorResolution
from recipec.resolve.settings import rank
from recipec.selectors import role_matches


@dataclass(frozen=True)
class GroupOption:
    requested: str
    types: tuple[str, ...]  # written type of each member
    bytes: int  # budget bytes of the members (padded where the file is measured)
    cost: float


@dataclass(frozen=True)
class Group:
    tensors: tuple[str, ...]
    weight: float
    options: tuple[GroupOption, ...]
    tie: Optional[str]  # tie@LINE, tie-auto, or None
    chosen: int = 0
    counted: bool = True


class _Ties:
    """Union-find over tensor names; the root of a set is its first name in file order."""

    def __init__(self, names: list[str]):
        self.order = {n: i for i, n in enumerate(names)}
        self.parent = {n: n for n in names}
        self.why: dict[str, str] = {}

    def find(self, n: str) -> str:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def tie(self, members: list[str], why: str) -> None:
        for m in members[1:]:
            ra, rb = self.find(members[0]), self.find(m)
            if ra != rb:
                lo, hi = sorted((ra, rb), key=self.order.__getitem__)
                self.parent[hi] = lo
            self.why.setdefault(members[0], why)
            self.why.setdefault(m, why)

    def sets(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for n in self.order:
            out.setdefault(self.find(n), []).append(n)
        return sorted(out.values(), key=lambda ms: self.order[ms[0]])


def tie_sets(recipe: Recipe, res: dict[str, TensorResolution], names: list[str],
             imatrix: ImatrixStats | None) -> list[tuple[list[str], Optional[str]]]:
    """NAMES partitioned into tied sets in file order, each with the tie that made it (or None)."""
    ties = _Ties(names)
    for tie in recipe.ties:
        by_layer: dict[tuple, list[str]] = {}
        for n in names:
            t = res[n].tensor
            if any(role_matches(r, t.role) for r in tie.roles):
                by_layer.setdefault((t.layer, t.mtp), []).append(n)
        for members in by_layer.values():
            ties.tie(members, f"tie@{tie.span.line}")
    if recipe.tie_auto and imatrix is not None:
        by_fp: dict[str, list[str]] = {}
        for n in names:
            fp = imatrix.fingerprint(n)
            if fp:
                by_fp.setdefault(fp, []).append(n)
        for members in by_fp.values():
            ties.tie(members, "tie-auto")
    return [(ms, ties.why.get(ms[0]) if len(ms) > 1 else None) for ms in ties.sets()]


def group(members: list[str], tie: Optional[str], res: dict[str, TensorResolution], *,
          padded: bool, alignment: int) -> Group:
    """One decision over MEMBERS: the requested types all of them can take; R305 if none."""
    common = set.intersection(*({c.requested for c in res[n].candidates} for n in members))
    reqs = [c.requested for c in res[members[0]].candidates if c.requested in common]
    if not reqs:
        spans = [b.span for n in members for b in res[n].bounds if b.span]
        raise DiagnosticError(Diagnostic(
            "R305", f"the tied tensors {', '.join(members[:4])}{' …' if len(members) > 4 else ''} have no type "
                    f"in common ({tie})", spans[0] if spans else None,
            hint="their floors, ceilings or pins disagree: align them or untie the roles"))
    opts = []
    for x in reqs:
        cs = [next(c for c in res[n].candidates if c.requested == x) for n in members]
        nbytes = sum(pad(c.bytes, alignment) if padded else c.bytes for c in cs)
        opts.append(GroupOption(x, tuple(c.type for c in cs), nbytes, sum(c.cost for c in cs)))
    opts.sort(key=lambda o: (o.bytes, o.cost, rank(o.requested)))
    return Group(tuple(members), sum(res[n].weight for n in members), tuple(opts), tie,
                 counted=all(res[n].counted for n in members))


def form_groups(recipe: Recipe, res: dict[str, TensorResolution], names: list[str],
                imatrix: ImatrixStats | None, *, padded: bool, alignment: int) -> list[Group]:
    """The groups over the quantized tensors NAMES (file order), each with its options."""
    return [group(ms, tie, res, padded=padded, alignment=alignment)
            for ms, tie in tie_sets(recipe, res, names, imatrix)]
