"""Spans of AST nodes built while Lark parses: each node covers its text, keywords included,
comments and indentation excluded (the same positions as a parse tree with propagated positions)."""

import pytest

from recipec import ast
from recipec.diagnostics import DiagnosticError
from recipec.parser import parse
from recipec.source import SourceFile


def one(line: str):
    (statement,) = parse(SourceFile("s.recipe", line + "\n")).statements
    return statement


def where(span):
    return (span.line, span.col, span.end_line, span.end_col)


def test_a_bound_its_selector_and_a_filter_that_starts_with_a_keyword():
    s = one("floor  attn_q@first 2 Q4_K  # keep")
    assert where(s.span) == (1, 1, 1, 27)  # the comment is not part of the statement
    sel = s.selectors[0]
    assert where(sel.span) == (1, 8, 1, 22)  # attn_q@first 2
    assert where(sel.layers.span) == (1, 15, 1, 22)  # `first 2` from its keyword
    assert where(s.type.span) == (1, 23, 1, 27)


@pytest.mark.parametrize("line, filter_at", [
    ("floor attn_q@trunk Q4_K", (1, 14, 1, 19)),
    ("floor attn_q@3..5 Q4_K", (1, 14, 1, 18)),
    ("floor attn_q@3,5,7 Q4_K", (1, 14, 1, 19)),
    ("floor attn_q@12 Q4_K", (1, 14, 1, 16)),
    ("floor *@mtp Q8_0", (1, 9, 1, 12)),
    ("floor attn_q@every 4 from 2 Q4_K", (1, 14, 1, 28)),
])
def test_every_layer_filter_spans_its_text(line, filter_at):
    assert where(one(line).selectors[0].layers.span) == filter_at


def test_depth_filters_and_statements_without_kept_tokens():
    d = one("depth   last 5 x1.5")
    assert where(d.span) == (1, 1, 1, 20)
    assert where(d.layers.span) == (1, 9, 1, 15)
    assert where(one("  tie auto").span) == (1, 3, 1, 11)  # indentation is not part of it
    assert where(one("mtp optimise").span) == (1, 1, 1, 13)
    assert where(one("mtp drop   # no head").span) == (1, 1, 1, 9)


def test_spans_count_lines_and_crlf():
    r = parse(SourceFile("s.recipe", 'recipe "x"\r\n\r\n# note\nbudget fit 24 GiB ctx 8192 kv q8_0 parallel 2\n'))
    fit = r.statements[1]
    assert isinstance(fit, ast.BudgetFit)
    assert where(fit.span) == (4, 1, 4, 46)
    assert where(fit.parallel.span) == (4, 45, 4, 46)


def test_a_syntax_error_later_in_the_file_wins_over_a_statement_the_transformer_rejects():
    text = 'recipe "x"\nfloor attn_q@first 2\nladder Q4_K @@\n'
    with pytest.raises(DiagnosticError) as exc:
        parse(SourceFile("s.recipe", text))
    assert exc.value.diagnostics[0].span.line == 3
    with pytest.raises(DiagnosticError) as exc:
        parse(SourceFile("s.recipe", 'recipe "x"\nfloor attn_q@first 2\n'))
    d = exc.value.diagnostics[0]
    assert (d.code, where(d.span)) == ("P001", (2, 21, 2, 21))
    assert "expected a type name" in d.message
