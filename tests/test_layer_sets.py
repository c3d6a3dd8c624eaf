"""Layer sets: strides (`@every 4 from 3`), the model-derived `@full-attention` and `@recurrent`,
and layer numbers that stay bounded (lint limit, R310 for layers the model lacks, lazy ranges).

Expected tensors are written out by hand: qwen35moe_8x has 7 trunk layers (0..6) with full
attention in layer 3 only and the MTP block 7; llama has 2 trunk layers, both full attention;
the example Qwen3.5-35B-A3B has 40 trunk layers, full attention in 3, 7, …, 39 and MTP block 40.
"""

from __future__ import annotations

import pytest

from recipec.api import compile_recipe
from recipec.checks import lint
from recipec.formatter import format_recipe
from recipec.loaders import read_gguf_model
from recipec.parser import parse
from recipec.recipe import MAX_LAYER, LayerSpec, load
from recipec.selectors import LayerContext, depth_of, layer_context, layer_set, select
from recipec.source import SourceFile
from tests.kit_helpers import ROOT

EXAMPLE = str(ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json")


@pytest.fixture(scope="module")
def qwen(request):
    return read_gguf_model(request.getfixturevalue("fixture_model")("qwen35moe_8x"))


@pytest.fixture(scope="module")
def llama(request):
    return read_gguf_model(request.getfixturevalue("fixture_model")("llama"))


def loaded(tmp_path, body: str):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "r"\n' + body)
    return load(str(p))


def picked(model, tmp_path, sel: str) -> list[str]:
    rule = loaded(tmp_path, f"pin {sel} Q6_K\n").recipe.bounds[0]
    return sorted(t.name for s in rule.selectors for t in select(s, model.tensors, layer_context(model)))


CASES_QWEN = {
    "attn_q@full-attention": ["blk.3.attn_q.weight"],  # not the MTP block 7
    "ssm_out@recurrent": [f"blk.{i}.ssm_out.weight" for i in (0, 1, 2, 4, 5, 6)],
    "attn_q@recurrent": [],
    "ffn_down_exps@every 2 from 1": [f"blk.{i}.ffn_down_exps.weight" for i in (1, 3, 5)],
    "ffn_down_exps@every 3": [f"blk.{i}.ffn_down_exps.weight" for i in (0, 3, 6)],
    "ffn_down_exps@every 4 from 5": ["blk.5.ffn_down_exps.weight"],
    "ffn_down_exps@every 2 from 7": [],  # 7 is the MTP block, not a trunk layer
    "*_norm@full-attention": ["blk.3.attn_k_norm.weight", "blk.3.attn_norm.weight",
                              "blk.3.attn_q_norm.weight", "blk.3.post_attention_norm.weight"],
}


@pytest.mark.parametrize("sel", sorted(CASES_QWEN))
def test_qwen35moe_layer_sets(sel, qwen, tmp_path):
    assert picked(qwen, tmp_path, sel) == sorted(CASES_QWEN[sel])


def test_a_plain_model_is_all_full_attention(llama, tmp_path):
    ctx = layer_context(llama)
    assert ctx == LayerContext(2, frozenset({0, 1}), frozenset()) == LayerContext.plain(2)
    assert picked(llama, tmp_path, "attn_q@full-attention") == ["blk.0.attn_q.weight", "blk.1.attn_q.weight"]
    assert picked(llama, tmp_path, "attn_q@recurrent") == []


def test_the_context_comes_from_the_example_metadata():
    from recipec.loaders import load_model

    ctx = layer_context(load_model(EXAMPLE))
    assert ctx.trunk == 40
    assert sorted(ctx.full_attention) == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert ctx.recurrent == frozenset(range(40)) - ctx.full_attention


def test_the_new_forms_format_and_round_trip():
    text = ('recipe "r"\npin attn_q@every 4 from 3 ffn_up@every 2 from 0 Q4_K\n'
            "floor attn_*@full-attention ssm_*@recurrent Q6_K\ndepth every 3 from 1 x2\n")
    tree = parse(SourceFile("r.recipe", text))
    out = format_recipe(tree)
    assert out.splitlines()[1:] == ["pin     attn_q@every 4 from 3 ffn_up@every 2 Q4_K",
                                    "floor   attn_*@full-attention ssm_*@recurrent Q6_K",
                                    "depth   every 3 from 1 x2"]
    assert parse(SourceFile("r.recipe", out)).statements == tree.statements


def test_lint_accepts_the_sets_and_knows_they_are_disjoint(tmp_path):
    got = loaded(tmp_path, "pin attn_*@full-attention Q8_0\npin attn_*@recurrent Q6_K\n"
                           "pin ffn_up@every 2 Q8_0\npin ffn_up@every 2 from 1 Q6_K\n"
                           "pin ffn_down@every 4 from 3 Q8_0\npin ffn_down@0..2 Q6_K\n")
    assert not [d for d in got.diagnostics if d.is_error]
    assert lint(got) == []


def test_lint_sees_strides_that_meet(tmp_path):
    got = loaded(tmp_path, "pin ffn_up@every 2 Q8_0\npin ffn_up@every 3 from 1 Q6_K\n"
                           "pin ffn_down@every 4 from 3 Q8_0\npin ffn_down@6..7 Q6_K\n")
    # 4 is in both strides (0, 2, 4 … and 1, 4, 7 …); 7 = 3 + 4 lies in 6..7
    assert [(d.code, d.span.line) for d in lint(got)] == [("L002", 3), ("L002", 5)]


def test_a_set_is_an_explicit_layer_filter_for_precedence(tmp_path):
    c = _compile(tmp_path, "pin * Q6_K\npin attn_*@full-attention Q8_0\nmtp drop\n")
    assert c.plan is not None, c.diagnostics
    types = {e.name: (e.type, e.reason) for e in c.plan.tensors}
    assert types["blk.3.attn_q.weight"] == ("Q8_0", "pin@5")
    assert types["blk.4.attn_gate.weight"] == ("Q6_K", "pin@4")
    assert not [d for d in c.diagnostics if d.code == "L002"]


def test_a_stride_on_the_example(tmp_path):
    c = _compile(tmp_path, "pin ssm_out@every 4 from 1 Q8_0\n")
    assert c.plan is not None, c.diagnostics
    q8 = sorted(int(e.name.split(".")[1]) for e in c.plan.tensors if e.name.endswith("ssm_out.weight")
                and e.type == "Q8_0")
    assert q8 == list(range(1, 40, 4))


def test_recurrent_on_a_plain_model_selects_nothing(fixture_model, tmp_path):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "r"\npin attn_q@recurrent Q8_0\n')
    c = compile_recipe(str(p), str(fixture_model("llama")))
    assert c.plan is None
    [d] = [d for d in c.diagnostics if d.code == "R301"]
    assert (d.span.line, d.span.col) == (2, 5)
    assert "in those layers (it has no recurrent trunk layer)" in d.message


def test_depth_reads_the_sets(qwen, tmp_path):
    rules = loaded(tmp_path, "depth full-attention x2\ndepth every 3 x1.5\n").recipe.depth
    ctx = layer_context(qwen)
    by = {t.name: depth_of(rules, t, ctx) for t in qwen.tensors}
    assert by["blk.3.attn_q.weight"] == 1.5  # the later statement names layer 3 too
    assert by["blk.0.ffn_up_exps.weight"] == 1.5
    assert by["blk.1.ffn_up_exps.weight"] == 1.0
    assert by["blk.7.ffn_up_exps.weight"] == 1.0  # the MTP block is in neither
    alone = {t.name: depth_of(rules[:1], t, ctx) for t in qwen.tensors}
    assert (alone["blk.3.ffn_up_exps.weight"], alone["blk.4.ffn_up_exps.weight"]) == (2.0, 1.0)


def _compile(tmp_path, body: str):
    path = tmp_path / "p.recipe"
    path.write_text('recipe "p"\narch qwen35moe\nbase IQ4_XS\n' + body)
    return compile_recipe(str(path), EXAMPLE)


# --- bounded layer numbers -----------------------------------------------------------------------

def test_a_huge_layer_number_is_a_lint_error_at_its_filter(tmp_path):
    got = loaded(tmp_path, "floor attn_*@0..9999999999 Q4_K\n")
    [d] = [d for d in got.diagnostics if d.code == "P005"]
    assert (d.span.line, d.span.col) == (2, 14)
    assert d.message == ("layer 9999999999 in `0..9999999999` is past the largest layer number a filter "
                         f"may name ({MAX_LAYER})")
    assert "@trunk" in d.hint
    assert MAX_LAYER == 65535
    assert not [d for d in loaded(tmp_path, f"floor attn_*@0..{MAX_LAYER} Q4_K\n").diagnostics if d.is_error]


@pytest.mark.parametrize("filt", ["99999", "1,99999", "first 99999", "every 99999", "every 2 from 99999"])
def test_every_form_is_bounded(filt, tmp_path):
    assert [d.code for d in loaded(tmp_path, f"pin attn_q@{filt} Q4_K\n").diagnostics] == ["P005"]


def test_filters_stay_lazy():
    ctx = LayerContext.plain(40)
    for spec in (LayerSpec(kind="range", a=0, b=10**12), LayerSpec(kind="first", a=10**12),
                 LayerSpec(kind="every", a=1, b=0), LayerSpec(kind="every", a=3, b=10**12)):
        got = layer_set(spec, ctx)
        assert isinstance(got, range) and got.stop <= 40
    assert list(layer_set(LayerSpec(kind="every", a=4, b=3), ctx)) == list(range(3, 40, 4))


def test_a_range_past_the_model_compiles_with_a_warning(tmp_path):
    c = _compile(tmp_path, f"floor ffn_down_exps@0..{MAX_LAYER} Q5_K\n")
    assert c.plan is not None, c.diagnostics
    [w] = [d for d in c.diagnostics if d.code == "R310"]
    assert (w.severity, w.span.line, w.span.col) == ("warning", 4, 7)
    assert w.message == (f"`@0..{MAX_LAYER}` names layers 40..{MAX_LAYER}, which this qwen35moe model does not "
                         "have (trunk layers 0..39; layer 40 is the MTP block, named by `@mtp`)")
    types = {e.name: e.type for e in c.plan.tensors}
    assert {types[f"blk.{i}.ffn_down_exps.weight"] for i in range(40)} <= {"Q5_K", "Q6_K", "Q8_0"}
    assert types["blk.40.ffn_down_exps.weight"] == "IQ4_XS"  # the MTP block is not in 0..65535


def test_filters_inside_the_model_raise_no_warning(tmp_path):
    c = _compile(tmp_path, "floor ffn_down_exps@0..39 Q5_K\npin attn_q@every 4 from 3 Q8_0\n")
    assert not [d for d in c.diagnostics if d.code == "R310"]


def test_depth_past_the_model_warns(tmp_path):
    c = _compile(tmp_path, "depth 38,41 x2\n")
    [w] = [d for d in c.diagnostics if d.code == "R310"]
    assert (w.span.line, w.message.split(" names ")[1].split(",")[0]) == (4, "layer 41")
