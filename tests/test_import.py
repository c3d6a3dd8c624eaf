"""`recipec import`: a quantized GGUF or a rule list -> a compact recipe that compiles back to it.

Model-free tests pin down the compaction by hand (these deviations must come out as exactly these
lines) and compile each imported recipe against the model's manifest; the llama tests quantize the
fixture models with the real llama-quantize (stock mixes, imatrix runs, split files, the curated
recipes' plans, hand-written --tensor-type lists), import the files, compile the recipes against
the same files and check them with `recipec verify`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipec import fixtures
from recipec.api import compile_recipe
from recipec.cli import run
from recipec.compact import quantized_tensors
from recipec.diagnostics import DiagnosticError
from recipec.importer import Mix, import_mix
from recipec.loaders import dumps_manifest, load_model
from recipec.mixture import stock_types
from recipec.modelinfo import ModelInfo, make_tensor
from tests.kit_helpers import recipec_cli

ROOT = Path(__file__).resolve().parents[1]


def spec_model(kind: str, spec: fixtures.Spec | None = None) -> ModelInfo:
    """A fixture kind (or SPEC) as a ModelInfo, straight from its spec (no file)."""
    arch, kv, tensors = spec or fixtures.model_spec(kind)
    n, nextn = kv["block_count"], kv.get("nextn_predict_layers", 0)
    return ModelInfo(arch, tuple(make_tensor(name, shape, fixtures.source_type(name, shape), n, nextn)
                                 for name, shape in tensors), n, nextn, metadata=dict(kv))


def body(text: str) -> list[str]:
    """The statements after `recipe "…"`, comments left out."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith('recipe "')
    return lines[1:]


def clean(path: Path) -> None:
    """The recipe at PATH is lint-clean under --strict and already in fmt's layout."""
    assert recipec_cli("lint", "--strict", str(path))[0] == 0, recipec_cli("lint", "--strict", str(path))
    assert recipec_cli("fmt", "--check", str(path))[0] == 0


def round_trip(tmp_path: Path, model: ModelInfo, final: dict[str, str], ftype: str = "Q4_K_M",
               forced: str | None = None) -> list[str]:
    """Import FINAL (every tensor's type) on MODEL; check the recipe is clean and compiles against
    MODEL's manifest to exactly FINAL; return its statements."""
    got = import_mix(Mix(model, final, "x.gguf", file_ftype=ftype), ftype=forced)
    recipe, manifest = tmp_path / "x.recipe", tmp_path / "x.manifest.json"
    recipe.write_text(got.text)
    manifest.write_text(dumps_manifest(model))
    clean(recipe)
    compiled = compile_recipe(str(recipe), str(manifest))
    assert compiled.plan is not None, compiled.diagnostics
    assert {t.name: t.type for t in compiled.plan.tensors} == {t.name: final[t.name] for t in model.tensors}
    return body(got.text)


def changed(model: ModelInfo, ftype: str, changes: dict[str, str]) -> dict[str, str]:
    return {**stock_types(model, ftype), **changes}


# --- the compaction, by hand ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["llama", "llama_tied", "qwen3moe", "qwen35moe", "deepseek2",
                                  "llama_gqa8_17", "qwen35moe_8x", "falcon"])
@pytest.mark.parametrize("ftype", ["Q4_K_M", "Q3_K_M", "IQ4_XS", "Q6_K"])
def test_a_stock_mix_is_its_base_alone(kind, ftype):
    model = spec_model(kind)
    got = import_mix(Mix(model, stock_types(model, ftype), "x.gguf", file_ftype=ftype))
    assert body(got.text) == [f"arch    {model.arch}", f"base    {ftype}"]
    assert got.differing == 0 and not got.pins and got.mtp_keep is None


