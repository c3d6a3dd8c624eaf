"""The formatter: canonical layout, comments kept, equivalent and stable (golden cases too)."""

from pathlib import Path

import pytest

from recipec.formatter import format_recipe, format_source
from recipec.parser import parse
from recipec.source import SourceFile

CASES = Path(__file__).parent / "cases" / "format"
EXAMPLES = Path(__file__).parent.parent / "examples"


def test_design_example_is_stable_and_means_the_same():
    src = SourceFile.read(EXAMPLES / "qwen35moe-iq4xs-mtp.recipe")
    once = format_source(src)
    twice = format_source(SourceFile("x", once))
    assert once == twice
    assert parse(SourceFile("x", once)).statements == parse(src).statements


def test_layout_comments_and_blank_lines():
    text = '\n\n# head\nrecipe "x"   # name\n\n\n\nfloor attn_q   Q5_K\nbudget fit 24GiB ctx 8 kv f16\n\n'
    out = format_source(SourceFile("x", text))
    assert out == ('# head\nrecipe "x"  # name\n\nfloor   attn_q Q5_K\n'
                   "budget  fit 24 GiB ctx 8 kv f16\n")


@pytest.mark.parametrize("path", sorted(CASES.glob("*.recipe")) and
                         [p for p in sorted(CASES.glob("*.recipe")) if not p.name.endswith(".out.recipe")],
                         ids=lambda p: p.stem)
def test_golden_format_cases(path):
    expected = path.with_name(path.stem + ".out.recipe").read_text()
    assert format_source(SourceFile.read(path)) == expected


def test_format_recipe_of_empty_file():
    assert format_recipe(parse(SourceFile("x", ""))) == ""
