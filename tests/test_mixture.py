"""The mixture model without the binary: llama-quantize's order, counters, options and failures.

tests/test_mixture_differential.py proves the model against the real --dry-run; these pin the
facts a reader of src/llama-quant.cpp should find here, including branches the fixtures cannot
reach (glm5-next, bailingmoe3, a MoE ffn tensor outside a block).
"""

from __future__ import annotations

import pytest

from recipec import fixtures
from recipec.llamacpp import simulate
from recipec.matcher import Rule
from recipec.mixture import (Hparams, QuantizeFailure, QuantizeParams, canonical_ftype, category, decide,
                             prune_layers, quantize_order, stock_types, use_more_bits)
from recipec.modelinfo import ModelInfo, TensorInfo, make_tensor, split_name


def spec_model(kind: str) -> ModelInfo:
    """A fixture kind as a ModelInfo, straight from its spec (no file)."""
    arch, kv, tensors = fixtures.model_spec(kind)
    n, nextn = kv["block_count"], kv.get("nextn_predict_layers", 0)
    return ModelInfo(arch, tuple(make_tensor(name, shape, fixtures.source_type(name, shape), n, nextn)
                                 for name, shape in tensors), n, nextn, metadata=dict(kv))


def T(name: str, shape=(256, 256), typ: str = "F16") -> TensorInfo:
    return TensorInfo(name, tuple(shape), typ, *split_name(name), False)


def dense(n_layers: int, roles=("attn_v",), arch: str = "llama", **md) -> ModelInfo:
    tensors = [T(f"blk.{i}.{r}.weight") for i in range(n_layers) for r in roles]
    return ModelInfo(arch, tuple(tensors) + (T("output.weight", (256, 320)),), n_layers, 0,
                     metadata={"block_count": n_layers, "attention.head_count": 4,
                               "attention.head_count_kv": 4, **md})


def types(model: ModelInfo, ftype: str, **kw) -> dict[str, str | None]:
    return {o.name: o.type for o in decide(model, QuantizeParams(ftype, **kw))}


def test_order_is_by_layer_then_bytes_globals_first():
    names = ["blk.10.attn_q.weight", "blk.2.ffn_up.weight", "output.weight", "blk.2.attn_v.weight",
             "token_embd.weight", "output_norm.weight"]
    assert [t.name for t in quantize_order([T(n) for n in names])] == [
        "output.weight", "output_norm.weight", "token_embd.weight", "blk.2.attn_v.weight",
        "blk.2.ffn_up.weight", "blk.10.attn_q.weight"]


def test_use_more_bits_first_and_last_eighth_and_every_third():
    assert [i for i in range(16) if use_more_bits(i, 16)] == [0, 1, 4, 7, 10, 13, 14, 15]
    assert [i for i in range(3) if use_more_bits(i, 3)] == [2]


def test_attn_v_counter_walks_layers_in_number_order_and_skips_ruled_tensors():
    m = dense(8)
    got = types(m, "Q4_K_M")
    assert [got[f"blk.{i}.attn_v.weight"] for i in range(8)] == ["Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q4_K",
                                                                  "Q4_K", "Q6_K", "Q6_K"]
    # a rule decides blk.0: its tensor never reaches the mixture, so every later index moves down one
    ruled = types(m, "Q4_K_M", rules=(Rule(r"^blk\.0\.", "Q8_0"),))
    assert [ruled[f"blk.{i}.attn_v.weight"] for i in range(8)] == ["Q8_0", "Q6_K", "Q4_K", "Q4_K", "Q6_K",
                                                                    "Q4_K", "Q4_K", "Q6_K"]


def test_an_mtp_block_is_the_last_layer():
    got = types(spec_model("qwen35moe"), "Q4_K_M")
    # attn_qkv counts as attn_v: blk.0 attn_qkv (0), blk.1 attn_v (1), MTP blk.2 attn_v (2 >= 7*3/8)
    assert (got["blk.0.attn_qkv.weight"], got["blk.1.attn_v.weight"], got["blk.2.attn_v.weight"]) == (
        "Q4_K", "Q4_K", "Q6_K")
    assert got["blk.2.ffn_down_exps.weight"] == got["blk.2.ffn_down_shexp.weight"] == "Q6_K"
    assert got["blk.2.nextn.eh_proj.weight"] == "Q4_K" and got["output.weight"] == "Q6_K"


