"""The llama-quantize model: quantizable tensors, precedence, FTYPE gate, fallbacks, sizes."""

from __future__ import annotations

import pytest

from recipec import ggml
from recipec.llamacpp import (Rule, SizePrediction, first_matching, is_quantizable, lower_pattern,
                              needs_imatrix, predict_file_size, shape_fallback, simulate,
                              simulate_tensor, tensor_info_bytes)
from recipec.modelinfo import ModelInfo, SourceInfo, TensorInfo, split_name


def T(name: str, shape=(256, 64), typ: str = "F16") -> TensorInfo:
    role, layer = split_name(name)
    return TensorInfo(name, tuple(shape), typ, role, layer, False)


def model(*tensors: TensorInfo, arch: str = "llama") -> ModelInfo:
    return ModelInfo(arch, tuple(tensors), block_count=2, nextn_layers=0)


@pytest.mark.parametrize("name,shape,expected", [
    ("blk.0.attn_q.weight", (256, 256), True),
    ("blk.0.ffn_gate_exps.weight", (256, 64, 8), True),
    ("blk.0.attn_norm.weight", (256,), False),          # 1-D
    ("blk.0.attn_q.bias", (256, 2), False),             # not a weight
    ("blk.0.attn_q_norm.weight", (64, 2), False),       # _norm.weight
    ("blk.0.ffn_gate_inp.weight", (256, 8), False),     # MoE router
    ("blk.0.ffn_gate_inp_shexp.weight", (256,), False),  # 1-D
    ("blk.0.ssm_conv1d.weight", (4, 512), False),
    ("blk.0.shortconv.conv.weight", (3, 256), False),
    ("position_embd.weight", (256, 512), False),
    ("token_types.weight", (256, 2), False),
    ("blk.0.ssm_a", (8,), False),
    ("blk.0.ssm_alpha.weight", (256, 8), True),
    ("blk.0.ssm_beta.weight", (256, 8), True),
    ("blk.0.nextn.eh_proj.weight", (512, 256), True),
    ("blk.0.time_mix_w1.weight", (256, 64), False),
    ("v.patch_embd.weight", (14, 14, 3, 256), False),
    ("blk.0.attn_q.weight", (256, 1), False),           # trailing 1 -> 1-D for ggml
])
def test_is_quantizable(name, shape, expected):
    assert is_quantizable(T(name, shape)) is expected


def test_leave_output_and_copy():
    assert not is_quantizable(T("output.weight"), leave_output=True)
    assert is_quantizable(T("output.weight"))
    assert not is_quantizable(T("blk.0.attn_q.weight"), copy=True)


@pytest.mark.parametrize("typ,ne0,expected", [
    ("Q4_K", 800, "Q5_0"), ("Q5_K", 800, "Q5_1"), ("Q6_K", 800, "Q8_0"), ("IQ4_XS", 800, "IQ4_NL"),
    ("IQ2_XXS", 800, "IQ4_NL"), ("Q2_K", 800, "Q4_0"), ("Q3_K", 800, "Q4_0"), ("TQ1_0", 800, "Q4_0"),
    ("Q4_K", 1000, "F16"), ("Q6_K", 1000, "F16"), ("Q8_0", 1000, "F16"),
    ("Q8_0", 800, "Q8_0"), ("MXFP4", 800, "MXFP4"), ("Q4_K", 256, "Q4_K"), ("F16", 1000, "F16"),
    ("NVFP4", 800, None), ("Q1_0", 800, None), ("NVFP4", 256, "NVFP4"), ("Q1_0", 1024, "Q1_0"),
])
def test_shape_fallback(typ, ne0, expected):
    assert shape_fallback(typ, ne0) == expected


def test_needs_imatrix():
    assert needs_imatrix("blk.0.attn_q.weight", "IQ2_XXS", "Q4_K_M")
    assert not needs_imatrix("token_embd.weight", "IQ2_XXS", "Q4_K_M")
    assert not needs_imatrix("output.weight", "IQ1_S", "Q4_K_M")
    assert needs_imatrix("blk.0.attn_q.weight", "Q2_K", "Q2_K_S")
    assert not needs_imatrix("blk.0.attn_q.weight", "Q2_K", "Q2_K")
    assert not needs_imatrix("blk.0.attn_q.weight", "IQ4_XS", "Q4_K_M")


def test_patterns_are_lower_cased_and_unanchored():
    assert lower_pattern(r"BLK\.\D\W[A-Z]") == r"blk\.\d\w[a-z]"
    rules = [Rule(r"output\.weight", "Q8_0"), Rule(r"blk\.1", "Q6_K"), Rule("SSM_A", "Q5_K")]
    assert first_matching(rules, "blk.3.attn_output.weight") == 0
    assert first_matching(rules, "blk.12.ffn_up.weight") == 1
    assert first_matching(rules, "blk.0.ssm_alpha.weight") == 2
    assert first_matching(rules, "blk.2.ffn_up.weight") is None


def test_first_match_and_last_match():
    rules = [Rule("attn", "Q8_0"), Rule("attn_q", "Q6_K")]
    m = model(T("blk.0.attn_q.weight"))
    assert simulate(rules, m, "Q4_K_M")[0].type == "Q8_0"
    assert simulate(rules, m, "Q4_K_M", first_match=False)[0].type == "Q6_K"


