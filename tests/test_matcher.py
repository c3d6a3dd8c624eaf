"""recipec.matcher on its own: llama-quantize's reading of a pattern (lower-cased, ECMAScript
std::regex as libstdc++ reads it, regex_search) translated for Python; no C++ compiler needed
(tests/test_rules_differential.py checks the same against the real std::regex)."""

from __future__ import annotations

import warnings

import pytest

from recipec.matcher import (STATE_LIMIT, PatternError, Rule, compile_pattern, first_matching, lower_pattern,
                             translate)


def hits(pattern: str, *names: str) -> list[bool]:
    rx = compile_pattern(pattern)
    return [rx.search(n) is not None for n in names]


@pytest.mark.parametrize("pattern,names,expected", [
    ("blk\\.[[:digit:]]+\\.attn_v", ("blk.12.attn_v.weight", "blk.x.attn_v.weight"), [True, False]),
    ("[[:alpha:]_]+\\.weight$", ("output.weight", "blk.0."), [True, False]),
    ("[[:space:]]", ("a b", "ab"), [True, False]),
    ("[^[:digit:]]$", ("blk.1", "blk.1a"), [False, True]),
    ("[[.hyphen.]]", ("a-b", "ab"), [True, False]),
    ("\\D", ("1", "a"), [True, False]),          # lower-cased: \d, the digits
    ("BLK\\.\\W", ("blk.1", "blk._"), [True, True]),  # \w after lower-casing: any word character
    ("[]a]", ("a", "]", "a]"), [False, False, False]),  # `[]` matches nothing
    ("[^]", ("x",), [True]),
    ("\\cj", ("j", "\n"), [True, False]),      # libstdc++ reads \cX as X
    ("\\z", ("z",), [True]),                    # an identity escape
    ("(?!blk\\.1\\.)blk\\.\\d+\\.", ("blk.1.x", "blk.12.x"), [False, True]),
    ("a$", ("a\n", "a"), [False, True]),        # `$` is the very end, not before a newline
    ("a.b", ("a\nb", "a\rb", "axb"), [False, False, True]),
    ("(a)\\1", ("aa", "ab"), [True, False]),
    ("a**", ("aaa",), [True]),                  # quantifiers may follow each other
    ("é", ("é", "e"), [True, False]),
])
def test_what_llama_quantize_reads(pattern, names, expected):
    assert hits(pattern, *names) == expected


@pytest.mark.parametrize("pattern,message,pos", [
    ("[[:digits:]]", "not a character class", 1),
    ("a{", "`{` must start a repetition", 1),
    ("a{,3}", "`{` must start a repetition", 1),
    ("(?<=a)b", "lookbehind", 0),
    ("(?i)a", "inline flags", 0),
    ("^*", "nothing to repeat", 1),
    ("\\1(a)", "refers to group 1", 0),
    ("[z-a]", "y before x", 2),
    ("[\\d-a]", "cannot start at a class", 3),
    ("abc(", "not closed", 3),
    ("é[", "a `[` is not closed", 2),        # positions count characters as written
])
def test_what_std_regex_rejects(pattern, message, pos):
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert message in info.value.msg and info.value.pos == pos


def test_no_python_warning_leaks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in ("[[:digit:]]", "[[]", "[a&&b]", "[a--b-]", "[a||b]", "[a~~b]", "[[:alpha:]--]"):
            try:
                compile_pattern(p + "x")
            except PatternError:
                pass


def test_findings():
    assert [f.kind for f in compile_pattern("\\cj\\z").findings] == ["dialect", "dialect"]
    assert [f.offset for f in compile_pattern("ab\\cj").findings] == [2]
    assert compile_pattern("^blk\\.[0-9]+\\.attn_v\\.weight$").findings == ()
    assert compile_pattern("a{3000000000}").exact  # wraps like the C int, and says so
    assert "wraps" in compile_pattern("a{3000000000}").findings[0].message
    assert not compile_pattern("a{99999999999999999999}").exact  # beyond what libstdc++ computes


def test_the_state_limit():
    assert translate("a{%d}" % (STATE_LIMIT - 7))[0]
    with pytest.raises(PatternError, match="NFA states"):
        translate("a{%d}" % (STATE_LIMIT - 6))


def test_rules_and_first_match():
    assert lower_pattern("BLK\\.\\D[A-Z]é") == "blk\\.\\d[a-z]é"
    rules = [Rule("output\\.weight", "Q8_0"), Rule("blk\\.1", "Q6_K")]
    assert first_matching(rules, "blk.3.attn_output.weight") == 0
    assert first_matching(rules, "blk.12.ffn_up.weight") == 1
    assert first_matching(rules, "blk.12.attn_output.weight", first_match=False) == 1
    assert str(Rule("x", "Q4_K")) == "x=q4_K"
