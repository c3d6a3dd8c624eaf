"""The golden corpus of bad recipes: each gives exactly its expected diagnostics (with positions)."""

import os
from pathlib import Path

import pytest

from recipec.checks import REGISTRY, lint
from recipec.diagnostics import CODES
from recipec.recipe import load

CASES = Path(__file__).parent / "cases"
LINT = sorted((CASES / "lint").glob("*.recipe"))


@pytest.fixture
def in_cases():
    cwd = os.getcwd()
    os.chdir(CASES)
    yield
    os.chdir(cwd)


@pytest.mark.parametrize("path", LINT, ids=lambda p: p.stem)
def test_lint_case(path, in_cases):
    expected = path.with_suffix(".diag.txt").read_text()
    diags = lint(load(str(path.relative_to(CASES))), expect_imatrix=False)
    assert "".join(d.headline() + "\n" for d in diags) == expected
    assert expected, "a bad recipe must give at least one diagnostic"


def test_corpus_is_large_and_covers_every_language_code():
    assert len(LINT) >= 40
    seen = set()
    for p in LINT:
        for line in p.with_suffix(".diag.txt").read_text().splitlines():
            seen.add(line.split(": ", 1)[1].split(" ", 1)[0])
    # P009 (an unreadable file) cannot be a file of the corpus: tests/test_cli.py covers it
    language = ({c for c in CODES if c[0] in "PL"} | {"E403"}) - {"P009"}
    assert language <= seen, sorted(language - seen)


def test_every_check_has_code_name_and_documented_examples():
    for rule in REGISTRY:
        assert rule.CODE in CODES and CODES[rule.CODE].name == rule.NAME
        assert "Bad" in rule.__doc__ and "Good" in rule.__doc__
        assert callable(rule.check)


def test_good_examples_in_docstrings_are_clean(tmp_path):
    # each check's "Good" snippet, made a recipe, does not trigger that check
    for rule in REGISTRY:
        good = rule.__doc__.split("Good", 1)[1].split("\n", 1)[1]
        lines = [ln.strip() for ln in good.splitlines() if ln.strip()]
        path = tmp_path / f"{rule.CODE}.recipe"
        path.write_text('recipe "good"\n' + "\n".join(lines) + "\n")
        codes = {d.code for d in lint(load(str(path)), expect_imatrix=True)}
        assert rule.CODE not in codes, (rule.CODE, codes)