def test_layer_ranges_and_roles_merge(tmp_path):
    m = spec_model("llama_gqa8_17")  # Q4_K_M: attn_v/ffn_down Q6_K in layers 0 1 4 7 10 13 14 15 16
    final = changed(m, "Q4_K_M", {
        "token_embd.weight": "Q8_0", "output.weight": "Q8_0",
        **{f"blk.{i}.attn_v.weight": "Q8_0" for i in range(4)},
        **{f"blk.{i}.ffn_down.weight": "Q6_K" for i in range(8)},  # 0 1 4 7 already are
        **{f"blk.{i}.ffn_up.weight": "Q5_K" for i in (5, 6, 7, 8, 16)},
    })
    assert round_trip(tmp_path, m, final) == [
        "arch    llama",
        "base    Q4_K_M",
        "pin     output token_embd Q8_0",
        "pin     attn_v@first 4 Q8_0",
        "pin     ffn_down@first 7 Q6_K",  # layer 7 is Q6_K in the stock mix already
        "pin     ffn_up@5..8 ffn_up@16 Q5_K",
    ]


def test_last_layers_and_a_glob_with_a_filter(tmp_path):
    m = spec_model("llama_gqa8_17")
    final = changed(m, "Q4_K_M", {
        **{f"blk.{i}.attn_{r}.weight": "Q8_0" for i in range(12, 17) for r in ("q", "k", "v", "output")},
        "blk.9.ffn_down.weight": "Q8_0",
    })
    assert round_trip(tmp_path, m, final)[2:] == ["pin     attn_*@last 5 Q8_0", "pin     ffn_down@9 Q8_0"]


def test_a_last_filter_next_to_another_type_is_written_as_a_range(tmp_path):
    # without the model lint cannot tell `@last 5` from `@first 2` (L002): the range is written
    m = spec_model("llama_gqa8_17")
    final = changed(m, "Q4_K_M", {**{f"blk.{i}.ffn_gate.weight": "Q8_0" for i in range(12, 17)},
                                  **{f"blk.{i}.ffn_gate.weight": "Q6_K" for i in range(2)}})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     ffn_gate@12..16 Q8_0", "pin     ffn_gate@first 2 Q6_K"]


def test_odd_and_even_layers_are_strides(tmp_path):
    # llama.cpp's README example: attn_k of odd layers Q5_K, attn_q of even layers Q3_K
    m = spec_model("llama_gqa8_17")
    final = changed(m, "Q4_K_M", {**{f"blk.{i}.attn_k.weight": "Q5_K" for i in range(1, 17, 2)},
                                  **{f"blk.{i}.attn_q.weight": "Q3_K" for i in range(0, 17, 2)}})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     attn_k@every 2 from 1 Q5_K", "pin     attn_q@every 2 Q3_K"]


def test_a_stride_starts_where_it_must(tmp_path):
    m = spec_model("llama_gqa8_17")
    # every 4th layer from 4 (layer 0 keeps the stock type, so `every 4` would be wrong)
    final = changed(m, "Q4_K_M", {f"blk.{i}.ffn_up.weight": "Q5_K" for i in (4, 8, 12, 16)})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     ffn_up@every 4 from 4 Q5_K"]
    final = changed(m, "Q4_K_M", {f"blk.{i}.attn_output.weight": "Q5_K" for i in (2, 5, 8, 11, 14)})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     attn_output@every 3 from 2 Q5_K"]
    # attn_v of odd layers Q6_K: the stock mix has Q6_K at 0 1 4 7 10 13 14 15 16 already, so two
    # ranges through those name the four layers that change (3, 5, 9, 11); a stride replaces three or more
    final = changed(m, "Q4_K_M", {f"blk.{i}.attn_v.weight": "Q6_K" for i in range(1, 17, 2)})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     attn_v@3..5 attn_v@9..11 Q6_K"]


def test_a_stride_that_is_the_full_attention_layers_is_written_so(tmp_path):
    m = hybrid_model()  # full attention at 3, 7, 11; MTP block 12
    final = changed(m, "Q4_K_M", {f"blk.{i}.ffn_up_exps.weight": "Q8_0" for i in (3, 7, 11)})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     ffn_up_exps@full-attention Q8_0"]
    # next to a pin of another type on the same role, lint could not tell them apart: the layers are written
    final = changed(m, "Q4_K_M", {**{f"blk.{i}.ffn_up_exps.weight": "Q8_0" for i in (3, 7, 11)},
                                  **{f"blk.{i}.ffn_up_exps.weight": "Q3_K" for i in (0, 1)}})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     ffn_up_exps@3,7,11 Q8_0", "pin     ffn_up_exps@0..1 Q3_K"]


