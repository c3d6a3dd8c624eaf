"""Each stage of resolve on its own, with hand-computed expectations.

The fixture `llama` model has 2 layers, embeddings of 256, attn_q/attn_output 256x256,
attn_k/attn_v 256x128 (ne0 first), ffn_gate/ffn_up 256x800 and ffn_down 800x256: rows of 800,
which no 256-element block divides (the K-quants fall back there).
"""

from __future__ import annotations

import pytest

from recipec.budget import Capacity, Fixed, capacity, fmt_size, in_unit
from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_model
from recipec.recipe import load
from recipec.resolve.bounds import Bound, Deciding, bind, decide
from recipec.resolve.candidates import candidates, resolve_tensors
from recipec.resolve.groups import form_groups, tie_sets
from recipec.resolve.settings import check_arch, settings
from recipec.resolve.weights import weigher


@pytest.fixture(scope="module")
def llama(fixture_model):
    return load_model(fixture_model("llama"))


def _recipe(tmp_path, body):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "t"\n' + body)
    loaded = load(str(p))
    assert loaded.recipe is not None, loaded.diagnostics
    return loaded.recipe


def test_settings_defaults_and_arch(llama, tmp_path):
    s = settings(_recipe(tmp_path, ""), llama)
    assert (s.ftype, s.ladder, s.profile, s.has_mtp, s.drop) == (
        "Q4_K_M", ("Q3_K", "IQ4_XS", "Q4_K", "Q5_K", "Q6_K", "Q8_0"), None, False, False)
    with pytest.raises(DiagnosticError) as exc:
        check_arch(_recipe(tmp_path, "arch qwen35moe\n"), llama)
    assert exc.value.diagnostics[0].code == "R303" and str(exc.value.diagnostics[0].span) .endswith(":2:1")


def test_bind_layer_filters_and_diagnostics(llama, tmp_path):
    r = _recipe(tmp_path, "floor attn_v@first 1 Q6_K\npin attn_norm Q8_0\nceiling ffn_dwn Q5_K\n")
    bounds, diags = bind(r, settings(r, llama))
    assert sorted(bounds) == ["blk.0.attn_norm.weight", "blk.0.attn_v.weight", "blk.1.attn_norm.weight"]
    assert [(b.kind, b.type, b.reason) for b in bounds["blk.0.attn_v.weight"]] == [("floor", "Q6_K", "floor@2")]
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("R302", 3, 5), ("R301", 4, 9)]
    assert diags[1].hint == "did you mean ffn_down?"


def test_decide_precedence():
    f4, f6 = Bound("floor", "Q4_K", None), Bound("floor", "Q6_K", None)
    c8, c6, c5 = Bound("ceiling", "Q8_0", None), Bound("ceiling", "Q6_K", None), Bound("ceiling", "Q5_K", None)
    keep, pin = Bound("mtp-keep", "Q6_K", None), Bound("pin", "Q4_K", None)
    assert decide("t", (f6, f4, c8, c6)) == (Deciding(None, f6, c6), None)
    assert decide("t", (keep, pin, f6)) == (Deciding(keep, f6, None), None)  # mtp keep owns the MTP block
    at_mtp = Bound("pin", "Q4_K", None, (1, 0), names_mtp=True)
    assert decide("t", (keep, at_mtp, f6)) == (Deciding(at_mtp, f6, None), None)  # unless a pin says @mtp
    d, conflict = decide("t", (f6, c5))
    assert d == Deciding(None, f6, c5) and conflict.code == "R307"


def test_candidates_fallback_duplicates_and_imatrix(llama, tmp_path):
    r = _recipe(tmp_path, "ladder IQ3_S Q4_K Q5_0 Q5_K Q8_0\nbudget 6 bpw\n")
    s = settings(r, llama)
    down = llama.tensor("blk.0.ffn_down.weight")
    cands, removed = candidates(down, Deciding(), s, 2.0, None)
    # 800 x 256 = 204800 elements = 6400 blocks of 32: IQ4_NL 18 B, Q5_0 22 B, Q5_1 24 B, Q8_0 34 B a
    # block; IQ3_S falls back to IQ4_NL there, which needs no imatrix
    assert [(c.requested, c.type, c.bytes) for c in cands] == [
        ("IQ3_S", "IQ4_NL", 115200), ("Q4_K", "Q5_0", 140800), ("Q5_K", "Q5_1", 153600), ("Q8_0", "Q8_0", 217600)]
    assert removed == [("Q5_0", "writes Q5_0, like a cheaper candidate")]
    assert all(c.cost == 2.0 * c.error for c in cands)
    r2 = _recipe(tmp_path, "ladder IQ2_XS Q8_0\nbudget 6 bpw\n")
    _, removed = candidates(llama.tensor("blk.0.attn_q.weight"), Deciding(), settings(r2, llama), 1.0, None)
    assert removed == [("IQ2_XS", "needs an imatrix (no imatrix given)")]
    out, _ = candidates(llama.tensor("output.weight"), Deciding(), s, 1.0, None)
    assert out[0].requested == "IQ3_S"  # output.weight never needs an imatrix


