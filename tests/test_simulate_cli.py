"""`recipec simulate`: audits hand-written rule lists the way public tools write them, and agrees
with the real `llama-quantize --dry-run` on every tensor of real lists."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from recipec import cli
from recipec.rulelist import parse_rule_list
from recipec.source import SourceFile
from tests.test_quantize_e2e import dry_run_types, run_quantize

DATA = Path(__file__).parent / "data" / "rulelists"

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
    assert tensors["token_embd.weight"]["decided_by"] == "mixture" and tensors["token_embd.weight"]["exact"]
    assert all(t["exact"] for t in doc["tensors"])
    codes = {(d["code"], d["message"].split("`")[1]) for d in doc["diagnostics"]}
    assert ("S201", "output.weight=q8_0") in codes
    assert ("S201", "ssm_a=q5_K") in codes
    assert ("S201", "ffn_gate=q4_K") in codes
    assert ("S202", "ffn_gate_exps=q6_K") in codes


def test_tokens_file_llama(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("llama"), TOKENS_LLAMA, "--tensors", capsys=capsys)
    assert rc == 1
    assert "S206" in err and "Q4_K -> Q5_0" in err       # rows of 800
    assert "S204" in err and "\\D" in err                 # lower-casing
    assert "S203" in err and "nothing_here" in err        # dead rule
    assert "S202" in err and "blk\\.0\\.attn_k=q4_0" in err  # attn_k wins first
    line = next(l for l in out.splitlines() if l.startswith("blk.0.ffn_down.weight"))
    assert "Q5_0" in line and "rule 1" in line and "from Q4_K" in line


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
    rules = parse_rule_list(SourceFile("r", text)).rules
    extra = tuple(a for r in rules for a in ("--tensor-type", f"{r.pattern}={r.type}"))
    real = dry_run_types(run_quantize(llama_quantize, path, tmp_path / "o.gguf", None, dry_run=True, extra=extra))
    assert {n: t["type"] for n, t in sim.items()} == real
    assert all(t["exact"] for t in sim.values())


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


# --- input as people paste it ---------------------------------------------------------------------

def test_comments_blank_lines_and_commas_are_accepted(fixture_model, tmp_path, capsys):
    text = ("# anchored rules for the llama fixture\n\n^(?:output|token_embd)\\.weight$=q8_0\n"
            "# attention and ffn\n^blk\\.[0-1]\\.(?:attn_k|attn_output|attn_q|attn_v)\\.weight$=q6_K,"
            "^blk\\.[0-1]\\.(?:ffn_gate|ffn_up)\\.weight$=q6_K\n\n^blk\\.[0-1]\\.ffn_down\\.weight$=q8_0\n")
    rc, out, err = simulate(tmp_path, fixture_model("llama"), text, capsys=capsys)
    assert rc == 0, err
    assert "S212" in err and "`#` comments and commas between rules" in err  # a note, not a finding
    assert "rules.txt:5:1" in out and "rules.txt:5:65" in out


def test_the_summary_comes_first_the_table_behind_a_flag(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("qwen35moe"), CARD_QWEN35, capsys=capsys)
    head = out.splitlines()
    assert head[0] == "7 rule(s) on qwen35moe (58 tensors), FTYPE Q4_K_M, imatrix, first match wins"
    assert head[1] == "options: --imatrix imatrix.gguf"
    rule0 = next(l for l in head if l.startswith("0  output.weight=q8_0"))
    assert rule0.split()[2:5] == ["3", "221.0", "KiB"] and rule0.endswith("rules.txt:2:18")
    assert any(l.startswith("   mixture (Q4_K_M, imatrix)") for l in head)
    assert any(l.startswith("   not quantized (source type kept)") for l in head)
    assert any(l.startswith("Q8_0") for l in head) and any(l.startswith("total       58") for l in head)
    assert any(l.startswith("predicted file: ") for l in head)
    assert "blk.0.attn_qkv.weight" not in out and "(--tensors prints every tensor)" in out
    rc, out, err = simulate(tmp_path, fixture_model("qwen35moe"), CARD_QWEN35, "--tensors", capsys=capsys)
    row = next(l for l in out.splitlines() if l.startswith("blk.0.attn_qkv.weight"))
    assert row.split()[1:4] == ["F16", "Q8_0", "rule"]


def test_json_summary_and_file_size(fixture_model, tmp_path, capsys):
    rc, out, _ = simulate(tmp_path, fixture_model("llama"), "attn_v=q8_0\n", "--ftype", "Q6_K",
                          "--format", "json", capsys=capsys)
    doc = json.loads(out)
    s = doc["summary"]
    assert doc["rules"][0]["decides"] == 2 and doc["rules"][0]["span"]["line"] == 1
    assert s["file"]["slack"] == 0 and s["file"]["bytes"] > s["tensor_bytes"] > 0
    assert sum(t["tensors"] for t in s["types"]) == len(doc["tensors"])
    assert sum(t["bytes"] for t in doc["tensors"]) == s["tensor_bytes"]
    assert {o["decided_by"] for o in s["others"]} == {"mixture (Q6_K)", "not quantized (source type kept)"}


def test_a_pasted_command_with_prune_and_options(fixture_model, tmp_path, capsys):
    model = fixture_model("llama_gqa8_17")
    text = ("./llama-quantize --imatrix imatrix.gguf \\\n  --tensor-type \\\n  attn_v=q8_0 \\\n"
            "  --output-tensor-type q6_k --prune-layers 3,4 \\\n  in.gguf out.gguf IQ4_XS 8\n")
    rc, out, err = simulate(tmp_path, model, text, "--format", "json", capsys=capsys)
    doc = json.loads(out)
    names = {t["name"] for t in doc["tensors"]}
    assert "blk.14.attn_v.weight" in names and "blk.15.attn_v.weight" not in names  # 17 - 2 blocks
    tensors = {t["name"]: t for t in doc["tensors"]}
    assert tensors["blk.3.attn_v.weight"]["rule"]["text"] == "attn_v=q8_0"
    assert tensors["output.weight"]["decided_by"] == "output-tensor-type"
    assert doc["ftype"] == "IQ4_XS" and doc["imatrix"] and doc["options"]["prune_layers"] == [3, 4]


def test_fork_types_are_named_and_their_rows_inexact(fixture_model, tmp_path, capsys):
    text = 'llama-quantize --custom-q "ffn_down=iq4_ks,attn_.*=q8_0" in.gguf out.gguf Q4_K_M\n'
    rc, out, err = simulate(tmp_path, fixture_model("llama"), text, "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert rc == 1
    assert [(r["written"], r["simulated"]) for r in doc["rules"]] == [("ffn_down=iq4_ks", False),
                                                                      ("attn_.*=q8_0", True)]
    codes = [d["code"] for d in doc["diagnostics"]]
    assert "S214" in codes and "S211" in codes
    down = {t["name"]: t for t in doc["tensors"]}["blk.0.ffn_down.weight"]
    assert not down["exact"] and "fork type iq4_ks" in down["inexact_reason"]
    assert all(t["exact"] for t in doc["tensors"] if "ffn_down" not in t["name"])


def test_unknown_options_are_findings(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("llama"), "llama-quantize --frob attn_v=q8_0 in.gguf Q8_0\n",
                            capsys=capsys)
    assert rc == 1 and "rules.txt:1:16: S213 llama-quantize does not know `--frob`" in err


def test_github_and_sarif_formats(fixture_model, tmp_path, capsys):
    model = fixture_model("llama")
    rc, out, err = simulate(tmp_path, model, TOKENS_LLAMA, "--format", "github", capsys=capsys)
    assert rc == 1
    assert "::warning file=" in out and "title=S203 rule-matches-nothing" in out
    assert err.startswith("7 rule(s) on llama")  # the summary goes to stderr
    rc, out, err = simulate(tmp_path, model, TOKENS_LLAMA, "--format", "sarif", capsys=capsys)
    log = json.loads(out)
    results = log["runs"][0]["results"]
    assert rc == 1 and {r["ruleId"] for r in results} >= {"S202", "S203", "S204", "S206"}
    loc = next(r for r in results if r["ruleId"] == "S203")["locations"][0]["physicalLocation"]
    assert loc["region"]["startLine"] == 2 and loc["artifactLocation"]["uri"].endswith("rules.txt")


def test_a_list_that_cannot_be_read_in_sarif(fixture_model, tmp_path, capsys):
    rc, out, err = simulate(tmp_path, fixture_model("llama"), "attn_q\n", "--format", "sarif", capsys=capsys)
    assert rc == 2 and json.loads(out)["runs"][0]["results"][0]["ruleId"] == "S208"


def test_posix_classes_without_a_warning(fixture_model, tmp_path, capsys, recwarn):
    rc, out, err = simulate(tmp_path, fixture_model("llama"), "blk\\.[[:digit:]]+\\.attn_v=q8_0\n",
                            "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert [t["name"] for t in doc["tensors"] if t["decided_by"] == "rule"] == \
        ["blk.0.attn_v.weight", "blk.1.attn_v.weight"]
    assert not [w for w in recwarn.list if issubclass(w.category, (FutureWarning, DeprecationWarning))]


def test_help_names_the_input_forms(capsys):
    assert cli.run(["simulate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--custom-q" in text and "--tensors" in text and "--format" in text


# --- real lists against the real llama-quantize --dry-run ---------------------------------------

# (list under tests/data/rulelists, fixture model): each source is named in the list's comment.
REAL_LISTS = [("readme-odd-even-attn.sh", "llama_gqa8_17"), ("readme-prune.sh", "llama_70b"),
              ("readme-output-embd.sh", "llama_tied"), ("readme-output-embd.sh", "llama"),
              ("readme-pure.sh", "qwen3moe"), ("readme-include-weights.sh", "qwen35moe"),
              ("ashq1-card.txt", "llama_70b")]
REAL_FTYPES = ("Q4_K_M", "IQ4_XS", "Q3_K_M", "Q5_K_M", "Q6_K")
_VALUE_OPTIONS = {"--tensor-type", "--tensor-type-file", "--output-tensor-type", "--token-embedding-type",
                  "--imatrix", "--include-weights", "--exclude-weights", "--prune-layers", "--override-kv",
                  "--max-buffer-size"}


def real_argv(path: Path, model: Path, imatrix: Path, out: Path, ftype: str) -> list[str]:
    """The list's own arguments as the shell hands them to llama-quantize (read with shlex, not with
    recipec), with the fixture's files and FTYPE in place of the card's."""
    lines = [l for l in path.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]
    tail = [str(model), str(out), ftype, "2"]
    if not any("llama-quantize" in l for l in lines):  # a token list: each token is one --tensor-type
        return [a for tok in " ".join(lines).split() for a in ("--tensor-type", tok)] + tail
    words = shlex.split("\n".join(lines).replace("\\\n", " "))
    words = words[next(i for i, w in enumerate(words) if w.endswith("llama-quantize")) + 1:]
    args, k = [], 0
    while k < len(words) and words[k].startswith("--"):
        if words[k] in _VALUE_OPTIONS:
            args += [words[k], str(imatrix) if words[k] == "--imatrix" else words[k + 1]]
            k += 2
        else:
            args.append(words[k])
            k += 1
    return args + tail


@pytest.mark.llama
@pytest.mark.parametrize("ftype", REAL_FTYPES)
@pytest.mark.parametrize("name,kind", REAL_LISTS)
def test_real_lists_agree_with_the_real_dry_run(name, kind, ftype, fixture_model, fixture_imatrix,
                                                llama_quantize, tmp_path, capsys):
    model, imatrix = fixture_model(kind), fixture_imatrix(kind)
    argv = real_argv(DATA / name, model, imatrix, tmp_path / "out.gguf", ftype)
    proc = subprocess.run([str(llama_quantize), "--dry-run", *argv], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    real = dry_run_types(proc.stdout + proc.stderr)
    rc = cli.run(["simulate", str(DATA / name), "--model", str(model), "--ftype", ftype, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    assert {t["name"]: t["type"] for t in doc["tensors"]} == real
    assert all(t["exact"] for t in doc["tensors"]) and len(real) == len(doc["tensors"])


@pytest.mark.llama
def test_predicted_size_of_a_pruned_run_is_the_real_file(fixture_model, fixture_imatrix, llama_quantize,
                                                         tmp_path, capsys):
    model, imatrix = fixture_model("llama_70b"), fixture_imatrix("llama_70b")
    out = tmp_path / "out.gguf"
    argv = real_argv(DATA / "readme-prune.sh", model, imatrix, out, "Q4_K_M")
    proc = subprocess.run([str(llama_quantize), *argv], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cli.run(["simulate", str(DATA / "readme-prune.sh"), "--model", str(model), "--format", "json"])
    f = json.loads(capsys.readouterr().out)["summary"]["file"]
    assert f["bytes"] <= out.stat().st_size <= f["bytes"] + f["slack"]
