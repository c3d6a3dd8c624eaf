"""The output GGUF is named by what it holds: the type with the most bytes among the trunk's
quantized weights, when that is not the base FTYPE's default type; the card keeps the FTYPE
visible as `general.file_type`. Written by hand on the example manifest and the llama fixture."""

from __future__ import annotations

from recipec.api import compile_recipe, render_plan
from recipec.plan import TensorEntry, body_type
from tests.kit_helpers import ROOT

EXAMPLE = str(ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json")


def _plan(tmp_path, text: str, model: str = EXAMPLE):
    path = tmp_path / "r.recipe"
    path.write_text(text)
    c = compile_recipe(str(path), model)
    assert c.plan is not None, c.diagnostics
    return c.plan


def _row(card: str, head: str) -> str:
    return next(line for line in card.splitlines() if line.startswith(f"| {head} |"))


def test_a_body_of_another_type_names_the_file(tmp_path):
    plan = _plan(tmp_path, 'recipe "mix"\nbase Q4_K_M\npin * IQ4_XS\n')
    lq = plan.llama_quantize
    assert (lq.output, lq.ftype) == ("mix-IQ4_XS.gguf", "Q4_K_M")
    assert lq.args[-3:] == ("qwen3.5-35b-a3b.gguf", "mix-IQ4_XS.gguf", "Q4_K_M")
    card = render_plan(plan).files["card.md"]
    assert _row(card, "file") == "| file | mix-IQ4\\_XS.gguf |"
    assert _row(card, "base type (FTYPE)") == (
        "| base type (FTYPE) | Q4\\_K\\_M; no tensor is Q4_K, the FTYPE's default type: the quantized body is "
        "mostly IQ4_XS (100.0% of the trunk's quantized bytes), which names the file; "
        "general.file\\_type is Q4_K_M, the FTYPE llama-quantize is given |")
    assert "mix-IQ4_XS.gguf" in render_plan(plan).files["quantize.sh"]


def test_the_stock_mix_keeps_its_name(tmp_path):
    plan = _plan(tmp_path, 'recipe "stock"\nbase Q4_K_M\n')
    assert plan.llama_quantize.output == "stock.gguf"
    assert _row(render_plan(plan).files["card.md"], "base type (FTYPE)") == "| base type (FTYPE) | Q4\\_K\\_M |"


def test_a_name_that_already_says_the_type_is_kept(tmp_path):
    plan = _plan(tmp_path, 'recipe "qwen-iq4xs"\nbase Q4_K_M\npin * IQ4_XS\n')
    assert plan.llama_quantize.output == "qwen-iq4xs.gguf"
    assert "which names the file; general.file\\_type is Q4_K_M" in render_plan(plan).files["card.md"]


def test_globals_and_mtp_do_not_name_the_body(tmp_path):
    # the experts (most of the trunk's bytes) stay Q4_K; output, token_embd and the MTP block are Q8_0
    plan = _plan(tmp_path, 'recipe "heads"\nbase Q4_K_M\npin output token_embd Q8_0\nmtp keep Q8_0\n')
    assert plan.llama_quantize.output == "heads.gguf"


def _entry(name, layer, typ, nbytes, mtp=False, reason="solver"):
    return TensorEntry(name=name, role="r", layer=layer, mtp=mtp, shape=(32,), source_type="F16",
                       type=typ, bytes=nbytes, reason=reason)


def test_body_type_counts_the_trunk_weights_only():
    tensors = [_entry("token_embd.weight", None, "Q8_0", 1000), _entry("blk.0.a.weight", 0, "Q4_K", 30),
               _entry("blk.0.b.weight", 0, "Q6_K", 10), _entry("blk.1.a.weight", 1, "Q8_0", 500, mtp=True),
               _entry("blk.0.norm.weight", 0, "F32", 900, reason="not-quantized")]
    assert body_type(tensors) == ("Q4_K", 0.75)
    tie = [_entry("blk.0.a.weight", 0, "Q6_K", 10), _entry("blk.0.b.weight", 0, "Q5_K", 10)]
    assert body_type(tie) == ("Q5_K", 0.5)  # equal bytes: the first name in sorted order
    assert body_type([tensors[0]]) is None