def test_strides_that_lint_could_not_tell_apart_are_written_as_lists(tmp_path):
    # every 3 from 8 and every 4 from 1 never meet in 17 layers, but would at layer 17 of a deeper model
    m = spec_model("llama_gqa8_17")
    final = changed(m, "Q4_K_M", {**{f"blk.{i}.attn_k.weight": "Q5_K" for i in (8, 11, 14)},
                                  **{f"blk.{i}.attn_k.weight": "Q3_K" for i in (1, 5, 9, 13)}})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     attn_k@8,11,14 Q5_K", "pin     attn_k@1,5,9,13 Q3_K"]


def test_no_stride_when_one_layer_breaks_it_or_ranges_are_fewer(tmp_path):
    m = spec_model("llama_gqa8_17")
    # layer 9 of the odd ones keeps Q4_K: no stride names the others without it
    final = changed(m, "Q4_K_M", {f"blk.{i}.attn_k.weight": "Q5_K" for i in (1, 3, 5, 7, 11, 13, 15)})
    assert round_trip(tmp_path, m, final)[2:] == [
        "pin     attn_k@1 attn_k@3 attn_k@5 attn_k@7 attn_k@11 attn_k@13 attn_k@15 Q5_K"]
    # two ranges stay two ranges
    final = changed(m, "Q4_K_M", {f"blk.{i}.ffn_up.weight": "Q5_K" for i in (4, 8)})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     ffn_up@4 ffn_up@8 Q5_K"]


def test_a_glob_for_a_whole_family_with_the_base_given(tmp_path):
    m = spec_model("llama_gqa8_17")
    final = changed(m, "Q4_K_M", {f"blk.{i}.attn_{r}.weight": "Q8_0" for i in range(17)
                                  for r in ("q", "k", "v", "output")})
    assert round_trip(tmp_path, m, final, forced="Q4_K_M")[1:] == ["base    Q4_K_M", "pin     attn_* Q8_0"]


def test_hybrid_layers_count_where_the_role_is(tmp_path):
    m = spec_model("qwen35moe_8x")  # full attention in layer 3 only (and the MTP block 7)
    final = changed(m, "Q4_K_M", {"blk.3.attn_output.weight": "Q8_0", "blk.3.attn_q.weight": "Q6_K",
                                  **{f"blk.{i}.attn_qkv.weight": "Q5_K" for i in (4, 5, 6)}})
    assert round_trip(tmp_path, m, final)[2:] == [
        "pin     attn_output@3 Q8_0", "pin     attn_q@3 Q6_K", "pin     attn_qkv@last 3 Q5_K"]


def test_mtp_block_of_one_type_is_mtp_keep(tmp_path):
    m = spec_model("qwen35moe_8x")
    final = changed(m, "Q4_K_M", {t.name: "Q8_0" for t in quantized_tensors(m) if t.mtp})
    assert round_trip(tmp_path, m, final)[2:] == ["mtp     keep Q8_0"]


def test_mtp_block_of_several_types_is_pinned_at_mtp(tmp_path):
    m = spec_model("qwen35moe_8x")
    final = changed(m, "Q4_K_M", {"blk.7.nextn.eh_proj.weight": "Q8_0", "blk.7.ffn_down_exps.weight": "Q5_0"})
    assert round_trip(tmp_path, m, final)[2:] == ["pin     nextn.eh_proj Q8_0", "pin     ffn_down_exps@mtp Q5_0"]


def test_a_plain_role_reaches_the_mtp_block_when_it_may(tmp_path):
    m = spec_model("qwen35moe")  # trunk 0 1, MTP block 2
    final = changed(m, "IQ4_XS", {t.name: "Q6_K" for t in quantized_tensors(m) if t.role == "ffn_down_exps"})
    assert round_trip(tmp_path, m, final, ftype="IQ4_XS")[1:] == ["base    IQ4_XS", "pin     ffn_down_exps Q6_K"]


