"""Which tensors a selector names, written out by hand on the llama and qwen35moe fixtures.

llama: 2 trunk layers (0, 1), no MTP. qwen35moe_8x: 7 trunk layers (0..6), full attention every
4th (layer 3), layer 7 is the MTP block (nextn). A layer filter binds to the selector it is written
on; a line that writes one filter after several selectors is lint error L015.
"""

from __future__ import annotations

import pytest

from recipec.checks import lint
from recipec.checks.common import layers_overlap
from recipec.loaders import read_gguf_model
from recipec.recipe import LayerSpec, load
from recipec.selectors import layer_context, select


def bound(tmp_path, line: str):
    p = tmp_path / "r.recipe"
    p.write_text(f'recipe "r"\n{line}\n')
    loaded = load(str(p))
    assert loaded.recipe is not None, loaded.diagnostics
    return loaded, loaded.recipe.bounds[0]


def names(model, rule) -> list[str]:
    out = []
    for sel in rule.selectors:
        out += [t.name for t in select(sel, model.tensors, layer_context(model))]
    return sorted(out)


@pytest.fixture(scope="module")
def qwen(request):
    return read_gguf_model(request.getfixturevalue("fixture_model")("qwen35moe_8x"))


@pytest.fixture(scope="module")
def llama(request):
    return read_gguf_model(request.getfixturevalue("fixture_model")("llama"))


CASES_QWEN = {
    "ffn_down_exps@3,5": ["blk.3.ffn_down_exps.weight", "blk.5.ffn_down_exps.weight"],
    # layer 3 is the only full-attention layer; a list ignores layers past the trunk (7 is MTP)
    "attn_q@1,3,7": ["blk.3.attn_q.weight"],
    "ffn_down_shexp@trunk": [f"blk.{i}.ffn_down_shexp.weight" for i in range(7)],
    "ffn_down_shexp@mtp": ["blk.7.ffn_down_shexp.weight"],
    "nextn.eh_proj@trunk": [],
    "ssm_out@0,3,6": ["blk.0.ssm_out.weight", "blk.6.ssm_out.weight"],
}


@pytest.mark.parametrize("sel", sorted(CASES_QWEN))
def test_qwen35moe_selects(sel, qwen, tmp_path):
    _, rule = bound(tmp_path, f"pin {sel} Q6_K")
    assert names(qwen, rule) == sorted(CASES_QWEN[sel])


def test_llama_trunk_and_list(llama, tmp_path):
    _, rule = bound(tmp_path, "pin attn_v@trunk output Q6_K")
    assert names(llama, rule) == ["blk.0.attn_v.weight", "blk.1.attn_v.weight", "output.weight"]
    _, rule = bound(tmp_path, "pin ffn_down@1,5 Q6_K")
    assert names(llama, rule) == ["blk.1.ffn_down.weight"]
    _, rule = bound(tmp_path, "pin *@trunk Q6_K")  # token_embd and output have no layer
    got = names(llama, rule)
    assert "token_embd.weight" not in got and "output.weight" not in got
    assert {n.split(".")[1] for n in got} == {"0", "1"}


def test_filter_binds_to_its_own_selector(qwen, tmp_path):
    loaded, rule = bound(tmp_path, "pin attn_gate ssm_out@first 1 Q6_K")
    # attn_gate in every recurrent trunk layer (0, 1, 2, 4, 5, 6); ssm_out only in layer 0
    assert names(qwen, rule) == sorted([f"blk.{i}.attn_gate.weight" for i in (0, 1, 2, 4, 5, 6)]
                                       + ["blk.0.ssm_out.weight"])
    assert [d.code for d in lint(loaded)] == ["L015"]


def test_the_per_selector_form_is_clean(qwen, tmp_path):
    loaded, rule = bound(tmp_path, "pin attn_gate@first 1 ssm_out@first 1 Q6_K")
    assert names(qwen, rule) == ["blk.0.attn_gate.weight", "blk.0.ssm_out.weight"]
    assert lint(loaded) == []


def test_l015_hint_spells_out_the_line(tmp_path):
    loaded, _ = bound(tmp_path, "pin attn_v ffn_down_exps ffn_down_shexp@first 10 Q6_K")
    (d,) = lint(loaded)
    assert d.code == "L015" and d.severity.value == "error"
    assert "`pin attn_v@first 10 ffn_down_exps@first 10 ffn_down_shexp@first 10 Q6_K`" in d.hint


def test_depth_takes_the_new_sets(tmp_path):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "r"\ndepth trunk x1.5\ndepth 3,7 x2\n')
    r = load(str(p)).recipe
    assert [(d.layers.kind, d.layers.items) for d in r.depth] == [("trunk", ()), ("list", (3, 7))]


def test_a_repeated_list_layer_is_an_error(tmp_path):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "r"\npin attn_q@2,4,2 Q6_K\n')
    (d,) = load(str(p)).diagnostics
    assert (d.code, d.span.line, d.span.col) == ("P005", 2, 12)


@pytest.mark.parametrize("a, b, overlap", [
    (LayerSpec(kind="list", items=(3, 7)), LayerSpec(kind="range", a=4, b=6), False),
    (LayerSpec(kind="list", items=(3, 7)), LayerSpec(kind="range", a=4, b=7), True),
    (LayerSpec(kind="list", items=(3, 7)), LayerSpec(kind="list", items=(1, 5)), False),
    (LayerSpec(kind="list", items=(3, 7)), LayerSpec(kind="first", a=4), True),
    (LayerSpec(kind="list", items=(3, 7)), LayerSpec(kind="mtp"), False),
    (LayerSpec(kind="trunk"), LayerSpec(kind="one", a=0), True),
    (LayerSpec(kind="trunk"), LayerSpec(kind="mtp"), False),
])
def test_lint_layer_overlap(a, b, overlap):
    assert layers_overlap(a, b) is overlap
    assert layers_overlap(b, a) is overlap
