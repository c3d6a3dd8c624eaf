"""Rule lists kept in shell variables, as model cards write them (a multi-line `custom="…"`, the
`custom=$(echo "$custom" | grep -v '^#' | sed …)` that joins it, then `--custom-q "$custom"`)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.rulelist import parse_rule_list
from recipec.source import SourceFile
from tests.kit_helpers import recipec_cli
from tests.test_quantize_e2e import dry_run_types

CARD = r'''#!/usr/bin/env bash
custom="
# Attention
blk\..*\.attn_k_b\.weight=q8_0
blk\..*\.attn_q_b\.weight=q8_0

# Dense layers
blk\..*\.ffn_down\.weight=q6_K
blk\..*\.ffn_(gate|up)\.weight=q5_K

# Routed experts
blk\.[1-2]\.ffn_down_exps\.weight=iq4_xs
token_embd\.weight=q8_0,output\.weight=q8_0
"
custom=$(
  echo "$custom" | grep -v '^#' | \
  sed -Ez 's:\n+:,:g;s:,$::;s:^,::'
)
MODEL=/models/DeepSeek-BF16.gguf
./build/bin/llama-quantize \
    --custom-q "$custom" \
    --imatrix /models/imatrix.dat \
    "$MODEL" \
    /models/DeepSeek-Q4_K_M.gguf \
    Q4_K_M \
    24
'''

WANT = [("blk\\..*\\.attn_k_b\\.weight", "Q8_0"), ("blk\\..*\\.attn_q_b\\.weight", "Q8_0"),
        ("blk\\..*\\.ffn_down\\.weight", "Q6_K"), ("blk\\..*\\.ffn_(gate|up)\\.weight", "Q5_K"),
        ("blk\\.[1-2]\\.ffn_down_exps\\.weight", "IQ4_XS"), ("token_embd\\.weight", "Q8_0"),
        ("output\\.weight", "Q8_0")]


def read(text: str, path: str = "card.sh"):
    return parse_rule_list(SourceFile(path, text))


def test_a_model_card_script_reads_the_rules_of_its_variable():
    rl = read(CARD)
    assert [(r.pattern, r.type) for r in rl.rules] == WANT
    # each rule where it was written, in the assignment's lines
    assert [str(e.span) for e in rl.entries] == ["card.sh:4:1", "card.sh:5:1", "card.sh:8:1", "card.sh:9:1",
                                                "card.sh:12:1", "card.sh:13:1", "card.sh:13:25"]
    assert rl.ftype == "Q4_K_M" and rl.imatrix == "/models/imatrix.dat"
    notes = [(d.code, d.span.line) for d in rl.diagnostics if d.span]
    assert ("S212", 15) in notes  # the `$(…)` is not run, and says so
    assert not any("holds a shell expansion" in d.message for d in rl.diagnostics)


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("grep") and shutil.which("sed")),
                    reason="needs bash, grep and sed")
def test_the_rules_are_what_the_real_pipeline_hands_the_quantizer():
    # run the card's own assignments in bash and print what --custom-q would receive
    head = CARD.split("MODEL=", 1)[0]
    out = subprocess.run(["bash", "-c", head + 'printf %s "$custom"'], capture_output=True, text=True, check=True)
    items = [item.partition("=") for item in out.stdout.split(",")]
    assert [(p, t.upper()) for p, _, t in items] == [(p, t) for p, t in WANT]


def test_without_the_pipeline_the_lines_are_still_read_and_the_new_lines_named():
    text = ('rules="\nattn_v=q8_0\n# later\nffn_down=q6_k\n"\n'
            'llama-quantize --custom-q "$rules" in.gguf out.gguf Q4_K_M\n')
    rl = read(text)
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert any("new lines" in d.message for d in rl.diagnostics)


def test_tensor_type_from_variables_and_unquoted_word_splitting():
    text = ("V='attn_v=q8_0'\nARGS=\"--tensor-type ffn_down=q6_k --pure\"\n"
            "llama-quantize --tensor-type \"$V\" $ARGS in.gguf out.gguf Q4_K_M\n")
    rl = read(text)
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert rl.pure
    assert str(rl.entries[0].span) == "card.sh:1:4"  # inside the assignment


def test_an_unknown_value_is_named_and_kept_as_written():
    text = 'custom=$(cat rules.txt)\nllama-quantize --tensor-type "$custom" in.gguf out.gguf Q4_K_M\n'
    with pytest.raises(DiagnosticError) as info:  # `$custom` is not PATTERN=TYPE: the list cannot be read
        read(text)
    messages = [d.message for d in info.value.diagnostics]
    assert any("recipec does not run: its value is unknown" in m for m in messages)
    assert any(d.code == "S208" for d in info.value.diagnostics)


def test_a_variable_no_command_uses_is_read_as_a_list():
    rl = read('custom="\nattn_v=q8_0\nffn_down=q6_k\n"\n')
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert any("not passed to a llama-quantize command" in d.message for d in rl.diagnostics)


def test_an_environment_prefix_is_still_a_command():
    rl = read("CUDA_VISIBLE_DEVICES=0 ./llama-quantize --tensor-type attn_v=q8_0 in.gguf out.gguf Q6_K\n")
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0")] and rl.ftype == "Q6_K"


def test_simulate_and_import_take_the_card_script(tmp_path, fixture_model):
    script = tmp_path / "card.sh"
    script.write_text(CARD)
    model = fixture_model("deepseek2")
    rc, out, err = recipec_cli("simulate", str(script), "--model", str(model))
    assert "7 rule(s)" in out and "card.sh:4:1" in out
    # and the hazard in it: `output\.weight` also captures every attn_output (exit 1, a finding)
    assert rc == 1 and "card.sh:13:25: S201" in err and "blk.0.attn_output.weight" in err
    rc, out, _ = recipec_cli("simulate", str(script), "--model", str(model), "--format", "json")
    simulated = {t["name"]: t["type"] for t in json.loads(out)["tensors"]}
    recipe = tmp_path / "card.recipe"
    rc, _, err = recipec_cli("import", str(script), "--model", str(model), "-o", str(recipe))
    assert rc == 0, err
    # the imported recipe compiles to the very types the simulation gives the script's rules
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(model), "-o", str(tmp_path / "kit"))
    assert rc == 0, err
    plan = json.loads((tmp_path / "kit" / "plan.lock.json").read_text())
    assert {t["name"]: t["type"] for t in plan["tensors"]} == simulated
    assert sum(t == "Q8_0" for t in simulated.values()) > 6  # the rules took effect


def test_a_plain_name_equals_word_is_a_rule_unless_the_file_expands_it():
    rl = read('MODEL=/models/x.gguf\nattn_v=q8_0\nllama-quantize --tensor-type ffn_down=q6_k "$MODEL" out.gguf Q6_K\n')
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert not any(d.code == "S212" and "expansion" in d.message for d in rl.diagnostics)
    # a typo in a type stays a finding, not a silent variable
    with pytest.raises(DiagnosticError) as info:
        read("attn_v=q9_k\n")
    assert [d.code for d in info.value.diagnostics] == ["S208"]


MAINLINE = r'''#!/usr/bin/env bash
set -euo pipefail
# the rules in variables, as a card's script keeps them; run by bash in the test, read by recipec
attn="blk\.[0-9]*\.attn_v\.weight=q8_0"
down='ffn_down=q6_k'
EXTRA="--tensor-type blk\.1\.ffn_up=q5_k --output-tensor-type q8_0"
MODEL=in.gguf
llama-quantize \
    --tensor-type "$attn" --tensor-type "${down}" $EXTRA \
    "$MODEL" out.gguf Q4_K_M 2
'''


ARRAYS = r'''#!/usr/bin/env bash
set -e
ARGS=(
  # attention and FFN outputs high
  --tensor-type "blk\.[0-9]*\.attn_v\.weight=q8_0"   # V
  --tensor-type 'ffn_down=q6_k'
)
ARGS+=(--output-tensor-type q8_0)
declare -a MORE=(--tensor-type blk\\.1\\.ffn_up=q5_k)
llama-quantize "${ARGS[@]}" "${MORE[@]}" in.gguf out.gguf Q4_K_M 2
'''


@pytest.mark.llama
@pytest.mark.parametrize("kind", ["llama", "llama_gqa8_17"])
@pytest.mark.parametrize("text", [MAINLINE, ARRAYS], ids=["strings", "arrays"])
def test_variables_agree_with_the_real_dry_run(kind, text, fixture_model, llama_quantize, tmp_path):
    model = fixture_model(kind)
    script = tmp_path / "card.sh"
    script.write_text(text)
    # bash runs the script itself; llama-quantize is a shim adding --dry-run, the input the fixture
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "llama-quantize"
    shim.write_text(f'#!/bin/sh\nexec "{llama_quantize}" --dry-run "$@"\n')
    shim.chmod(0o755)
    (tmp_path / "in.gguf").symlink_to(model)
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "GGML_NO_BACKTRACE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    real = dry_run_types(proc.stdout + proc.stderr)
    rc, out, err = recipec_cli("simulate", str(script), "--model", str(model), "--format", "json")
    assert rc in (0, 1), err
    doc = json.loads(out)
    assert {t["name"]: t["type"] for t in doc["tensors"]} == real
    assert len(real) == len(doc["tensors"])
    by = {t["name"]: t["decided_by"] for t in doc["tensors"]}
    assert by["output.weight"] != "mixture" and by["blk.1.ffn_up.weight"] != "mixture", by
    assert sum(v.startswith("rule") for v in by.values()) >= 3, by  # every variable's rule took effect


def test_the_rest_of_a_script_is_named_not_read_as_rules():
    rl = read("#!/bin/bash\nset -euo pipefail\nexport CUDA_VISIBLE_DEVICES=0\ncd /models\n"
              "OUT_DIR=/models/out\nllama-quantize --tensor-type attn_v=q8_0 in.gguf out.gguf Q6_K\n")
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0")]
    ignored = [d.span.line for d in rl.diagnostics if d.message.startswith("ignored: `")]
    assert ignored == [2, 4]  # `set …` and `cd …`; the assignments are variables


def test_a_token_list_that_mentions_the_tool_in_a_comment_is_still_a_list():
    with pytest.raises(DiagnosticError) as info:
        read("# for llama-quantize\nattn_v=q8_0\nstray\n")
    assert [d.code for d in info.value.diagnostics if d.code == "S208"] == ["S208"]


def test_a_loop_that_builds_the_arguments_is_one_clear_error():
    text = ('rules="attn_v=q8_0 ffn_down=q6_k"\nargs=()\nfor r in $rules; do args+=(--tensor-type "$r"); done\n'
            'llama-quantize "${args[@]}" in.gguf out.gguf Q4_K_M\n')
    with pytest.raises(DiagnosticError) as info:
        read(text)
    bad = [d for d in info.value.diagnostics if d.code == "S208"]
    assert [(d.span.line, d.span.col) for d in bad] == [(3, 1)] and "is a shell loop" in bad[0].message


def test_arrays_give_their_words_where_they_were_written():
    text = ('ARGS=(\n  # high\n  --tensor-type "attn_v=q8_0"  # V\n  --pure\n)\nARGS+=(--tensor-type ffn_down=q6_k)\n'
            'llama-quantize "${ARGS[@]}" in.gguf out.gguf Q4_K_M\n')
    rl = read(text)
    assert [(r.pattern, r.type) for r in rl.rules] == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert [str(e.span) for e in rl.entries] == ["card.sh:3:18", "card.sh:6:22"]
    assert rl.pure and rl.ftype == "Q4_K_M"
    assert not [d for d in rl.diagnostics if d.code != "S212" or "expansion" in d.message]