def test_mtp_blocks_that_differ_from_each_other_cannot_be_written():
    arch, kv, tensors = fixtures.model_spec("qwen35moe")  # blocks 1 and 2 both MTP: `@mtp` names both
    m = ModelInfo(arch, tuple(make_tensor(n, s, fixtures.source_type(n, s), 3, 2) for n, s in tensors), 3, 2,
                  metadata={**kv, "nextn_predict_layers": 2})
    final = changed(m, "Q4_K_M", {"blk.1.attn_q.weight": "Q8_0", "blk.2.attn_q.weight": "Q6_K"})
    with pytest.raises(DiagnosticError) as exc:
        import_mix(Mix(m, final, "x.gguf"))
    assert exc.value.diagnostics[0].code == "Q205" and "attn_q" in exc.value.diagnostics[0].message


# --- the command --------------------------------------------------------------------------------

def test_usage_errors(tmp_path, fixture_model):
    rules = tmp_path / "rules.txt"
    rules.write_text("output=q8_0\n")
    assert recipec_cli("import", str(rules))[0] == 2  # a rule list needs --model
    assert recipec_cli("import", str(rules), "--model", str(fixture_model("llama")))[0] == 2  # and an FTYPE
    assert recipec_cli("import", str(fixture_model("llama")), "--ftype", "F16")[0] == 2
    assert recipec_cli("import", str(tmp_path / "missing.gguf"))[0] == 2
    manifest = tmp_path / "m.json"
    manifest.write_text(dumps_manifest(load_model(fixture_model("llama"))))
    assert recipec_cli("import", str(manifest))[0] == 2


def test_prune_layers_other_than_mtp_cannot_be_a_recipe(tmp_path, fixture_model):
    rules = tmp_path / "cmd.sh"
    rules.write_text("llama-quantize --prune-layers 0 in.gguf out.gguf Q4_K_M\n")
    rc, _, err = recipec_cli("import", str(rules), "--model", str(fixture_model("qwen35moe")))
    assert rc == 1 and "Q205" in err and "mtp drop" in err


def test_rule_list_with_prune_of_the_mtp_block_is_mtp_drop(tmp_path, fixture_model):
    model = fixture_model("qwen35moe")
    rules = tmp_path / "cmd.sh"
    rules.write_text('llama-quantize --tensor-type "attn_v=q8_0" --prune-layers 2 \\\n'
                     "  --override-kv qwen35moe.nextn_predict_layers=int:0 in.gguf out.gguf Q4_K_M\n")
    out = tmp_path / "drop.recipe"
    rc, _, err = recipec_cli("import", str(rules), "--model", str(model), "-o", str(out))
    assert rc == 0, err
    assert "S212" in err  # --override-kv is named, not dropped
    lines = body(out.read_text())
    assert lines[-1] == "mtp     drop" and "pin     attn_v Q8_0" in lines
    clean(out)
    compiled = compile_recipe(str(out), str(model))
    assert compiled.plan is not None and not any(t.mtp for t in compiled.plan.tensors)
    assert {t.name: t.type for t in compiled.plan.tensors}["blk.1.attn_v.weight"] == "Q8_0"


# --- real files: quantize, import, compile against the file, verify -------------------------------

