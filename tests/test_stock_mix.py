"""`base FTYPE` alone is llama.cpp's own mix, proven on the real llama-quantize; statements are tweaks.

For each fixture model and FTYPE: a recipe of `base FTYPE` alone compiles to rules under which the
real `llama-quantize --dry-run` gives every tensor exactly the type the same binary gives it with no
rules at all (the stock file); `pin output Q8_0` on top changes output.weight and nothing else.
"""

from __future__ import annotations

import json

import pytest

from tests.kit_helpers import ROOT, recipec_cli
from tests.test_quantize_e2e import dry_run_types, run_quantize

pytestmark = pytest.mark.llama

FTYPES = ("Q4_K_M", "IQ4_XS", "Q3_K_M", "Q5_K_M", "Q6_K")


def _compile(tmp_path, model, body: str) -> dict:
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "r"\n' + body)
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(model), "-o", str(tmp_path / "kit"))
    assert rc == 0, err
    return json.loads((tmp_path / "kit" / "plan.lock.json").read_text())


@pytest.mark.parametrize("ftype", FTYPES)
@pytest.mark.parametrize("kind", ["llama", "qwen3moe", "qwen35moe", "llama_tied", "deepseek2"])
def test_base_alone_is_the_stock_file(kind, ftype, fixture_model, llama_quantize, tmp_path):
    model = fixture_model(kind)
    stock = dry_run_types(run_quantize(llama_quantize, model, tmp_path / "s.gguf", None, dry_run=True,
                                       ftype=ftype))
    plan = _compile(tmp_path, model, f"base {ftype}\n")
    assert {t["name"]: t["type"] for t in plan["tensors"]} == stock
    assert {t["reason"] for t in plan["tensors"]} <= {f"stock:{ftype}", "not-quantized"}
    ruled = dry_run_types(run_quantize(llama_quantize, model, tmp_path / "r.gguf", tmp_path / "kit" / "tensor-types.txt",
                                       dry_run=True, ftype=ftype))
    assert ruled == stock
    if kind == "llama_tied":  # no output.weight to pin
        return
    tweaked = _compile(tmp_path, model, f"base {ftype}\npin output Q8_0\n")
    changed = {t["name"]: t["type"] for t in tweaked["tensors"] if t["type"] != stock[t["name"]]}
    assert changed == ({"output.weight": "Q8_0"} if stock["output.weight"] != "Q8_0" else {})


def test_stock_recipe_matches_the_published_sizes(tmp_path, monkeypatch):
    """Seed 000's Agents-A1 release: Q4_K_M 21.17 GB, Q4_K_M with a Q6_K MTP head 21.86 GB."""
    monkeypatch.chdir(ROOT)
    recipe = "recipes/qwen35moe-q4_k_m-mtp-q6k.recipe"
    rc, _, err = recipec_cli("compile", recipe, "--model", "examples/qwen3.5-35b-a3b.manifest.json",
                             "-o", str(tmp_path / "mtp"))
    assert rc == 0, err
    with_mtp = json.loads((tmp_path / "mtp" / "plan.lock.json").read_text())["totals"]["file_bytes"]
    dropped = tmp_path / "drop.recipe"
    dropped.write_text(f'recipe "d"\nextends "{ROOT / recipe}"\nmtp drop\n')
    rc, _, err = recipec_cli("compile", str(dropped), "--model", "examples/qwen3.5-35b-a3b.manifest.json",
                             "-o", str(tmp_path / "drop"))
    assert rc == 0, err
    without = json.loads((tmp_path / "drop" / "plan.lock.json").read_text())["totals"]["file_bytes"]
    # published sizes are rounded to 10 MB; the manifest is built from the model's config, so the
    # tokenizer metadata is estimated: 0.2 % is the tolerance
    assert abs(with_mtp / 21.86e9 - 1) < 0.002 and abs(without / 21.17e9 - 1) < 0.002, (with_mtp, without)


@pytest.mark.parametrize("ftype", FTYPES)
def test_base_alone_with_mtp_drop_is_the_pruned_stock_file(ftype, fixture_model, llama_quantize, tmp_path):
    """`mtp drop` prunes the MTP block; llama-quantize's mix of the pruned run is the reference."""
    model = fixture_model("qwen35moe")
    plan = _compile(tmp_path, model, f"base {ftype}\nmtp drop\n")
    lq = plan["llama_quantize"]
    prune = ("--prune-layers", ",".join(map(str, lq["prune_layers"])), "--override-kv", lq["override_kv"][0])
    stock = dry_run_types(run_quantize(llama_quantize, model, tmp_path / "s.gguf", None, dry_run=True,
                                       ftype=ftype, extra=prune))
    assert {t["name"]: t["type"] for t in plan["tensors"]} == stock
    ruled = dry_run_types(run_quantize(llama_quantize, model, tmp_path / "r.gguf", tmp_path / "kit" / "tensor-types.txt",
                                       dry_run=True, ftype=ftype, extra=prune))
    assert ruled == stock


def test_explain_names_the_stock_mix_and_the_bound(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = tmp_path / "c.recipe"
    recipe.write_text('recipe "c"\narch qwen35moe\nbase Q4_K_M\nceiling attn_qkv Q5_K\n')
    model = "examples/qwen3.5-35b-a3b.manifest.json"
    rc, out, err = recipec_cli("explain", str(recipe), "--model", model, "blk.0.attn_gate.weight")
    assert rc == 0, err
    assert out.splitlines()[-2:] == ["  chosen Q4_K (stock:Q4_K_M)",
                                     "  why    no budget: llama-quantize's own Q4_K_M mix gives it Q4_K, "
                                     "and no statement changes that"]
    rc, out, err = recipec_cli("explain", str(recipe), "--model", model, "blk.0.attn_qkv.weight")
    assert rc == 0, err
    # Q4_K_M gives attn_qkv (counted as attn_v) Q6_K in the first layer; the ceiling cuts it to Q5_K
    assert out.splitlines()[-2:] == ["  chosen Q5_K (ceiling@4)",
                                     f"  why    no budget: the stock Q4_K_M type is cut to the ceiling at {recipe}:4:1"]


def test_the_flagship_example_is_the_release_it_names(tmp_path, monkeypatch):
    """examples/qwen35moe-iq4xs-mtp.recipe: an IQ4_XS body (the stock IQ4_XS mix) with a Q6_K MTP
    head; the release it imitates is 19.42 GB with its MTP block: predicted within 0.1 %."""
    monkeypatch.chdir(ROOT)
    rc, _, err = recipec_cli("compile", "examples/qwen35moe-iq4xs-mtp.recipe",
                             "--model", "examples/qwen3.5-35b-a3b.manifest.json",
                             "--imatrix", "examples/qwen3.5-35b-a3b.imatrix.json", "-o", str(tmp_path / "kit"))
    assert rc == 0, err
    plan = json.loads((tmp_path / "kit" / "plan.lock.json").read_text())
    assert abs(plan["totals"]["file_bytes"] / 19.42e9 - 1) < 0.001, plan["totals"]["file_bytes"]
    experts = [t for t in plan["tensors"] if t["role"].endswith("_exps") and not t["mtp"]]
    assert experts and {t["type"] for t in experts if t["role"] != "ffn_down_exps"} == {"IQ4_XS"}
    mtp = [t for t in plan["tensors"] if t["mtp"] and t["reason"] != "not-quantized"]
    assert mtp and {t["type"] for t in mtp} == {"Q6_K"} and {t["reason"] for t in mtp} == {"mtp-keep@6"}
