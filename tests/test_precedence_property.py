"""Property: every tensor's `reason` names a statement that selects it, and every statement that
selects a tensor without deciding it is either respected by what decides it or reported (R309).

Random recipes of pins, floors and ceilings (role globs and literal roles, every layer-filter form,
the MTP policies, with and without a budget) are resolved against the qwen35moe fixture (a hybrid
with an MTP block). Recipes without ties: a floor that reaches a tensor through a tie names a
statement that selects its group-mate, which tests/test_precedence.py checks by hand.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
import pytest

from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_model
from recipec.recipe import load
from recipec.resolve import resolve
from recipec.resolve.settings import rank
from recipec.selectors import layer_context, select

ROLES = ["attn_*", "ffn_*", "ffn_*_exps", "*", "attn_qkv", "attn_gate", "ssm_out", "ffn_down_exps",
         "ffn_gate_exps", "ffn_up_shexp", "output", "token_embd"]
FILTERS = ["", "@0", "@1", "@first 1", "@last 1", "@0..1", "@trunk", "@mtp", "@0,1"]
TYPES = ["Q4_K", "Q5_K", "Q6_K", "Q8_0"]

statement = st.tuples(st.sampled_from(["pin", "floor", "ceiling"]),
                      st.lists(st.tuples(st.sampled_from(ROLES), st.sampled_from(FILTERS)), min_size=1, max_size=2),
                      st.sampled_from(TYPES))


@pytest.fixture(scope="module")
def qwen(fixture_model):
    return load_model(fixture_model("qwen35moe"))


def _recipe(tmp_path, statements, mtp, budget) -> tuple[str, dict[int, tuple]]:
    lines = ['recipe "p"', "arch qwen35moe", "ladder Q4_K Q5_K Q6_K Q8_0"] + ([budget] if budget else [])
    lines += [mtp] if mtp else []
    by_line = {}
    for kind, sels, typ in statements:
        lines.append(f"{kind} {' '.join(r + f for r, f in sels)} {typ}")
        by_line[len(lines)] = (kind, typ)
    path = tmp_path / "p.recipe"
    path.write_text("\n".join(lines) + "\n")
    return str(path), by_line


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(statement, min_size=1, max_size=5),
       mtp=st.sampled_from([None, "mtp keep Q6_K", "mtp optimise", "mtp optimise floor Q5_K"]),
       budget=st.sampled_from([None, "budget 7 bpw"]))
def test_reasons_name_a_selecting_statement_and_overrides_are_reported(qwen, tmp_path, statements, mtp, budget):
    path, by_line = _recipe(tmp_path, statements, mtp, budget)
    loaded = load(path)
    assume(loaded.recipe is not None and not any(d.is_error for d in loaded.diagnostics))
    recipe = loaded.recipe
    try:
        res = resolve(recipe, qwen)
    except DiagnosticError:
        assume(False)  # a selector that matches nothing, a floor above a ceiling, an impossible budget
    plan = {t.name: t for t in res.plan.tensors}
    selects: dict[int, set[str]] = {}
    for rule in recipe.bounds:
        for sel in rule.selectors:
            selects.setdefault(rule.span.line, set()).update(t.name for t in select(sel, qwen.tensors, layer_context(qwen)))
    mtp_line = recipe.mtp.span.line if recipe.mtp.span else None
    reported = {d.span.line for d in res.diagnostics if d.code == "R309" and d.span}
    for name, t in plan.items():
        if t.reason == "not-quantized":
            continue
        m = re.match(r"(pin|floor|ceiling|mtp-keep|mtp-floor)@(\d+)", t.reason)
        if m:  # the deciding statement selects the tensor
            line = int(m.group(2))
            assert name in selects.get(line, set()) or (line == mtp_line and t.mtp), (name, t.reason)
    for line, names in selects.items():
        kind, typ = by_line[line]
        for name in names:
            t = plan.get(name)
            if t is None or t.reason == "not-quantized" or t.reason.split()[0].endswith(f"@{line}"):
                continue
            fell_back = "fallback:" in t.reason
            respected = ((kind == "pin" and t.type == typ)
                         or (kind == "floor" and rank(t.type) >= rank(typ))
                         or (kind == "ceiling" and (rank(t.type) <= rank(typ) or fell_back)))
            assert respected or line in reported, (line, kind, typ, name, t.type, t.reason)
