"""Differential test: C++ std::regex (ECMAScript) regex_search, as llama-quantize runs it, vs the Python simulation."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

import tests.test_rules_property as prop
from tests.ci import in_ci
from recipec.llamacpp import Rule, first_matching
from recipec.modelinfo import split_name

SOURCE = Path(__file__).parent / "cpp" / "regex_search.cpp"
# Patterns the way public tools and model cards write them: unanchored, prefixes, escapes
# that lower-casing changes, classes, alternations.
NAIVE = (r"output", r"output\.weight", r"attn_k", r"ffn_gate", r"ssm_a", r"blk\.1", r"blk\.1\.",
         r"exps", r"ffn_(up|gate)_exps", r"\.(attn_q|attn_k)\.", r"blk\.[0-9]\.", r"BLK\.\D",
         r"\W", r"token_EMBD", r"^blk\.1[0-9]\.", r"nextn\.", r"attn_.*\.weight", r"[A-Z]",
         r"ffn_down(_exps)?\.weight$", r"^output", r"(^|\.)output\.", r"blk\.(2|3)\d\.")


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        if in_ci():
            pytest.fail("no C++ compiler (g++) for the differential test", pytrace=False)
        pytest.skip("no C++ compiler (g++)")
    return cxx


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Path:
    """The compiled C++ matcher, cached by source hash."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("RECIPEC_CACHE", Path.home() / ".cache" / "recipec"))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = tmp_path_factory.mktemp("cxx")
    exe = cache / f"regex_search-{digest}"
    if not exe.exists():
        tmp = exe.with_suffix(f".tmp{os.getpid()}")
        subprocess.run([_compiler(), "-std=c++17", "-O2", "-o", str(tmp), str(SOURCE)], check=True)
        tmp.replace(exe)
    return exe


def _run(exe: Path, cases: list[tuple[list[str], list[str]]]) -> list[list[int]]:
    lines = [str(len(cases))]
    for patterns, names in cases:
        lines += [str(len(patterns)), *patterns, str(len(names)), *names]
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == len(cases)
    return [[int(x) for x in line.split()] if not line.startswith("E") else [] for line in out]


def _python(patterns: list[str], names: list[str]) -> list[int]:
    rules = [Rule(p, "Q8_0") for p in patterns]
    return [(-1 if (i := first_matching(rules, n)) is None else i) for n in names]


def _naive_rules(names: list[str], rng: random.Random) -> list[str]:
    roles = sorted({split_name(n)[0] for n in names})
    picks = rng.sample(NAIVE, 4) + [rng.choice(roles).split(".")[-1] for _ in range(2)]
    rng.shuffle(picks)
    return picks


def test_cxx_regex_search_agrees_with_python_on_the_property_corpora(matcher):
    if len(prop.CORPUS) < 500:  # the property test did not run in this session: run it here
        prop.test_emitted_rules_are_exact_in_any_order()
    corpus = list(prop.CORPUS)
    assert len(corpus) >= 500
    rng = random.Random(5)
    cases = []
    for model, _, rules in corpus:
        names = [t.name for t in model.tensors]
        emitted = [r.pattern for r in rules]
        cases.append((emitted, names))
        mixed = emitted + _naive_rules(names, rng)
        rng.shuffle(mixed)
        cases.append((mixed, names))
    got = _run(matcher, cases)
    for (patterns, names), cxx in zip(cases, got):
        assert cxx == _python(patterns, names), patterns


def test_cxx_agrees_on_lowercasing_hazards(matcher):
    names = ["blk.0.attn_output.weight", "blk.10.ffn_gate_exps.weight", "output.weight",
             "blk.1.ssm_alpha.weight", "token_embd.weight", "blk.2.attn_k_b.weight"]
    cases = [([p], names) for p in NAIVE]
    got = _run(matcher, cases)
    for (patterns, _), cxx in zip(cases, got):
        assert cxx == _python(patterns, names), patterns