def test_imatrix_changes_the_mix():
    m = dense(8, roles=("attn_v", "ffn_down"))
    without, with_ = types(m, "IQ4_XS"), types(m, "IQ4_XS", imatrix=True)
    assert (without["blk.0.ffn_down.weight"], with_["blk.0.ffn_down.weight"]) == ("Q5_K", "IQ4_XS")
    assert types(m, "Q4_0", imatrix=True)["blk.0.ffn_down.weight"] == "Q4_1"
    assert types(m, "IQ3_XXS")["blk.3.attn_v.weight"] == "IQ3_S"
    assert types(m, "IQ3_XXS", imatrix=True)["blk.3.attn_v.weight"] == "IQ3_XXS"


def test_hparams_gqa_experts_and_the_70b_rule():
    hp = Hparams.of(spec_model("llama_70b"))
    assert (hp.n_layer_all, hp.n_gqa, hp.is_70b) == (80, 4, True)
    assert not Hparams.of(dense(80)).is_70b  # n_head == n_head_kv: llama.cpp calls it 65B
    assert Hparams.of(dense(80, arch="qwen2")).is_70b
    assert Hparams.of(dense(2, **{"attention.head_count_kv": [0, 4]})).n_gqa == 0
    assert Hparams.of(spec_model("qwen3moe_8x")).n_expert == 8
    got = types(spec_model("llama_70b"), "Q4_K_M")
    assert got["blk.10.attn_v.weight"] == "Q5_K" and got["blk.0.attn_v.weight"] == "Q6_K"  # Q4_K, bumped


def test_eight_experts_bump_attention():
    got = types(spec_model("qwen3moe_8x"), "Q4_K_M")
    assert got["blk.1.attn_v.weight"] == got["blk.1.attn_k.weight"] == "Q8_0"
    assert got["blk.1.attn_output.weight"] == "Q5_K"
    assert types(spec_model("qwen3moe_128x"), "Q4_K_M")["blk.1.attn_output.weight"] == "Q4_K"


def test_categories_by_substring():
    assert [category(n) for n in ("output.weight", "token_embd.weight", "blk.0.attn_kv_b.weight",
                                  "blk.0.attn_k_b.weight", "blk.0.ffn_gate_up_exps.weight",
                                  "blk.0.attn_output.weight", "blk.0.nextn.eh_proj.weight")] == [
        "output", "token_embd", "attn_kv_b", "other", "ffn_gate", "attn_output", "other"]


def test_options_and_rules_precedence():
    m = spec_model("llama_tied")
    p = dict(token_embedding_type="Q8_0", output_tensor_type="Q5_0")
    o = {x.name: x for x in decide(m, QuantizeParams("Q4_K_M", **p))}
    assert (o["token_embd.weight"].type, o["token_embd.weight"].decided_by) == ("Q8_0", "token-embedding-type")
    o = {x.name: x for x in decide(m, QuantizeParams("Q4_K_M", output_tensor_type="Q5_0"))}
    assert (o["token_embd.weight"].type, o["token_embd.weight"].decided_by) == ("Q5_0", "output-tensor-type")
    o = {x.name: x for x in decide(m, QuantizeParams("Q4_K_M", output_tensor_type="Q5_0", pure=True))}
    assert (o["token_embd.weight"].type, o["token_embd.weight"].decided_by) == ("Q4_K", "pure")
    o = {x.name: x for x in decide(m, QuantizeParams("BF16", rules=(Rule("attn", "Q4_K"),)))}
    assert (o["blk.0.attn_q.weight"].type, o["blk.0.attn_q.weight"].decided_by) == ("BF16", "ftype-gate")
    assert {x.decided_by for x in decide(m, QuantizeParams("COPY", token_embedding_type="Q8_0"))} == {
        "not-quantized"}


