"""`recipec simulate`: audits hand-written rule lists the way public tools write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipec import cli
from tests.test_quantize_e2e import dry_run_types, run_quantize

# The way model cards and one-off scripts write them: unanchored, prefixes, pasted shell.
CARD_QWEN35 = """\
./llama-quantize --imatrix imatrix.gguf \\
  --tensor-type "output.weight=q8_0" \\
  --tensor-type ssm_a=q5_K \\
  --tensor-type 'blk\\.1=q6_k' \\
  --tensor-type ffn_down_exps=q5_K \\
  --tensor-type ffn_gate=q4_K \\
  --tensor-type ffn_gate_exps=q6_K \\
  --tensor-type attn_.*=q8_0 \\
  model-f16.gguf out.gguf Q4_K_M 8
"""
TOKENS_LLAMA = ("output\\.weight=q8_0 ffn_down=q4_K\nattn_v=Q6_K attn_k=q5_k BLK\\.\\D=q8_0 nothing_here=q4_0\n"
                "blk\\.0\\.attn_k=q4_0\n")


def simulate(tmp_path: Path, model: Path, text: str, *args: str, capsys=None) -> tuple[int, str, str]:
    rules = tmp_path / "rules.txt"
    rules.write_text(text)
    rc = cli.run(["simulate", str(rules), "--model", str(model), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_card_hazards_qwen35(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("qwen35moe"), CARD_QWEN35, "--format", "json", capsys=capsys)
    assert rc == 1
    doc = json.loads(out)
    assert doc["schema"] == "recipec.simulate/1" and doc["ftype"] == "Q4_K_M"
    tensors = {t["name"]: t for t in doc["tensors"]}
    assert tensors["blk.1.attn_output.weight"]["rule"] == {"index": 0, "text": "output.weight=q8_0"}
    assert tensors["blk.0.ssm_alpha.weight"]["type"] == "Q5_K"
    assert tensors["blk.0.ssm_a"]["decided_by"] == "not-quantized"
    assert tensors["blk.1.ffn_gate_exps.weight"]["rule"]["index"] == 2  # blk\.1 first
    assert tensors["blk.0.ffn_gate_exps.weight"]["rule"]["index"] == 4  # ffn_gate captures _exps
    assert tensors["token_embd.weight"]["decided_by"] == "default" and not tensors["token_embd.weight"]["exact"]
    codes = {(d["code"], d["message"].split("`")[1]) for d in doc["diagnostics"]}
    assert ("S201", "output.weight=q8_0") in codes
    assert ("S201", "ssm_a=q5_K") in codes
    assert ("S201", "ffn_gate=q4_K") in codes
    assert ("S202", "ffn_gate_exps=q6_K") in codes


def test_tokens_file_llama(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("llama"), TOKENS_LLAMA, capsys=capsys)
    assert rc == 1
    assert "S206" in err and "Q4_K -> Q5_0" in err       # rows of 800
    assert "S204" in err and "\\D" in err                 # lower-casing
    assert "S203" in err and "nothing_here" in err        # dead rule
    assert "S202" in err and "blk\\.0\\.attn_k=q4_0" in err  # attn_k wins first
    line = next(l for l in out.splitlines() if l.startswith("blk.0.ffn_down.weight"))
    assert "Q5_0" in line and "rule 1" in line


def test_clean_rules_exit_0(fixture_model, tmp_path, capsys):
    text = "^(?:output|token_embd)\\.weight$=q8_0\n^blk\\.[0-1]\\.(?:attn_k|attn_output|attn_q|attn_v|ffn_gate|ffn_up)\\.weight$=q6_K\n^blk\\.[0-1]\\.ffn_down\\.weight$=q8_0\n"
    rc, out, err = simulate(tmp_path, fixture_model("llama"), text, capsys=capsys)
    assert rc == 0, err
    assert "default" not in out


def test_ftype_gate_and_last_match(fixture_model, tmp_path, capsys):
    model = fixture_model("llama")
    rc, out, err = simulate(tmp_path, model, "attn=q8_0 attn_q=q4_0\n", "--ftype", "bf16", capsys=capsys)
    assert rc == 1 and "S205" in err
    rc, out, _ = simulate(tmp_path, model, "attn=q8_0 attn_q=q4_0\n", "--last-match", "--format", "json", capsys=capsys)
    tensors = {t["name"]: t for t in json.loads(out)["tensors"]}
    assert tensors["blk.0.attn_q.weight"]["type"] == "Q4_0"


@pytest.mark.parametrize("text", ["attn_q\n", "attn_q=q9_9\n", "attn_(q=q8_0\n"])
def test_bad_rules_exit_2(fixture_model, tmp_path, capsys, text):
    rc, _, err = simulate(tmp_path, fixture_model("llama"), text, capsys=capsys)
    assert rc == 2 and "S208" in err


def test_unreadable_rules_file(fixture_model, tmp_path, capsys):
    rc = cli.run(["simulate", str(tmp_path / "missing.txt"), "--model", str(fixture_model("llama"))])
    assert rc == 2 and "Q203" in capsys.readouterr().err


@pytest.mark.llama
@pytest.mark.parametrize("kind,text", [("qwen35moe", CARD_QWEN35), ("llama", TOKENS_LLAMA.replace(" nothing_here=q4_0", "")),
                                       ("qwen3moe", "output=q8_0 attn_k=q6_K ffn_up=q5_K exps=iq4_nl\n"),
                                       ("deepseek2", "attn_k=q6_K attn_kv=q8_0 ffn_gate=q5_0 output=q4_0\n")])
def test_simulate_matches_real_dry_run(kind, text, fixture_model, llama_quantize, tmp_path, capsys):
    path = fixture_model(kind)
    rc, out, _ = simulate(tmp_path, path, text, "--format", "json", capsys=capsys)
    sim = {t["name"]: t for t in json.loads(out)["tensors"]}
    from recipec.commands.simulate import parse_rules
    from recipec.source import SourceFile

    rules, _, _ = parse_rules(SourceFile("r", text))
    extra = tuple(a for r in rules for a in ("--tensor-type", f"{r.pattern}={r.type}"))
    real = dry_run_types(run_quantize(llama_quantize, path, tmp_path / "o.gguf", None, dry_run=True, extra=extra))
    exact = {n: t["type"] for n, t in sim.items() if t["exact"]}
    assert exact == {n: real[n] for n in exact}
    assert len(exact) > len(sim) // 2


def test_layer_prefix_capture_on_a_deep_manifest(tmp_path, capsys):
    from recipec.loaders import dumps_manifest
    from recipec.modelinfo import ModelInfo, TensorInfo, split_name

    names = [f"blk.{i}.{r}.weight" for i in range(12) for r in ("attn_q", "ffn_up")]
    info = ModelInfo("llama", tuple(TensorInfo(n, (256, 256), "F16", *split_name(n), False) for n in names), 12, 0)
    manifest = tmp_path / "m.json"
    manifest.write_text(dumps_manifest(info))
    rc, out, err = simulate(tmp_path, manifest, "blk\\.1=q8_0 blk\\.2\\.=q6_K\n", capsys=capsys)
    assert rc == 1
    assert "rule 0 `blk\\.1=q8_0` captures 4 tensor(s)" in err and "blk.10.attn_q.weight" in err
    assert "rule 1" not in err


def test_crash_no_fallback_and_imatrix_types(fixture_model, tmp_path, capsys):
    text = "attn_q=q8_K ffn_down=nvfp4 attn_k=iq2_xxs\n"
    rc, out, err = simulate(tmp_path, fixture_model("llama"), text, capsys=capsys)
    assert rc == 1
    assert "S207" in err and "rule 0" in err and "rule 1" in err  # crash type; rows of 800 without fallback
    assert "S209" in err and "IQ2_XXS needs an imatrix" in err
    rc, out, err = simulate(tmp_path, fixture_model("llama"), text, "--imatrix", capsys=capsys)
    assert "S209" not in err