def quantize(exe: Path, src: Path, out: Path, ftype: str, *options: str) -> Path:
    cmd = [str(exe), *options, str(src), str(out), ftype, "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}"
    return out


def import_and_verify(tmp_path: Path, gguf: Path, *shards: Path, imatrix: Path | None = None) -> list[str]:
    """Import GGUF, check the recipe is clean, compile it against GGUF, verify GGUF (and SHARDS)
    against the plan; return the recipe's statements."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    recipe, kit = tmp_path / "imported.recipe", tmp_path / "kit"
    rc, _, err = recipec_cli("import", str(gguf), "-o", str(recipe))
    assert rc == 0, err
    clean(recipe)
    extra = ["--imatrix", str(imatrix)] if imatrix else []
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(gguf), "-o", str(kit), *extra)
    assert rc == 0, err
    rc, out, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(gguf), *map(str, shards))
    assert rc == 0, out + err
    return body(recipe.read_text())


@pytest.mark.llama
@pytest.mark.parametrize("kind", ["llama", "llama_tied", "qwen3moe", "qwen35moe", "deepseek2", "falcon"])
@pytest.mark.parametrize("ftype", ["Q4_K_M", "Q3_K_M", "IQ4_XS", "Q5_K_M", "Q6_K", "Q8_0"])
def test_stock_files_import_as_their_base(kind, ftype, fixture_model, llama_quantize, tmp_path):
    out = quantize(llama_quantize, fixture_model(kind), tmp_path / "stock.gguf", ftype)
    arch = load_model(out).arch
    assert import_and_verify(tmp_path, out) == [f"arch    {arch}", f"base    {ftype}"]


@pytest.mark.llama
@pytest.mark.parametrize("kind,ftype,depends", [("llama", "IQ3_XXS", True), ("qwen35moe", "IQ3_XXS", True),
                                                ("llama", "IQ2_M", False)])
def test_imatrix_files_say_so_and_compile_with_it(kind, ftype, depends, fixture_model, fixture_imatrix,
                                                  llama_quantize, tmp_path):
    im = fixture_imatrix(kind, nextn=True)
    out = quantize(llama_quantize, fixture_model(kind), tmp_path / "im.gguf", ftype, "--imatrix", str(im))
    file_types = {t.name: t.type for t in load_model(out).tensors}
    # IQ3_XXS picks other types with an imatrix (IQ2_M needs one to run at all)
    assert (stock_types(load_model(out), ftype, imatrix=False) != file_types) == depends
    rc, text, _ = recipec_cli("import", str(out))
    assert rc == 0 and f"# made with an imatrix ({im.name}): compile with --imatrix" in text
    assert import_and_verify(tmp_path, out, imatrix=im)[1:] == [f"base    {ftype}"]


@pytest.mark.llama
def test_a_split_file(fixture_model, llama_quantize, tmp_path):
    quantize(llama_quantize, fixture_model("llama_split"), tmp_path / "out.gguf", "Q4_K_M",
             "--keep-split", "--tensor-type", "attn_v=q8_0")
    shards = sorted(tmp_path.glob("out-0000*-of-00003.gguf"))
    assert len(shards) == 3
    assert import_and_verify(tmp_path, shards[0], *shards[1:])[1:] == ["base    Q4_K_M", "pin     attn_v Q8_0"]


CURATED = sorted((ROOT / "recipes").glob("*.recipe"))


@pytest.mark.llama
@pytest.mark.parametrize("recipe", CURATED, ids=lambda p: p.stem)
def test_files_made_from_curated_recipes(recipe, fixture_model, llama_quantize, tmp_path):
    model = fixture_model("qwen35moe")
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(model), "-o", str(tmp_path / "src-kit"))
    assert rc == 0, err
    plan = json.loads((tmp_path / "src-kit" / "plan.lock.json").read_text())
    out = quantize(llama_quantize, model, tmp_path / "curated.gguf", plan["llama_quantize"]["ftype"],
                   "--tensor-type-file", str(tmp_path / "src-kit" / "tensor-types.txt"))
    lines = import_and_verify(tmp_path, out)
    if recipe.stem == "qwen35moe-q4_k_m-mtp-q6k":  # the stock mix plus an MTP head: what it says
        assert lines == ["arch    qwen35moe", "base    Q4_K_M", "mtp     keep Q6_K"]


HAND_WRITTEN = [  # (kind, FTYPE, --tensor-type rules, the statements the file imports to)
    ("llama", "Q4_K_M", ["output=q8_0", "token_embd=q8_0"],  # unanchored: attn_output too
     ["pin     output token_embd attn_output Q8_0"]),
    # the fixture's trunk is blocks 0 and 1 (block 2 is its MTP block): [01] is `@trunk`
    ("qwen35moe", "IQ4_XS", [r"blk\.2\.=q6_k", r"^output\.weight$=q8_0", r"blk\.[01]\.ffn_.*_exps=q5_k"],
     ["pin     output Q8_0", "pin     ffn_*_exps@trunk Q5_K", "mtp     keep Q6_K"]),
    # llama.cpp's README: attn_k of odd layers Q5_K, attn_q of even layers Q3_K
    ("llama_gqa8_17", "Q4_K_M", [r"\.(\d*[13579])\.attn_k=q5_k", r"\.(\d*[02468])\.attn_q=q3_k"],
     ["pin     attn_k@every 2 from 1 Q5_K", "pin     attn_q@every 2 Q3_K"]),
    ("deepseek2", "Q5_K_M", [r"blk\.0\.=q8_0", "ffn_down_exps=q6_k"],
     ["pin     attn_*@0 Q8_0", "pin     ffn_down ffn_gate ffn_up Q8_0", "pin     ffn_down_exps Q6_K"]),
]


@pytest.mark.llama
@pytest.mark.parametrize("kind,ftype,rules,want", HAND_WRITTEN, ids=[k for k, *_ in HAND_WRITTEN])
def test_hand_written_lists(kind, ftype, rules, want, fixture_model, llama_quantize, tmp_path):
    model = fixture_model(kind)
    options = [x for r in rules for x in ("--tensor-type", r)]
    out = quantize(llama_quantize, model, tmp_path / "hand.gguf", ftype, *options)
    assert import_and_verify(tmp_path / "from-file", out)[1:] == [f"base    {ftype}", *want]
    # the list itself, pasted as a command line, imports to the same recipe
    cmd = tmp_path / "cmd.sh"
    quoted = " ".join(f"--tensor-type '{r}'" for r in rules)
    cmd.write_text(f"llama-quantize {quoted} in.gguf out.gguf {ftype}\n")
    recipe = tmp_path / "from-list.recipe"
    rc, _, err = recipec_cli("import", str(cmd), "--model", str(model), "-o", str(recipe))
    assert rc == 0, err
    assert body(recipe.read_text())[1:] == [f"base    {ftype}", *want]
    kit = tmp_path / "list-kit"
    assert run(["compile", str(recipe), "--model", str(model), "-o", str(kit)]) == 0
    assert run(["verify", str(kit / "plan.lock.json"), str(out)]) == 0


def test_stock_run_with_the_mtp_block_pruned_is_base_and_mtp_drop(tmp_path, fixture_model):
    """llama-quantize's counters keep the source's block count under --prune-layers; the stock mix
    compared against must be the pruned run's, or the import invents pins."""
    model = fixture_model("qwen35moe")
    rules = tmp_path / "cmd.sh"
    rules.write_text("llama-quantize --prune-layers 2 in.gguf out.gguf Q4_K_M\n")
    out = tmp_path / "drop.recipe"
    rc, _, err = recipec_cli("import", str(rules), "--model", str(model), "-o", str(out))
    assert rc == 0, err
    assert body(out.read_text()) == ["arch    qwen35moe", "base    Q4_K_M", "mtp     drop"]


# --- random strides and ranges: the imported recipe compiles back to every tensor's type ------------

_HEAVY = bool(os.environ.get("RECIPEC_HEAVY"))
_ROLES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down", "ffn_gate", "ffn_up_exps",
          "ffn_down_exps", "attn_qkv", "attn_gate")


