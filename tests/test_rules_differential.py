"""Differential test: C++ std::regex (ECMAScript) regex_search, as llama-quantize runs it, vs
recipec's matcher (recipec/matcher.py), on rule lists, on the dialect's corners (POSIX bracket
classes, escapes, assertions, back-references, what std::regex rejects) and on random patterns
built from those pieces. A pattern the C++ side rejects must raise PatternError here."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

import tests.test_rules_property as prop
from tests.ci import in_ci
from recipec.llamacpp import Rule, first_matching
from recipec.matcher import PatternError, compile_pattern
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


# --- the dialect: where Python's re and PCRE read a pattern differently from std::regex -------
# Names with the characters the corner cases hinge on (digits, brackets, braces, punctuation,
# control bytes, upper case, a non-ASCII letter) besides real tensor names.
ODD_NAMES = ["blk.0.attn_q.weight", "blk.12.ffn_down_exps.weight", "output.weight", "token_embd.weight",
             "blk.3.attn_output.weight", "a", "aa", "ab", "ba", "abc", "A", "B.weight", "-", "]", "[", "{",
             "}", "a{", "1", "a1", "10", ":", "_", " ", "\t", "x\ty", "\x01", "\x08", "\x7f", "j", "k", "z",
             "0", "é", "é1", "aé", "blk.1.Attn_Q.weight", "ffn_up_exps.weight", "a-b", "a.b", "a\\b"]
DIALECT = (
    # POSIX bracket classes, collating symbols, equivalence classes
    "[[:digit:]]", "blk\\.[[:digit:]]+\\.", "[[:alpha:]]+", "[[:alnum:]_]+$", "[[:space:]]", "[[:upper:]]",
    "[[:UPPER:]]", "[[:lower:]]", "[[:punct:]]", "[[:xdigit:]]{2}", "[[:blank:]]", "[[:cntrl:]]",
    "[[:graph:]]", "[[:print:]]", "[[:w:]]", "[[:d:]]", "[[:s:]]", "[^[:digit:]]", "[[:digit:][:alpha:]]",
    "^[^[:alpha:]]", "[[.hyphen.]]", "[[.a.]-c]", "[[.space.]]", "[[.period.]]", "[[=a=]]", "[[=hyphen=]]",
    # brackets: empty, negated empty, dashes, a plain `[`, escapes inside
    "[]a]", "[]", "[^]", "[^]]", "a[^]", "[a-]", "[-a]", "[--0]", "[a-c-e]", "[\\]]", "[\\[]", "[[]", "[a[b]",
    "[a&&b]", "[a||b]", "[a~~b]", "[\\b]", "[\\d]", "[\\w.]+", "[\\s]", "[\\cj]", "[\\u0061]", "[\\0]",
    "[\\x41-\\x5a]", "[\\x00-\\xff]", "[\\x80-\\xff]", "[a-\\xff]",
    # escapes after lower-casing
    "\\d+", "\\D", "\\w+\\.weight", "\\W", "\\s", "\\S", "\\bexps", "exps\\b", "\\Bexps", "\\cj", "\\cJ",
    "\\a", "\\z", "\\Z", "\\e", "\\k", "\\g", "\\h", "\\p", "\\y", "\\0", "\\01", "\\x41", "\\u0141",
    "\\u00e9", "\\.", "\\/", "\\-", "\\]", "\\}", "\\:",
    # assertions and anchors
    "(?=a)", "(?!a)", "(?!b)a", "a(?=b)", "blk\\.(?!1\\.)\\d+\\.attn", "(?=.*exps)ffn", "^a", "a$", "^$", "^",
    "$", "\\ba", "a\\b",
    # groups, back-references, quantifiers
    "(a)\\1", "(a)(b)\\2", "(a)|\\1", "(a)?\\1b", "(a*)\\1", "((a)|b)\\2", "(?:a)", "()", "(|a)", "a|", "|a",
    "a**", "a+*", "a*??", "a???", "a{2}{2}", "a{1,}", "a{0}", "a{2,3}?", "(ab){2}", "a{3000000000}",
    "\\.(\\d*[13579])\\.attn_k", "\\.(\\d*[02468])\\.attn_q", "é", "[é]", "é+", ".", "a.b", "]", "}", "a]",
    # rejected by std::regex (several accepted by Python)
    "[[:foo:]]", "[[:digit:]-a]", "[a-[:digit:]]", "[[:digit:]", "[[:digit]]", "[[.-.]]", "[[.NUL.]]",
    "[z-a]", "[\\d-a]", "[a-\\d]", "[a--b]", "a{", "a{,3}", "a{2,1}", "a{1 }", "blk{", "^*", "$+", "\\b*",
    "(?=a)*", "(?<=a)b", "(?<!a)b", "(?P<x>a)", "(?i)a", "(?#c)a", "(?>a)", "\\1(a)", "(a\\1)", "(a)\\10",
    "(", ")", "a)", "[", "[a", "\\", "a\\", "\\c", "\\x4", "\\xzz", "\\u12", "a{99993}", "a{99994}",
    "(a){3,40000}",
)
# The pieces random patterns are built from: all the above's ingredients.
PIECES = ("a", "b", "1", ".", "\\.", "_", "-", "[", "]", "[^", "[[:digit:]]", "[[:alpha:]]", "[[:space:]]",
          "[[:punct:]]", "\\d", "\\w", "\\s", "\\b", "\\D", "\\B", "\\W", "(", ")", "(?:", "(?=", "(?!", "|",
          "*", "+", "?", "{2}", "{1,}", "{0,2}", "{", "}", "^", "$", "\\1", "\\2", "\\cj", "\\0", "\\x2e",
          "\\u0061", "\\z", "[\\b]", "blk", "attn", "exps", "é", "A")


def _run_one_each(exe: Path, patterns: list[str], names: list[str]) -> list[str]:
    lines = [str(len(patterns))]
    for p in patterns:
        lines += ["1", p, str(len(names)), *names]
    return subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=True).stdout.splitlines()


def _ours(pattern: str, names: list[str]) -> str:
    """The C++ driver's answer line, from recipec's matcher."""
    try:
        rx = compile_pattern(pattern)
    except PatternError:
        return "E 0"
    assert rx.exact, (pattern, rx.findings)
    return "".join(("0 " if rx.search(n) else "-1 ") for n in names)


def _differences(exe: Path, patterns: list[str]) -> list[tuple[str, str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning (nested sets) or any other may leak
        cxx = _run_one_each(exe, patterns, ODD_NAMES)
        ours = [_ours(p, ODD_NAMES) for p in patterns]
    return [(p, c, o) for p, c, o in zip(patterns, cxx, ours) if c != o]


def test_cxx_agrees_on_the_dialect(matcher):
    assert _differences(matcher, list(DIALECT)) == []


def test_cxx_agrees_on_random_patterns_of_dialect_pieces(matcher):
    rng = random.Random(12)
    patterns = sorted({"".join(rng.choice(PIECES) for _ in range(rng.randint(1, 7))) for _ in range(3000)})
    patterns = [p for p in patterns if "\n" not in p]
    assert len(patterns) > 2000
    assert _differences(matcher, patterns) == []
    valid = sum(1 for p in patterns if _ours(p, ["a"]) != "E 0")
    assert valid > len(patterns) // 4  # the random corpus is not only errors


def test_dialect_findings_name_what_reads_differently():
    findings = {p: [f.message for f in compile_pattern(p).findings] for p in ("\\cj", "\\z", "[]a]", "\\01", "\\u0141")}
    assert "not a control character" in findings["\\cj"][0]
    assert "the letter `z`" in findings["\\z"][0]
    assert "matches nothing" in findings["[]a]"][0]
    assert "not an octal escape" in findings["\\01"][0]
    assert "low byte" in findings["\\u0141"][0]
    assert compile_pattern("[[:digit:]]").findings == ()
    with pytest.raises(PatternError, match="not a character class"):
        compile_pattern("[[:digits:]]")
