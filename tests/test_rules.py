"""Rule synthesis on the fixture models: exact, anchored, compact, self-checked."""

from __future__ import annotations

import re

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.fixtures import intended_tensors, model_spec
from recipec.llamacpp import Rule, simulate
from recipec.modelinfo import ModelInfo, TensorInfo, split_name
from recipec.rules import escape, format_rules, is_portable, layer_regex, range_alternatives
from tests.rule_helpers import quantized_names, self_check, synthesize


def fixture_info(kind: str) -> ModelInfo:
    """The fixture KIND as a ModelInfo, without writing the GGUF."""
    arch, kv, _ = model_spec(kind)
    tensors = tuple(TensorInfo(n, s, t, *split_name(n), False) for n, s, t in intended_tensors(kind))
    return ModelInfo(arch, tensors, block_count=kv["block_count"], nextn_layers=kv.get("nextn_predict_layers", 0))


def test_layer_regex_ranges():
    assert layer_regex(range(24)) == "[0-9]|1[0-9]|2[0-3]"
    assert layer_regex([0, 1]) == "[0-1]"
    assert layer_regex([5]) == "5"
    assert layer_regex(range(2, 40)) == "[2-9]|[1-3][0-9]"
    assert layer_regex([3, 7, 11, 15]) == "3|7|11|15"
    for lo, hi in [(0, 0), (0, 199), (7, 123), (95, 105), (100, 199), (19, 20)]:
        rx = re.compile("^(?:" + "|".join(range_alternatives(lo, hi)) + ")$")
        assert [n for n in range(0, 250) if rx.match(str(n))] == list(range(lo, hi + 1))


def test_escape_and_portability():
    assert escape("blk.0.attn_q.weight") == r"blk\.0\.attn_q\.weight"
    assert is_portable(r"^blk\.([0-9]|1[0-9])\.(?:attn_q|attn_k)\.weight$")
    for bad in (r"\d", r"\D", r".", r"[A-Z]", r"attn.*", r"\w+", "Attn"):
        assert not is_portable(bad)


@pytest.mark.parametrize("kind", ["llama", "qwen3moe", "qwen35moe", "deepseek2", "llama_tied"])
def test_uniform_and_mixed_plans_self_check(kind):
    info = fixture_info(kind)
    names = quantized_names(info)
    for plan in ({n: "Q8_0" for n in names},
                 {n: ("Q6_K" if "blk.0." in n else "Q8_0") if t.shape[0] % 256 == 0 else "Q5_0"
                  for n in names for t in [info.tensor(n)]}):
        rules = synthesize(info, plan)
        self_check(rules, info, plan, "Q4_K_M")
        assert all(is_portable(r.pattern) for r in rules)
        assert len(rules) <= len({(split_name(n)[0], t) for n, t in plan.items()})


def test_uniform_plan_is_one_rule_per_shape_family():
    info = fixture_info("qwen35moe")
    plan = {n: "Q8_0" for n in quantized_names(info)}
    rules = synthesize(info, plan)
    assert len(rules) <= 4, format_rules(rules)


def test_self_check_catches_a_wrong_rule():
    info = fixture_info("llama")
    plan = {n: "Q8_0" for n in quantized_names(info)}
    rules = [Rule(r"output\.weight", "Q6_K")] + synthesize(info, plan)
    with pytest.raises(DiagnosticError) as exc:
        self_check(rules, info, plan, "Q4_K_M")
    d = exc.value.diagnostics[0]
    assert d.code == "Q201"
    assert any("blk.0.attn_output.weight: planned Q8_0" in n for n in d.notes)


def test_self_check_catches_the_ftype_gate():
    info = fixture_info("llama")
    plan = {n: "Q8_0" for n in quantized_names(info)}
    with pytest.raises(DiagnosticError) as exc:
        self_check(synthesize(info, plan), info, plan, "F16")
    assert "ftype-gate" in exc.value.diagnostics[0].notes[0]


def test_unwritable_planned_type_is_q202():
    info = fixture_info("llama")  # ffn_down rows of 800
    plan = {n: "Q4_K" for n in quantized_names(info)}
    with pytest.raises(DiagnosticError) as exc:
        synthesize(info, plan)
    d = exc.value.diagnostics[0]
    assert d.code == "Q202" and "Q5_0" in d.notes[0]
    plan = {n: "NVFP4" for n in quantized_names(info)}
    with pytest.raises(DiagnosticError) as exc:
        synthesize(info, plan)
    assert "no fallback" in exc.value.diagnostics[0].notes[0]


def test_upper_case_tensor_names_are_reported():
    t = TensorInfo("blk.0.Attn_Q.weight", (256, 256), "F16", *split_name("blk.0.Attn_Q.weight"), False)
    info = ModelInfo("llama", (t,), 1, 0)
    with pytest.raises(DiagnosticError) as exc:
        synthesize(info, {t.name: "Q8_0"})
    assert exc.value.diagnostics[0].code == "Q204"


def test_format_has_one_token_per_line_and_no_comments():
    info = fixture_info("qwen3moe")
    text = format_rules(synthesize(info, {n: "Q8_0" for n in quantized_names(info)}))
    assert "#" not in text
    for line in text.splitlines():
        assert len(line.split()) == 1 and "=" in line


def test_rules_never_rely_on_the_default():
    info = fixture_info("qwen35moe")
    plan = {n: "IQ4_XS" for n in quantized_names(info)}  # IQ4_XS is the FTYPE default
    rules = synthesize(info, plan)
    assert all(o.decided_by in ("rule", "not-quantized") for o in simulate(rules, info, "IQ4_XS"))