def test_weights_without_imatrix_are_element_counts(llama, tmp_path):
    r = _recipe(tmp_path, "depth first 1 x2.0\n")
    w = weigher(r, llama, None)
    assert w.weight(llama.tensor("blk.0.attn_k.weight")) == 2.0 * 256 * 128
    assert w.weight(llama.tensor("blk.1.attn_k.weight")) == 256 * 128
    # no imatrix data: the documented priors over the median importance (1 without an imatrix)
    assert w.weight(llama.tensor("output.weight")) == 12.5 * 256 * 320
    assert w.weight(llama.tensor("token_embd.weight")) == 1.8 * 256 * 320


def test_ties_per_layer_and_group_options(llama, tmp_path):
    r = _recipe(tmp_path, "ladder Q4_K Q8_0\ntie attn_q attn_k attn_v\n")
    s = settings(r, llama)
    res, diags = resolve_tensors(r, s, {}, weigher(r, llama, None), None)
    assert diags == []
    names = [t.name for t in llama.tensors if res[t.name].quantized]
    sets = tie_sets(r, res, names, None)
    assert (["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"], "tie@3") in sets
    assert (["blk.1.ffn_down.weight"], None) in sets
    groups = form_groups(r, res, names, None, padded=False, alignment=32)
    qkv = next(g for g in groups if g.tensors[0] == "blk.0.attn_q.weight")
    # q 256x256, k and v 256x128: 131072 elements = 512 blocks of 256 (Q4_K 144 B) = 4096 of 32 (Q8_0 34 B)
    assert [(o.requested, o.bytes) for o in qkv.options] == [("Q4_K", 512 * 144), ("Q8_0", 4096 * 34)]


def test_capacity_and_units(llama, tmp_path):
    r = _recipe(tmp_path, "budget 5 bpw\n")
    cap = capacity(r.budget, llama, Fixed(padded=0, raw=1000, elements=8000))
    assert (cap.kind, cap.text, cap.limit, cap.capacity, cap.fixed) == ("bpw", "5 bpw", 5000, 4000, 1000)
    assert in_unit(r.budget, cap, 3000) == "4.0000 bpw"  # 8 x (1000 + 3000) / 8000
    assert fmt_size(3 * 2**30, "GiB") == "3.000 GiB" and fmt_size(1234, "B") == "1234 B"
    r2 = _recipe(tmp_path, "budget 2 MiB\n")
    sized = Capacity("size", "2 MiB", 1000, 2 * 2**20, 2 * 2**20 - 1000, True)
    assert in_unit(r2.budget, sized, 2000) == "2.001 MiB"  # (2097152 - 1000 + 2000) / 1048576 = 2.00095


def test_start_types_without_a_budget(llama, tmp_path):
    """No budget: the stock Q4_K_M type, raised to a floor or cut to a ceiling; the ladder above it.

    Q4_K_M's mix on this 2-layer model: attn_v and ffn_down get Q6_K in layer 1 (use_more_bits:
    i >= 7n/8), Q4_K in layer 0; ffn_down's rows of 800 make Q6_K fall back to Q8_0, Q4_K to Q5_0.
    """
    r = _recipe(tmp_path, "base Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\nceiling attn_v Q5_K\n")
    s = settings(r, llama)
    assert s.from_stock
    assert [s.stock[f"blk.{i}.attn_v.weight"] for i in (0, 1)] == ["Q4_K", "Q6_K"]
    assert [s.stock[f"blk.{i}.ffn_down.weight"] for i in (0, 1)] == ["Q5_0", "Q8_0"]
    ceiling = Bound("ceiling", "Q5_K", None)
    v1 = llama.tensor("blk.1.attn_v.weight")
    assert [c.requested for c in candidates(v1, Deciding(None, None, ceiling), s, 1.0, None)[0]] == ["Q5_K"]
    q0 = llama.tensor("blk.0.attn_q.weight")
    assert [c.requested for c in candidates(q0, Deciding(), s, 1.0, None)[0]] == ["Q4_K", "Q5_K", "Q6_K", "Q8_0"]


def test_a_model_llama_quantize_refuses_is_a_diagnostic_not_a_crash(fixture_model, tmp_path):
    # A layout the loaders' checks normally stop: an expert tensor in a block past block_count. Should
    # one reach resolve anyway, llama-quantize's own failure ("Bad layer ...") is M109, not X001.
    from dataclasses import replace
    moe = load_model(fixture_model("qwen3moe"))
    broken = replace(moe, metadata={**moe.metadata, "block_count": 1})
    with pytest.raises(DiagnosticError) as exc:
        settings(_recipe(tmp_path, ""), broken)
    d = exc.value.diagnostics[0]
    assert d.code == "M109" and "llama-quantize cannot quantize this model" in d.message and "Bad layer" in d.message
