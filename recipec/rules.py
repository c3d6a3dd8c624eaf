"""Rule synthesis: a plan's tensor entries -> exact, order-proof `--tensor-type` rules.

Every pattern is anchored and names an exact set of the model's tensors (layers x roles), the
sets partition the quantized tensors, so any rule order and any matcher build give the plan.
Only a portable, lower-case-proof regex subset is written: lower-case literals, `\\.`, groups,
alternation, `[0-9]`-style classes and anchors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from recipec import ggml
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.llamacpp import Rule, shape_fallback, simulate_tensor
from recipec.plan import Plan, RuleEntry, TensorEntry

_BLOCK = re.compile(r"^blk\.(0|[1-9][0-9]*)\.(.+)$")
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# The portable subset, token by token: literals, `\.`, groups, alternation, classes, anchors.
_PORTABLE_TOKEN = re.compile(r"[a-z0-9_]|\\\.|\(\?:|[()|^$]|\[(?:[a-z0-9_.-]|[0-9]-[0-9])+\]")


def escape(literal: str) -> str:
    """LITERAL as a portable regex: `.` -> `\\.`, other punctuation in a one-character class."""
    out = []
    for c in literal:
        if c in _SAFE:
            out.append(c)
        elif c == ".":
            out.append(r"\.")
        elif c == "-":
            out.append(f"[{c}]")
        else:
            raise ValueError(f"cannot write {c!r} portably")
    return "".join(out)


def is_portable(pattern: str) -> bool:
    """Whether PATTERN uses only the portable, lower-case-proof subset."""
    pos = 0
    while pos < len(pattern):
        m = _PORTABLE_TOKEN.match(pattern, pos)
        if not m:
            return False
        pos = m.end()
    return pattern == pattern.lower()


def _fixed_width(lo: str, hi: str) -> list[str]:
    """Regex alternatives for the digit strings from LO to HI (same width, LO <= HI)."""
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    k = len(lo) - 1
    if lo[1:] == "0" * k and hi[1:] == "9" * k:
        head = lo[0] if lo[0] == hi[0] else f"[{lo[0]}-{hi[0]}]"
        return [head + "[0-9]" * k]
    if lo[0] == hi[0]:
        return [lo[0] + rest for rest in _fixed_width(lo[1:], hi[1:])]
    out = [lo[0] + rest for rest in _fixed_width(lo[1:], "9" * k)]
    a, b = int(lo[0]) + 1, int(hi[0]) - 1
    if a <= b:
        out.append((str(a) if a == b else f"[{a}-{b}]") + "[0-9]" * k)
    out += [hi[0] + rest for rest in _fixed_width("0" * k, hi[1:])]
    return out


def range_alternatives(lo: int, hi: int) -> list[str]:
    """Regex alternatives matching exactly the decimal numbers LO..HI (no leading zeros)."""
    out: list[str] = []
    width = len(str(lo))
    while lo <= hi:
        top = min(hi, 10 ** width - 1)
        out += _fixed_width(str(lo), str(top))
        lo, width = top + 1, width + 1
    return out


def layer_regex(layers: Iterable[int]) -> str:
    """An alternation matching exactly LAYERS: `[0-9]|1[0-9]|2[0-3]`."""
    nums = sorted(set(layers))
    alts: list[str] = []
    start = prev = nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        alts += range_alternatives(start, prev)
        if n is not None:
            start = prev = n
    return "|".join(alts)


def _alternation(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "(?:" + "|".join(items) + ")"


def _names_regex(names: Sequence[str]) -> str:
    """Escaped alternation of NAMES, with a shared `.weight` suffix factored out."""
    if len(names) > 1 and all(n.endswith(".weight") for n in names):
        return _alternation([escape(n[:-7]) for n in names]) + r"\.weight"
    return _alternation([escape(n) for n in names])


@dataclass
class _Group:
    type: str
    layers: frozenset[int]
    roles: frozenset[str]  # the name after `blk.N.`
    members: frozenset[tuple[int, str]]

    def pattern(self) -> str:
        layers = layer_regex(self.layers)
        if "|" in layers:
            layers = f"({layers})"
        return rf"^blk\.{layers}\.{_names_regex(sorted(self.roles))}$"


def _merge(groups: list[_Group], present: set[tuple[int, str]]) -> list[_Group]:
    """Greedily merge same-type groups whose combined layers x roles still hit exactly their tensors."""
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                if a.type != b.type:
                    continue
                layers, roles = a.layers | b.layers, a.roles | b.roles
                members = a.members | b.members
                hit = {(l, r) for l in layers for r in roles if (l, r) in present}
                if hit == members:
                    groups[i] = _Group(a.type, layers, roles, frozenset(members))
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def _check_writable(tensors: Sequence[TensorEntry]) -> None:
    """Raise Q204 for names patterns cannot match, Q202 for types the tensor's rows cannot hold."""
    problems = [t.name for t in tensors if not set(t.name) <= _SAFE | {".", "-"}]
    if problems:
        raise DiagnosticError(Diagnostic(
            "Q204", f"{len(problems)} tensor name(s) contain upper-case letters or other characters "
            "that lower-cased portable patterns cannot match", notes=tuple(problems[:20]),
            hint="rename the tensors (gguf-py can rewrite names) or quantize them by default"))
    unwritable = [f"{t.name}: {t.type} on rows of {t.shape[0]} ("
                  + (f"llama-quantize would write {fb}" if (fb := shape_fallback(t.type, t.shape[0]))
                     else "no fallback: the run fails") + ")"
                  for t in tensors if not ggml.divides(t.type, t.shape[0])]
    if unwritable:
        raise DiagnosticError(Diagnostic(
            "Q202", f"{len(unwritable)} planned type(s) cannot be written for the tensor's row length",
            notes=tuple(unwritable[:20])))