def test_the_type_the_dry_run_prints_and_the_runs_that_fail():
    m = spec_model("llama")
    o = {x.name: x for x in decide(m, QuantizeParams("IQ2_XXS"))}
    q = o["blk.0.attn_q.weight"]
    assert (q.type, q.requires_imatrix) == ("IQ2_XXS", True) and "needs an imatrix" in q.error
    assert o["token_embd.weight"].type == "Q2_K" and not o["token_embd.weight"].error
    assert not any(x.error for x in decide(m, QuantizeParams("IQ2_XXS", imatrix=True)))
    o = {x.name: x for x in decide(m, QuantizeParams("Q4_K_M", rules=(Rule("token_embd", "IQ2_XXS"),)))}
    assert o["token_embd.weight"].type == "IQ2_XXS" and "ggml aborts" in o["token_embd.weight"].error
    o = {x.name: x for x in decide(m, QuantizeParams("Q4_K_M", rules=(Rule("ffn_down", "NVFP4"),)))}
    assert o["blk.0.ffn_down.weight"].type is None  # no fallback: the dry run fails too
    wide = spec_model("llama_e288")
    o = {x.name: x for x in decide(wide, QuantizeParams("Q8_0", token_embedding_type="Q4_K"))}
    assert o["token_embd.weight"].type == "Q4_K" and "no fallback" in o["token_embd.weight"].error
    assert types(wide, "Q4_K_M")["output.weight"] == "Q8_0"  # rows of 288: the output rule's Q8_0


def test_stock_types_and_its_failure():
    assert stock_types(spec_model("llama"), "Q4_K")["blk.1.ffn_down.weight"] == "Q8_0"  # Q6_K on rows of 800
    with pytest.raises(QuantizeFailure, match="Q1_0"):
        stock_types(spec_model("llama"), "Q1_0")


def test_ftype_names():
    assert canonical_ftype("q4_k") == "Q4_K_M" and canonical_ftype("Q3_K") == "Q3_K_M"
    with pytest.raises(ValueError):
        canonical_ftype("Q7_K")
    m = spec_model("qwen3moe")
    assert types(m, "Q5_K") == types(m, "Q5_K_M")


def test_prune_layers_renumbers_and_keeps_the_source_block_count():
    m = prune_layers(spec_model("qwen35moe"), [1])
    assert m.block_count == 2 and m.metadata["block_count"] == 3
    assert "blk.1.nextn.eh_proj.weight" in m.by_name and "blk.2.attn_v.weight" not in m.by_name
    assert m.tensor("blk.1.attn_v.weight").layer == 1
    # n_layer_all stays 3: the renumbered MTP block (now blk.1) is no longer in the last eighth
    assert types(m, "Q4_K_M")["blk.1.ffn_down_exps.weight"] == "Q4_K"


def test_moe_ffn_tensor_outside_a_block_fails():
    m = ModelInfo("qwen3moe", (T("blk.0.ffn_up_exps.weight", (256, 64, 4)), T("ffn_down.weight")), 1, 0,
                  metadata={"expert_count": 4})
    o = decide(m, QuantizeParams("Q4_K_M"))[1]
    assert o.type is None and "Failed to determine layer" in o.error


def test_source_only_arch_branches():
    glm = ModelInfo("glm5-next", (T("blk.0.attn_q_a.weight"), T("blk.0.attn_k_b.weight", (64, 64, 4))), 1, 0)
    assert [o.type for o in decide(glm, QuantizeParams("Q4_K_M"))] == ["Q8_0", "F16"]  # k_b never quantized
    tensors = (T("blk.0.attn_k_b.weight", (256, 64, 4)), T("blk.0.ffn_up_exps.weight", (256, 64, 4)))
    assert [o.type for o in decide(ModelInfo("bailingmoe3", tensors, 1, 0), QuantizeParams("MXFP4_MOE"))] == [
        "Q8_0", "MXFP4"]
    assert [o.type for o in decide(ModelInfo("deepseek2", tensors, 1, 0), QuantizeParams("MXFP4_MOE"))] == [
        "MXFP4", "MXFP4"]
    falcon = types(spec_model("falcon"), "Q4_K_M")
    assert falcon["output.weight"] == "Q8_0" and falcon["blk.3.ffn_down.weight"] == "Q5_K"


def test_simulate_delegates_to_the_mixture():
    m = spec_model("deepseek2")
    rules = [Rule("attn_kv_a_mqa", "Q8_0")]
    assert simulate(rules, m, "IQ4_XS", imatrix=True) == decide(
        m, QuantizeParams("IQ4_XS", imatrix=True, rules=tuple(rules)))
