"""recipec.rulelist: rule lists and pasted llama-quantize commands, read as people paste them."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.rulelist import is_fork_type, parse_ftype, parse_rule_list
from recipec.source import SourceFile

DATA = Path(__file__).parent / "data" / "rulelists"


def read(text: str, path: str = "rules.txt"):
    return parse_rule_list(SourceFile(path, text))


def rules(rl) -> list[tuple[str, str]]:
    return [(r.pattern, r.type) for r in rl.rules]


def where(rl) -> list[str]:
    return [str(e.span) for e in rl.entries]


def codes(rl_or_exc) -> list[tuple[str, str]]:
    diags = rl_or_exc.diagnostics
    return [(d.code, str(d.span) if d.span else "") for d in diags]


def fail(text: str, path: str = "rules.txt") -> DiagnosticError:
    with pytest.raises(DiagnosticError) as info:
        read(text, path)
    return info.value


# ----------------------------------------------------------------------------- token lines

def test_comments_and_blank_lines_are_skipped():
    rl = read("# attention first\n\nattn_v=q8_0   # keep V high\n\n  ffn_down=Q6_K\n# end\n")
    assert rules(rl) == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert where(rl) == ["rules.txt:3:1", "rules.txt:5:3"]
    assert [d.code for d in rl.diagnostics] == ["S212"]  # --tensor-type-file would not take the comments
    assert "`#` comments" in rl.diagnostics[0].message


def test_tokens_on_one_line_and_commas():
    rl = read("attn_q=q4_k attn_k=q5_k,attn_v=q6_k\nblk\\.[0-9]{1,3}\\.ffn_up=iq4_xs,ffn_gate=q4_0\n")
    assert rules(rl) == [("attn_q", "Q4_K"), ("attn_k", "Q5_K"), ("attn_v", "Q6_K"),
                         ("blk\\.[0-9]{1,3}\\.ffn_up", "IQ4_XS"), ("ffn_gate", "Q4_0")]
    assert where(rl) == ["rules.txt:1:1", "rules.txt:1:13", "rules.txt:1:25", "rules.txt:2:1", "rules.txt:2:32"]
    assert "commas between rules" in rl.diagnostics[0].message


def test_backslashes_in_token_lines_are_regex_escapes():
    rl = read("^output\\.weight$=q8_0\n")
    assert rules(rl) == [("^output\\.weight$", "Q8_0")]


def test_quoted_tokens_lose_their_quotes_with_a_note():
    rl = read('"attn_v=q8_0"\n')
    assert rules(rl) == [("attn_v", "Q8_0")]
    assert codes(rl)[0] == ("S212", "rules.txt:1:1")
    assert where(rl) == ["rules.txt:1:2"]


@pytest.mark.parametrize("text,message,at", [
    ("attn_q\n", "`attn_q` is not PATTERN=TYPE", "rules.txt:1:1"),
    ("ok=q8_0 =q8_0\n", "no pattern", "rules.txt:1:9"),
    ("attn_q=\n", "no type", "rules.txt:1:1"),
    ("attn_q=q9_9\n", "`q9_9` is not a ggml type name", "rules.txt:1:1"),
    ("x=q8_0\n  attn_(q=q8_0\n", "not a valid regex", "rules.txt:2:8"),
    ("blk[[:digits:]]=q8_0\n", "not a character class", "rules.txt:1:5"),
])
def test_unreadable_rules_are_S208_with_positions(text, message, at):
    exc = fail(text)
    bad = [d for d in exc.diagnostics if d.code == "S208"]
    assert len(bad) == 1 and message in bad[0].message and str(bad[0].span) == at


def test_every_unreadable_rule_is_reported_not_only_the_first():
    exc = fail("a=q9_9\nb\nc=q8_0\n(=q8_0\n")
    assert [str(d.span) for d in exc.diagnostics if d.code == "S208"] == \
        ["rules.txt:1:1", "rules.txt:2:1", "rules.txt:4:1"]


def test_an_ftype_as_a_type_gets_a_hint():
    exc = fail("attn_v=q4_k_m\n")
    assert "the tensor type of its body is q4_k" in exc.diagnostics[0].hint


def test_a_lookahead_cannot_be_written_because_of_the_first_equals():
    exc = fail("attn(?=_q)=q8_0\n")
    assert "first `=`" in exc.diagnostics[0].hint


def test_dialect_findings_point_into_the_pattern():
    rl = read("x=q8_0 blk\\.\\cj=q4_0\n")
    d = next(d for d in rl.diagnostics if d.code == "S210")
    assert str(d.span) == "rules.txt:1:13" and "not a control character" in d.message


# ----------------------------------------------------------------------------- fork types and --custom-q

def test_custom_q_lists_and_fork_types():
    rl = read('./llama-quantize --custom-q "attn_.*=q8_0,ffn_down_exps=iq4_ks,blk\\.[0-9]{1,2}\\.ffn_up=iq5_k,'
              'ffn_gate=q4_K" in.gguf out.gguf IQ4_XS\n')
    assert [e.text for e in rl.entries] == ["attn_.*=q8_0", "ffn_down_exps=iq4_ks",
                                            "blk\\.[0-9]{1,2}\\.ffn_up=iq5_k", "ffn_gate=q4_K"]
    assert [e.fork_type for e in rl.entries] == [None, "iq4_ks", "iq5_k", None]
    assert rules(rl) == [("attn_.*", "Q8_0"), ("ffn_gate", "Q4_K")]
    assert where(rl)[:2] == ["rules.txt:1:30", "rules.txt:1:43"]
    assert [c for c, _ in codes(rl)] == ["S212", "S214", "S214"]
    assert rl.ftype == "IQ4_XS"


@pytest.mark.parametrize("name,fork", [("iq4_ks", True), ("IQ5_K", True), ("iq2_kt", True), ("q6_0", True),
                                       ("q4_k_r4", True), ("iq4_xs_r8", True), ("iq4_xs", False),
                                       ("q4_K", False), ("nvfp4", False), ("q8_0", False)])
def test_fork_types(name, fork):
    assert is_fork_type(name) is fork


def test_fork_type_flags_and_ftype():
    rl = read("llama-quantize --output-tensor-type iq6_k --attn-q-type q8_0 in.gguf IQ4_KS\n")
    assert [c for c, _ in codes(rl)] == ["S214", "S213", "S214"]
    assert rl.output_tensor_type is None and rl.ftype is None


# ----------------------------------------------------------------------------- pasted commands

CARD = """\
# from a model card, pasted whole
CUDA_VISIBLE_DEVICES=0 ./build/bin/llama-quantize --imatrix imatrix.gguf \\
  --tensor-type \\
  attn_v=q8_0 \\
  --tensor-type "blk\\.(0|1)\\.ffn_down=q6_K" --tensor-type 'token_embd=q8_0' \\
  --tensor-type blk\\.1\\.attn_q=q5_k \\
  --output-tensor-type Q8_0 --leave-output-tensor --pure \\
  --prune-layers 7,3 --prune-layers 3 \\
  model-F16.gguf model-Q4_K_M.gguf Q4_K 8 2>&1 | tee quantize.log