def synthesize(tensors: Sequence[TensorEntry]) -> list[Rule]:
    """Exact, disjoint, anchored rules giving every quantized tensor of a plan its planned type.

    TENSORS: the plan's entries (every tensor of the output; the not-quantized ones only keep
    merged patterns from reaching them).
    """
    quantized = [t for t in tensors if t.quantized]
    _check_writable(quantized)
    present: set[tuple[int, str]] = set()
    by_role: dict[tuple[str, str], set[int]] = {}
    globals_by_type: dict[str, list[str]] = {}
    for t in tensors:
        m = _BLOCK.match(t.name)
        if m:
            present.add((int(m.group(1)), m.group(2)))
    for t in quantized:
        m = _BLOCK.match(t.name)
        if m:
            by_role.setdefault((t.type, m.group(2)), set()).add(int(m.group(1)))
        else:
            globals_by_type.setdefault(t.type, []).append(t.name)
    by_layers: dict[tuple[str, frozenset[int]], set[str]] = {}
    for (typ, role), layers in by_role.items():
        by_layers.setdefault((typ, frozenset(layers)), set()).add(role)
    groups = [_Group(typ, layers, frozenset(roles), frozenset((l, r) for l in layers for r in roles))
              for (typ, layers), roles in sorted(by_layers.items(),
                                                 key=lambda kv: (kv[0][0], min(kv[0][1]), sorted(kv[1])))]
    groups = _merge(groups, present)
    keyed = [(len(g.members), g.pattern(), g.type) for g in groups]
    keyed += [(len(ns), "^" + _names_regex(sorted(ns)) + "$", typ) for typ, ns in globals_by_type.items()]
    return [Rule(p, typ) for _, p, typ in sorted(keyed)]


def format_rules(rules: Iterable[Rule]) -> str:
    """RULES in the `--tensor-type-file` format: one PATTERN=TYPE token a line, no comments."""
    return "".join(f"{r}\n" for r in rules)


def self_check(rules: Sequence[Rule], tensors: Sequence[TensorEntry], *, arch: str, ftype: str) -> None:
    """Raise Q201 unless RULES give every tensor its planned type, under first- and last-match.

    The check runs llama-quantize's own decision (llamacpp.simulate_tensor) on every entry, so a
    tensor the plan calls not-quantized must also be one llama-quantize leaves alone.
    """
    found: dict[str, str] = {}
    for first in (True, False):
        for t in tensors:
            if t.name in found:
                continue
            o = simulate_tensor(rules, _Source(t.name, t.shape, t.source_type), ftype, first_match=first, arch=arch)
            want = t.type if t.quantized else t.source_type
            if o.type != want or o.decided_by != ("rule" if t.quantized else "not-quantized"):
                found[t.name] = (f"{t.name}: planned {want}, llama-quantize would write "
                                 f"{o.type or 'nothing (' + str(o.error) + ')'} ({o.decided_by}"
                                 f"{'' if first else ', last-match build'})")
    bad = list(found.values())
    if bad:
        raise DiagnosticError(Diagnostic(
            "Q201", f"the emitted rules do not reproduce the plan for {len(bad)} tensor(s)",
            notes=tuple(bad[:20]) + ((f"... and {len(bad) - 20} more",) if len(bad) > 20 else ())))


@dataclass(frozen=True)
class _Source:
    """A plan entry as llama-quantize reads it: the name, shape and source type."""

    name: str
    shape: tuple[int, ...]
    type: str


def with_rules(plan: Plan) -> Plan:
    """PLAN with its `--tensor-type` rules: synthesised from its tensor entries, self-checked."""
    lq = plan.llama_quantize
    rules = synthesize(plan.tensors)
    self_check(rules, plan.tensors, arch=plan.arch, ftype=lq.ftype)
    entries = tuple(RuleEntry(pattern=r.pattern, type=r.type, text=str(r)) for r in rules)
    return plan.model_copy(update={"llama_quantize": lq.model_copy(update={"rules": entries})})
