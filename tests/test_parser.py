"""The grammar and parser: every form of DESIGN.md's language table, positions, strictness."""

import pytest

from recipec import ast
from recipec.diagnostics import DiagnosticError
from recipec.parser import grammar_text, lark_parser, parse
from recipec.source import SourceFile


def p(text):
    return parse(SourceFile("t.recipe", text))


def test_grammar_builds_strict():
    # strict=True fails on any shift/reduce conflict or terminal collision
    lark_parser(strict=True)


FORMS = [
    ('recipe "NAME"', ast.RecipeName("NAME")),
    ('extends "../base.recipe"', ast.Extends("../base.recipe")),
    ("arch qwen35moe llama", ast.Arch((ast.Word("qwen35moe"), ast.Word("llama")))),
    ("base IQ4_XS", ast.Base(ast.Word("IQ4_XS"))),
    ("ladder Q3_K IQ4_XS q4_k", ast.Ladder((ast.Word("Q3_K"), ast.Word("IQ4_XS"), ast.Word("q4_k")))),
    ("budget 19.4 GiB", ast.BudgetAmount(ast.Number("19.4"), ast.Word("GiB"))),
    ("budget 20 GB", ast.BudgetAmount(ast.Number("20"), ast.Word("GB"))),
    ("budget 4.5 bpw", ast.BudgetAmount(ast.Number("4.5"), ast.Word("bpw"))),
    ("budget fit 24 GiB ctx 32768 kv q8_0",
     ast.BudgetFit(ast.Number("24"), ast.Word("GiB"), ast.Number("32768"), ast.Word("q8_0"))),
    ("budget fit 24 GiB ctx 32768 kv q8_0 parallel 2 overhead 1 GiB",
     ast.BudgetFit(ast.Number("24"), ast.Word("GiB"), ast.Number("32768"), ast.Word("q8_0"),
                   ast.Number("2"), ast.Number("1"), ast.Word("GiB"))),
    ("floor ffn_*_exps IQ4_XS", ast.Bound("floor", (ast.Selector("ffn_*_exps"),), ast.Word("IQ4_XS"))),
    ("ceiling attn_* ssm_out Q6_K",
     ast.Bound("ceiling", (ast.Selector("attn_*"), ast.Selector("ssm_out")), ast.Word("Q6_K"))),
    ("pin token_embd Q8_0", ast.Bound("pin", (ast.Selector("token_embd"),), ast.Word("Q8_0"))),
    ("pin nextn.eh_proj Q8_0", ast.Bound("pin", (ast.Selector("nextn.eh_proj"),), ast.Word("Q8_0"))),
    ("pin ffn_down_exps@first 2 Q6_K",
     ast.Bound("pin", (ast.Selector("ffn_down_exps", ast.LayerFilter("first", 2)),), ast.Word("Q6_K"))),
    ("pin ffn_down@last 4 Q6_K",
     ast.Bound("pin", (ast.Selector("ffn_down", ast.LayerFilter("last", 4)),), ast.Word("Q6_K"))),
    ("pin attn_v@0..3 Q6_K",
     ast.Bound("pin", (ast.Selector("attn_v", ast.LayerFilter("range", 0, 3)),), ast.Word("Q6_K"))),
    ("pin attn_v@7 Q6_K",
     ast.Bound("pin", (ast.Selector("attn_v", ast.LayerFilter("one", 7)),), ast.Word("Q6_K"))),
    ("pin *@mtp Q6_K", ast.Bound("pin", (ast.Selector("*", ast.LayerFilter("mtp")),), ast.Word("Q6_K"))),
    ("tie attn_q attn_k attn_v", ast.Tie((ast.Word("attn_q"), ast.Word("attn_k"), ast.Word("attn_v")))),
    ("tie auto", ast.Tie((), True)),
    ("depth first 1 x2.0", ast.Depth(ast.LayerFilter("first", 1), "2.0")),
    ("depth last 5 x1.5", ast.Depth(ast.LayerFilter("last", 5), "1.5")),
    ("depth 10..19 x1.2", ast.Depth(ast.LayerFilter("range", 10, 19), "1.2")),
    ("depth mtp x1", ast.Depth(ast.LayerFilter("mtp"), "1")),
    ("mtp keep Q6_K", ast.Mtp("keep", ast.Word("Q6_K"))),
    ("mtp keep Q6_K outside budget", ast.Mtp("keep", ast.Word("Q6_K"), True)),
    ("mtp optimise", ast.Mtp("optimise")),
    ("mtp optimise floor Q5_K", ast.Mtp("optimise", ast.Word("Q5_K"))),
    ("mtp drop", ast.Mtp("drop")),
    ("solver optimal", ast.Solver("optimal")),
    ("solver greedy", ast.Solver("greedy")),
    ("target cuda-blackwell", ast.Target(ast.Word("cuda-blackwell"))),
    ("serve ctx 32768", ast.Serve("ctx", "32768")),
    ("serve flash-attn on", ast.Serve("flash-attn", "on")),
    ("serve flash-attn auto", ast.Serve("flash-attn", "auto")),
    ("serve cache-type q8_0", ast.Serve("cache-type", "q8_0")),
    ("serve spec mtp 2", ast.Serve("spec", "2")),
    ('serve mmproj "mmproj F16.gguf"', ast.Serve("mmproj", "mmproj F16.gguf")),
    ("serve ngl all", ast.Serve("ngl", "all")),
    ("serve ngl 99", ast.Serve("ngl", "99")),
]