def test_decision_order():
    m = model(T("token_embd.weight", (256, 320)), T("blk.0.attn_q.weight"), T("blk.0.attn_norm.weight", (256,), "F32"),
              T("output.weight", (256, 320)))
    rules = [Rule(".*", "Q5_K")]
    out = {o.name: o for o in simulate(rules, m, "Q4_K_M", token_embedding_type="Q8_0", output_tensor_type="Q6_K")}
    assert (out["token_embd.weight"].type, out["token_embd.weight"].decided_by) == ("Q8_0", "token-embedding-type")
    assert (out["output.weight"].type, out["output.weight"].decided_by) == ("Q6_K", "output-tensor-type")
    assert (out["blk.0.attn_q.weight"].type, out["blk.0.attn_q.weight"].rule) == ("Q5_K", 0)
    assert out["blk.0.attn_norm.weight"].decided_by == "not-quantized"
    assert out["blk.0.attn_norm.weight"].type == "F32"


def test_tied_embeddings_take_output_type_unless_a_rule_names_them():
    m = model(T("token_embd.weight", (256, 320)), T("blk.0.attn_q.weight"))
    o = simulate([], m, "Q4_K_M", output_tensor_type="Q8_0")[0]
    assert (o.type, o.decided_by) == ("Q8_0", "output-tensor-type")
    o = simulate([Rule(r"^token_embd\.weight$", "Q6_K")], m, "Q4_K_M", output_tensor_type="Q8_0")[0]
    assert (o.type, o.decided_by, o.rule) == ("Q6_K", "rule", 0)


@pytest.mark.parametrize("ftype,expected", [
    ("F16", "F16"), ("BF16", "BF16"), ("F32", "F32"),
    ("COPY", "F16"),  # COPY keeps the source type (T's default, F16)
])
def test_ftype_gate_disables_rules(ftype, expected):
    m = model(T("blk.0.attn_q.weight"))
    o = simulate([Rule("attn_q", "Q4_K")], m, ftype)[0]
    assert o.rule is None
    assert o.type == expected


def test_rule_disabling_ftypes_are_the_four_float_or_copy_ones():
    assert ggml.RULE_DISABLING_FTYPES == {"F16", "BF16", "F32", "COPY"}


def test_fallback_applies_to_rules_not_to_the_embedding_overrides():
    m = model(T("blk.0.ffn_down.weight", (800, 256)), T("token_embd.weight", (800, 320)))
    out = simulate([Rule("ffn_down", "Q4_K")], m, "Q8_0", token_embedding_type="Q4_K")
    assert (out[0].requested, out[0].type, out[0].fell_back) == ("Q4_K", "Q5_0", True)
    # --dry-run prints the option's type as asked; the real run fails on it
    assert out[1].type == "Q4_K" and "no fallback" in out[1].error


def test_no_fallback_and_crash_types_are_errors():
    m = model(T("blk.0.ffn_down.weight", (800, 256)))
    assert simulate([Rule("ffn_down", "NVFP4")], m, "Q8_0")[0].error
    assert simulate([Rule("ffn_down", "Q8_K")], m, "Q8_0")[0].error


def test_simulate_is_exact_where_the_mixture_decides():
    o = simulate([], model(T("blk.0.attn_q.weight"), T("output.weight", (256, 320))), "IQ4_XS")
    assert [(x.type, x.decided_by, x.exact) for x in o] == [("IQ4_XS", "mixture", True),
                                                             ("Q6_K", "mixture", True)]


def test_simulate_tensor_alone_marks_the_mixture_inexact():
    o = simulate_tensor([], T("output.weight", (256, 320)), "IQ4_XS")
    assert (o.type, o.decided_by, o.exact) == ("IQ4_XS", "default", False)
    o = simulate_tensor([Rule("output", "Q8_0")], T("output.weight", (256, 320)), "IQ4_XS")
    assert (o.type, o.decided_by, o.exact) == ("Q8_0", "rule", True)


def test_predict_file_size_exact_with_kv_bytes():
    m = ModelInfo("llama", (T("a.weight", (256, 3)), T("b", (5,), "F32")), 0, 0, alignment=32)
    types = {"a.weight": "Q8_0", "b": "F32"}
    p = predict_file_size(m, types, kv_bytes=100)
    assert p.slack == 0
    # a: 256*3 elements / 32 per Q8_0 block * 34 bytes = 816, padded to 32 -> 832;
    # b: 5 F32 * 4 bytes = 20, padded -> 32
    assert p.data_bytes == 864
    # header 24 + kv 100 + tensor infos (a.weight 48 + b 33 = 81) = 205, padded to 32 -> 224
    assert p.metadata_bytes == 224
    assert p.bytes == 1088  # 224 + 864
    # name length u64, name, n_dims u32, dims 2 x u64, type u32, offset u64
    assert tensor_info_bytes([T("a.weight", (256, 3))]) == 8 + 8 + 4 + 16 + 4 + 8
    assert tensor_info_bytes([T("b", (5,), "F32")]) == 8 + 1 + 4 + 8 + 4 + 8


def test_predict_file_size_from_source_offset_is_bounded():
    m = ModelInfo("llama", (T("a.weight", (256, 3)),), 0, 0, alignment=32,
                  sources=(SourceInfo("m.gguf", 4096, "0" * 64, 1024),))
    p = predict_file_size(m, {"a.weight": "Q4_0"})
    # header: the source's data offset 1024 (already a multiple of 32); data: 256*3 / 32 per
    # Q4_0 block * 18 bytes = 432, padded to 32 -> 448
    assert isinstance(p, SizePrediction) and p.bytes == 1024 + 448
    assert 0 < p.slack <= 96