"""


def test_a_pasted_multi_line_command_loses_no_rule():
    rl = read(CARD, "card.sh")
    # the value of `--tensor-type \` on the next line was lost before; unquoted \. is the shell's
    assert rules(rl) == [("attn_v", "Q8_0"), ("blk\\.(0|1)\\.ffn_down", "Q6_K"), ("token_embd", "Q8_0"),
                         ("blk.1.attn_q", "Q5_K")]
    assert where(rl) == ["card.sh:4:3", "card.sh:5:18", "card.sh:5:60", "card.sh:6:17"]
    assert (rl.ftype, rl.ftype_written, str(rl.ftype_span)) == ("Q4_K_M", "Q4_K", "card.sh:9:36")
    assert rl.imatrix == "imatrix.gguf" and rl.output_tensor_type == "Q8_0"
    assert rl.leave_output and rl.pure and rl.prune_layers == (3, 7)
    assert [text for text, _ in rl.options] == ["--imatrix imatrix.gguf", "--output-tensor-type Q8_0",
                                                "--leave-output-tensor", "--pure", "--prune-layers 7,3",
                                                "--prune-layers 3"]
    assert sorted(codes(rl)) == [("S212", "card.sh:2:1"), ("S212", "card.sh:9:44")]
    messages = " ".join(d.message for d in rl.diagnostics)
    assert "ignored before the command: CUDA_VISIBLE_DEVICES=0" in messages and "redirections, pipes" in messages


def test_options_without_the_binary_one_per_line():
    rl = read("--tensor-type attn_v=q8_0\n# ffn\n--tensor-type ffn_down=q6_k\n--token-embedding-type q4_k\n")
    assert rules(rl) == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K")]
    assert rl.token_embedding_type == "Q4_K" and rl.ftype is None


def test_unknown_and_misplaced_options_are_named():
    rl = read("llama-quantize --tensor-typ attn_v=q8_0 --frobnicate --tensor-type=ffn_up=q5_k in.gguf "
              "--pure out.gguf q8_0\n")
    found = [(d.code, str(d.span), d.message) for d in rl.diagnostics]
    assert found[0][:2] == ("S213", "rules.txt:1:16") and "`--tensor-typ`" in found[0][2]
    assert rl.diagnostics[0].hint == "did you mean --tensor-type?"
    assert found[1][:2] == ("S213", "rules.txt:1:41") and "`--frobnicate`" in found[1][2]
    assert found[2][:2] == ("S213", "rules.txt:1:54") and "`--tensor-type=…`" in found[2][2]
    assert found[3][:2] == ("S213", "rules.txt:1:88") and "after the positional argument" in found[3][2]
    assert rules(rl) == [("attn_v", "Q8_0"), ("ffn_up", "Q5_K")]  # kept: never lost
    assert rl.pure and rl.ftype == "Q8_0"


def test_a_bare_rule_inside_a_command_is_kept_and_flagged():
    rl = read("llama-quantize --tensor-type a=q8_0 b=q6_k in.gguf out.gguf Q6_K\n")
    assert rules(rl) == [("a", "Q8_0"), ("b", "Q6_K")]
    assert codes(rl) == [("S213", "rules.txt:1:37")] and "without `--tensor-type`" in rl.diagnostics[0].message


def test_options_that_change_no_type_are_named():
    rl = read("llama-quantize --dry-run --keep-split --allow-requantize --override-kv qwen3moe.x=int:1 "
              "--include-weights attn_v --max-buffer-size 512 in.gguf Q5_K_M\n")
    assert [c for c, _ in codes(rl)] == ["S212"] * 6
    assert rl.ftype == "Q5_K_M" and rl.options == ()


def test_tensor_type_file_relative_to_the_list(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "types.txt").write_text("attn_v=q8_0\n# a comment llama-quantize fails on\n"
                                                "ffn_down=q6_k,ffn_up=q5_k\n")
    list_path = tmp_path / "cmd.sh"
    rl = parse_rule_list(SourceFile(str(list_path), "llama-quantize --tensor-type-file sub/types.txt "
                                    "--tensor-type attn_q=q4_k in.gguf Q4_K_M\n"))
    assert rules(rl) == [("attn_v", "Q8_0"), ("ffn_down", "Q6_K"), ("ffn_up", "Q5_K"), ("attn_q", "Q4_K")]
    f = str(tmp_path / "sub" / "types.txt")
    assert where(rl)[:3] == [f"{f}:1:1", f"{f}:3:1", f"{f}:3:15"]
    assert codes(rl) == [("S213", f"{f}:2:1"), ("S213", f"{f}:3:1")]


def test_unreadable_tensor_type_file(tmp_path):
    exc = fail("llama-quantize --tensor-type-file missing.txt in.gguf Q4_K_M\n", str(tmp_path / "c.sh"))
    assert exc.diagnostics[0].code == "Q203" and str(exc.diagnostics[0].span) == f"{tmp_path / 'c.sh'}:1:35"


def test_two_commands_are_refused():
    exc = fail("llama-quantize in.gguf Q4_K_M\nllama-quantize in.gguf Q6_K\n")
    assert exc.diagnostics[0].code == "S208" and "2 llama-quantize commands" in exc.diagnostics[0].message


def test_prune_layers_values():
    assert read("--prune-layers 20,21,22\n").prune_layers == (20, 21, 22)
    rl = read("--prune-layers 3,x\n")
    assert rl.prune_layers == () and codes(rl) == [("S213", "rules.txt:1:16")]


@pytest.mark.parametrize("text,ftype", [("q4_k_m", "Q4_K_M"), ("Q4_K", "Q4_K_M"), ("q3_k", "Q3_K_M"),
                                        ("15", "Q4_K_M"), ("12", "Q3_K_M"), ("0", "F32"), ("copy", "COPY"),
                                        ("iq4_xs", "IQ4_XS"), ("q4_k_x", None), ("99", None), ("out.gguf", None)])
def test_ftype_as_llama_quantize_reads_it(text, ftype):
    assert parse_ftype(text) == ftype


def test_output_path_versus_ftype():
    assert read("llama-quantize in.gguf Q8_0\n").ftype == "Q8_0"
    assert read("llama-quantize in.gguf out.gguf q6_k 4\n").ftype == "Q6_K"
    rl = read("llama-quantize in.gguf out.gguf\n")
    assert rl.ftype is None and "missing ftype" in rl.diagnostics[0].message
    rl = read("llama-quantize in.gguf out.gguf q6_k four extra\n")
    assert [c for c, _ in codes(rl)] == ["S213", "S212"]


def test_shell_expansions_are_named():
    rl = read('llama-quantize --imatrix "$IMATRIX" --tensor-type "attn_v$=q8_0" in.gguf Q4_K_M\n')
    assert [c for c, _ in codes(rl)] == ["S212"] and "$IMATRIX" in rl.diagnostics[0].message
    assert rules(rl) == [("attn_v$", "Q8_0")]


def test_a_continued_double_quoted_value():
    rl = read('llama-quantize --tensor-type "attn_v\\\n=q8_0" in.gguf Q4_K_M\n')
    assert rules(rl) == [("attn_v", "Q8_0")]


# ----------------------------------------------------------------------------- the committed real lists

def test_the_llama_cpp_readme_lists():
    rl = parse_rule_list(SourceFile.read(DATA / "readme-odd-even-attn.sh"))
    assert rules(rl) == [("\\.(\\d*[13579])\\.attn_k", "Q5_K"), ("\\.(\\d*[02468])\\.attn_q", "Q3_K")]
    assert rl.ftype == "Q4_K_M" and rl.imatrix == "imatrix.gguf" and rl.diagnostics == ()
    rl = parse_rule_list(SourceFile.read(DATA / "readme-prune.sh"))
    assert rl.prune_layers == (20, 21, 22) and rules(rl) == [("attn_v", "Q5_K"), ("ffn_down", "Q5_K")]
    rl = parse_rule_list(SourceFile.read(DATA / "readme-output-embd.sh"))
    assert (rl.output_tensor_type, rl.token_embedding_type) == ("Q5_K", "Q3_K")
    assert [c for c, _ in codes(rl)] == ["S212"]  # --keep-split
    rl = parse_rule_list(SourceFile.read(DATA / "readme-pure.sh"))
    assert rl.pure and rl.leave_output and rl.imatrix is None


def test_the_ashq1_card_list():
    rl = parse_rule_list(SourceFile.read(DATA / "ashq1-card.txt"))
    assert [e.text for e in rl.entries] == ["(blk|BLK)\\.(3|7|11|15|19|23|27|31)\\.attn_k=Q8_0",
                                            "(blk|BLK)\\.((?:22|23|24|25|26))\\.ffn_gate=Q6_K",
                                            ".*output_norm.*=F16"]
    assert [e.span.line for e in rl.entries] == [4, 5, 6]


def test_the_target_bpw_card_command():
    rl = parse_rule_list(SourceFile.read(DATA / "target-bpw-card.sh"))
    assert rl.ftype == "Q3_K_M" and rl.ftype_written == "12"  # llama_ftype 12, read as a number
    assert rl.imatrix == "imatrix.gguf" and rl.entries == ()
    assert [d.message.split("`")[1] for d in rl.diagnostics] == ["--target-bpw", "--state-file"]


# ----------------------------------------------------------------------------- pasted from elsewhere

def test_a_markdown_fence_around_the_command_is_skipped():
    rl = read("```bash\n./llama-quantize \\\n  --tensor-type attn_v=q8_0 \\\n  in.gguf out.gguf Q4_K_M\n```\n")
    assert rules(rl) == [("attn_v", "Q8_0")] and rl.ftype == "Q4_K_M"
    assert [(c, s) for c, s in codes(rl) if c != "S212"] == []
    assert sum("markdown code fence" in d.message for d in rl.diagnostics) == 2


@pytest.mark.parametrize("cont", ["`", "^"])
def test_a_windows_command_keeps_its_backslashes(cont):
    text = (f".\\llama-quantize.exe {cont}\r\n  --tensor-type \"blk\\.0\\.attn_v=q8_0\" {cont}\r\n"
            f"  --imatrix C:\\models\\imatrix.gguf {cont}\r\n  C:\\models\\in.gguf out.gguf Q6_K 8\r\n")
    rl = read(text, "quantize.ps1")
    assert rules(rl) == [("blk\\.0\\.attn_v", "Q8_0")]
    assert rl.imatrix == "C:\\models\\imatrix.gguf" and rl.ftype == "Q6_K"
    assert [c for c, _ in codes(rl)] == ["S212"]  # says it read a Windows command