@pytest.mark.parametrize("text,node", FORMS, ids=[f[0] for f in FORMS])
def test_every_form_parses(text, node):
    tree = p(text + "\n")
    assert tree.statements == (node,)


def test_spans_are_one_based_and_point_at_words():
    tree = p('recipe "x"\n\n  pin ffn_down_exps@first 2 Q6_K  # why\n')
    stmt = tree.statements[1]
    assert (stmt.span.line, stmt.span.col) == (3, 3)
    assert (stmt.selectors[0].span.line, stmt.selectors[0].span.col) == (3, 7)
    assert (stmt.type.span.line, stmt.type.span.col) == (3, 29)
    assert str(stmt.type.span) == "t.recipe:3:29"
    assert tree.comments[0].trailing and tree.comments[0].text == "# why"
    assert tree.blank_lines == (2,)


def test_no_trailing_newline_and_crlf():
    assert p('recipe "x"').statements == (ast.RecipeName("x"),)
    assert p('recipe "x"\r\nbase Q4_K_M\r\n').statements[1] == ast.Base(ast.Word("Q4_K_M"))


@pytest.mark.parametrize("text,code,line,col,words", [
    ("flor attn_* Q5_K\n", "P002", 1, 1, "did you mean `floor`"),
    ("floors attn_* Q5_K\n", "P002", 1, 1, "did you mean `floor`"),
    ('recipe "x"\npin output\n', "P001", 2, 11, "type name such as Q4_K"),
    ("budget 19.4\n", "P001", 1, 12, "unit such as GiB"),
    ("serve flash_attn on\n", "P001", 1, 7, "did you mean `flash-attn`"),
    ("solver optimall\n", "P001", 1, 8, "did you mean `optimal`"),
    ("base\n", "P001", 1, 5, "FTYPE such as Q4_K_M"),
])
def test_syntax_errors_are_diagnostics_with_positions(text, code, line, col, words):
    with pytest.raises(DiagnosticError) as info:
        p(text)
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == (code, line, col)
    assert words in d.message + " " + (d.hint or "")


def test_nul_byte_is_a_diagnostic():
    with pytest.raises(DiagnosticError) as info:
        p('recipe "x"\n\x00\n')
    assert info.value.diagnostics[0].code == "P001"


def test_grammar_is_a_file_with_banners():
    text = grammar_text()
    assert "// ===" in text and "start:" in text
