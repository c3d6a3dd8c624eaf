"""Diff: two plans, tensor by tensor, grouped by role and layer range, with the totals' deltas."""

from __future__ import annotations

from dataclasses import dataclass

from recipec.diagnostics import Diagnostic, Severity
from recipec.plan import Plan, TensorEntry, layer_ranges


@dataclass(frozen=True)
class Change:
    """One tensor whose type or bytes differ (or that only one plan has)."""

    name: str
    role: str
    layer: int | None
    mtp: bool
    type_a: str | None  # None: not in plan A
    type_b: str | None  # None: not in plan B
    bytes_a: int
    bytes_b: int


@dataclass(frozen=True)
class ChangeGroup:
    """Changes of one role with the same before/after types over a run of layers."""

    role: str
    layers: str  # `3-7, 9`, `global`, `MTP 40`
    type_a: str | None
    type_b: str | None
    count: int
    bytes_delta: int
    tensors: tuple[str, ...]



def model_differences(a: Plan, b: Plan) -> list[str]:
    """How the models behind A and B differ: architecture, tensor names and shapes (empty: same model).

    MTP tensors count only when both plans have them: `mtp drop` removes the blocks from one plan
    without making it another model."""
    out = [f"architecture {a.arch} vs {b.arch}"] if a.arch != b.arch else []
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    only_a = [n for n, t in ta.items() if n not in tb and not t.mtp]
    only_b = [n for n, t in tb.items() if n not in ta and not t.mtp]
    shapes = [f"{n} {list(t.shape)} vs {list(tb[n].shape)}" for n, t in ta.items()
              if n in tb and t.shape != tb[n].shape]
    for what, names in (("tensors only in A", only_a), ("tensors only in B", only_b),
                        ("tensors of another shape", shapes)):
        if names:
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            out.append(f"{len(names)} {what} ({', '.join(names[:3])}{more})")
    return out


def model_mismatch(a: Plan, b: Plan, force: bool = False) -> list[Diagnostic]:
    """V404 when A and B were compiled for different models (a warning with FORCE)."""
    diffs = model_differences(a, b)
    if not diffs:
        return []
    return [Diagnostic("V404", f"the plans are of different models: {'; '.join(diffs)}",
                       hint="compare plans of one model, or pass --force",
                       severity=Severity.WARNING if force else None)]


def changes(a: Plan, b: Plan) -> list[Change]:
    """Per-tensor changes from A to B, in B's order then A's leftovers."""
    ta: dict[str, TensorEntry] = {t.name: t for t in a.tensors}
    tb: dict[str, TensorEntry] = {t.name: t for t in b.tensors}
    out: list[Change] = []
    for t in b.tensors:
        old = ta.get(t.name)
        if old is None:
            out.append(Change(t.name, t.role, t.layer, t.mtp, None, t.type, 0, t.bytes))
        elif old.type != t.type or old.bytes != t.bytes:
            out.append(Change(t.name, t.role, t.layer, t.mtp, old.type, t.type, old.bytes, t.bytes))
    for t in a.tensors:
        if t.name not in tb:
            out.append(Change(t.name, t.role, t.layer, t.mtp, t.type, None, t.bytes, 0))
    return out


def group(chs: list[Change]) -> list[ChangeGroup]:
    """CHS grouped by (role, MTP, old type, new type); layers merged into ranges."""
    buckets: dict[tuple, list[Change]] = {}
    for c in chs:
        buckets.setdefault((c.role, c.mtp, c.type_a, c.type_b), []).append(c)
    out = []
    for (role, mtp, ta, tb), cs in buckets.items():
        layers = [c.layer for c in cs if c.layer is not None]
        where = layer_ranges(layers) if layers else "global"
        out.append(ChangeGroup(role, ("MTP " if mtp else "") + where, ta, tb, len(cs),
                               sum(c.bytes_b - c.bytes_a for c in cs), tuple(c.name for c in cs)))
    return out


TOTAL_FIELDS = ("tensor_bytes", "file_bytes", "bpw", "budget_bytes", "counted_bytes", "objective", "bound", "gap")


def totals_delta(a: Plan, b: Plan) -> dict[str, dict]:
    """Each total of A and B and B - A (None where either is missing)."""
    out = {}
    for f in TOTAL_FIELDS:
        va, vb = getattr(a.totals, f), getattr(b.totals, f)
        delta = None if va is None or vb is None else vb - va
        out[f] = {"a": va, "b": vb, "delta": delta}
    return out


def diff_dict(a: Plan, b: Plan) -> dict:
    """The whole diff as JSON-ready data."""
    chs = changes(a, b)
    return {
        "schema": "recipec.diff/1",
        "a": {"name": a.name, "recipe_sha256": a.inputs.recipe.sha256},
        "b": {"name": b.name, "recipe_sha256": b.inputs.recipe.sha256},
        "changed": len(chs),
        "groups": [{"role": g.role, "layers": g.layers, "from": g.type_a, "to": g.type_b, "count": g.count,
                    "bytes_delta": g.bytes_delta, "tensors": list(g.tensors)} for g in group(chs)],
        "tensors": [{"name": c.name, "from": c.type_a, "to": c.type_b, "bytes_a": c.bytes_a,
                     "bytes_b": c.bytes_b} for c in chs],
        "totals": totals_delta(a, b),
        "ftype": {"a": a.llama_quantize.ftype, "b": b.llama_quantize.ftype},
        "mtp": {"a": a.mtp.policy, "b": b.mtp.policy},
    }


def _num(v, f: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:+.6g}" if f == "delta" else f"{v:.6g}"
    return f"{v:+,d}" if f == "delta" else f"{v:,d}"


def format_text(a: Plan, b: Plan) -> str:
    """The diff for people: grouped changes, then the totals."""
    d = diff_dict(a, b)
    lines = [f"--- {a.name} (recipe {a.inputs.recipe.sha256[:12]})",
             f"+++ {b.name} (recipe {b.inputs.recipe.sha256[:12]})"]
    if not d["groups"]:
        lines.append("no tensor changed")
    width = max((len(g["role"]) for g in d["groups"]), default=4)
    for g in d["groups"]:
        lines.append(f"{g['role']:<{width}}  {g['from'] or '(absent)':>8} -> {g['to'] or '(absent)':<8}  "
                     f"{g['count']:>4} tensor(s) {g['bytes_delta']:>+16,d} B  layers {g['layers']}")
    lines.append("")
    for f, v in d["totals"].items():
        if v["a"] is None and v["b"] is None:
            continue
        lines.append(f"{f:<14} {_num(v['a'], 'a'):>16} -> {_num(v['b'], 'b'):>16}  ({_num(v['delta'], 'delta')})")
    for key in ("ftype", "mtp"):
        if d[key]["a"] != d[key]["b"]:
            lines.append(f"{key:<14} {d[key]['a']} -> {d[key]['b']}")
    return "\n".join(lines) + "\n"