def hybrid_model() -> ModelInfo:
    """A qwen35moe hybrid of 12 trunk layers, full attention at 3, 7 and 11, its MTP block 12."""
    return spec_model("qwen35moe", fixtures._qwen35moe(n_trunk=12, every=4))


@pytest.mark.parametrize("kind", ["llama_gqa8_17", "hybrid"])
@settings(max_examples=300 if _HEAVY else 30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rules=st.lists(st.tuples(st.sampled_from(_ROLES), st.integers(1, 6), st.integers(0, 8), st.integers(0, 16),
                                st.sampled_from(("Q3_K", "Q5_K", "Q6_K", "Q8_0"))), min_size=1, max_size=5))
def test_random_strides_and_ranges_round_trip(tmp_path_factory, kind, rules):
    """Rules applied in order (role, step, start, last layer, type) on the stock mix, as a rule list
    would: the import is lint-clean, in fmt's layout, and compiles back to exactly those types."""
    m = hybrid_model() if kind == "hybrid" else spec_model(kind)
    final = stock_types(m, "Q4_K_M")
    for role, step, start, last, typ in rules:
        for i in range(start, last + 1, step):
            if f"blk.{i}.{role}.weight" in final:
                final[f"blk.{i}.{role}.weight"] = typ
    round_trip(tmp_path_factory.mktemp("strides"), m, final)
