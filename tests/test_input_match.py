"""Inputs checked against each other: an imatrix of another model is refused by compile (I107)."""

from __future__ import annotations

import pytest

from recipec import fixtures
from recipec.diagnostics import Kind, Severity
from recipec.imatrix import MIN_COVERAGE, ImatrixStats, mismatch
from recipec.loaders import load_imatrix, load_model
from tests.kit_helpers import ROOT, compile_kit, recipec_cli

QWEN3MOE = 'recipe "m"\narch qwen3moe\nbase Q4_K_M\n'
LLAMA = 'recipe "m"\narch llama\nbase Q4_K_M\n'


def _recipe(tmp_path, text: str):
    path = tmp_path / "r.recipe"
    path.write_text(text)
    return path


def test_another_architectures_imatrix_is_refused(tmp_path, fixture_model, fixture_imatrix):
    # The qwen3moe fixture: 2 layers x (attn_q, attn_k, attn_v, attn_output, 3 expert stacks) + output
    # = 15 collectable tensors. The llama fixture's imatrix has 15 entries; its 2 x 3 dense ffn_*
    # names are not in qwen3moe, its attention and output entries (9) fit.
    im = fixture_imatrix("llama")
    rc, err = compile_kit(_recipe(tmp_path, QWEN3MOE), fixture_model("qwen3moe"), tmp_path / "kit",
                          "--imatrix", str(im))
    assert rc == 2, err
    assert ("I107 " in err and "does not match the model: 6 of 15 entries name tensors the model lacks, 0 do not fit "
            "the tensor's shape; it covers 9 of 15 quantized matmul tensors (60.0 %, at least 50 % needed)") in err
    assert not (tmp_path / "kit").exists()


def test_the_flag_makes_it_a_warning(tmp_path, fixture_model, fixture_imatrix):
    im = fixture_imatrix("llama")
    rc, err = compile_kit(_recipe(tmp_path, QWEN3MOE), fixture_model("qwen3moe"), tmp_path / "kit",
                          "--imatrix", str(im), "--allow-imatrix-mismatch")
    assert rc == 0, err
    assert "I107" in err and "6 of 15 entries" in err
    assert (tmp_path / "kit" / "plan.lock.json").exists()


def test_shape_mismatch_of_the_same_architecture(tmp_path, fixture_model, fixture_imatrix):
    # llama_ff1000's ffn_down reads 1000 columns, llama's 800: same names, 2 shapes differ.
    recipe = _recipe(tmp_path, LLAMA)
    args = ("--imatrix", str(fixture_imatrix("llama_ff1000")))
    rc, err = compile_kit(recipe, fixture_model("llama"), tmp_path / "kit", *args)
    assert rc == 2 and ("0 of 15 entries name tensors the model lacks, 2 do not fit the tensor's shape; "
                        "it covers 13 of 15") in err
    rc, out, err = recipec_cli("explain", str(recipe), "--model", str(fixture_model("llama")), *args,
                               "blk.0.ffn_down.weight")
    assert rc == 2 and "I107" in err and out == ""
    rc, out, err = recipec_cli("explain", str(recipe), "--model", str(fixture_model("llama")), *args,
                               "--allow-imatrix-mismatch", "blk.0.ffn_down.weight")
    assert rc == 0 and "I107" in err and "blk.0.ffn_down.weight" in out


def test_low_coverage_alone_is_a_mismatch(fixture_model, fixture_imatrix):
    model = load_model(fixture_model("llama"))
    full = load_imatrix(fixture_imatrix("llama"))
    kept = dict(list(full.tensors.items())[:5])  # 5 of the 15, all of them fitting
    diags = mismatch(ImatrixStats(tensors=kept), model)
    assert [d.code for d in diags] == ["I107"] and diags[0].kind is Kind.INPUT
    assert "0 of 5 entries name tensors the model lacks, 0 do not fit" in diags[0].message
    assert "covers 5 of" in diags[0].message and MIN_COVERAGE == 0.5
    warned = mismatch(ImatrixStats(tensors=kept), model, allow=True)
    assert warned[0].severity is Severity.WARNING


@pytest.mark.parametrize("kind", fixtures.KINDS)
def test_own_imatrix_matches(kind, fixture_model, fixture_imatrix):
    # token_embd is never collected, nor the MTP blocks without --nextn: no I107 on the own pair.
    model = load_model(fixture_model(kind))
    assert mismatch(load_imatrix(fixture_imatrix(kind), model), model) == []


def test_own_imatrix_compiles_cleanly(tmp_path, fixture_model, fixture_imatrix):
    rc, err = compile_kit(_recipe(tmp_path, QWEN3MOE), fixture_model("qwen3moe"), tmp_path / "kit",
                          "--imatrix", str(fixture_imatrix("qwen3moe")))
    assert rc == 0 and "I107" not in err, err


def test_example_imatrix_matches_the_example_manifest():
    model = load_model(str(ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json"))
    stats = load_imatrix(str(ROOT / "examples" / "qwen3.5-35b-a3b.imatrix.json"), model)
    assert mismatch(stats, model) == []
