"""Property tests: grammar-generated recipes round-trip through fmt; garbage never crashes lint."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from recipec.cli import run
from recipec.diagnostics import DiagnosticError
from recipec.formatter import format_recipe
from recipec.parser import lark_parser, parse
from recipec.source import SourceFile

ROOT = Path(__file__).parent.parent
SEEDS = [p.read_text() for p in sorted((ROOT / "examples").glob("*.recipe"))] + [
    p.read_text() for p in sorted((Path(__file__).parent / "cases" / "lint").glob("*.recipe"))
]


def _terminal_strategies():
    """One strategy per terminal, each token followed by a space so tokens never glue."""
    parser = lark_parser()
    literals = {t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
    literals |= {"optimal", "greedy", "on", "off", "auto", "all", "floor", "ceiling", "pin", "outside"}
    out = {}
    for t in parser.terminals:
        if t.name == "_NL":
            out[t.name] = st.sampled_from(["\n", "\r\n", "\n\n"])
        elif t.name == "COMMENT":
            out[t.name] = st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=20).map(lambda s: "#" + s)
        elif t.name == "WORD":
            out[t.name] = st.from_regex(r"[A-Za-z_*?][A-Za-z0-9_.*?\-]{0,12}", fullmatch=True).filter(
                lambda w: w not in literals and not re.fullmatch(r"x[0-9]+(\.[0-9]+)?.*", w)).map(lambda s: s + " ")
        elif t.name == "NUMBER":
            out[t.name] = st.one_of(st.integers(0, 10**6).map(str),
                                    st.decimals(0, 1000, places=2).map(str)).map(lambda s: s + " ")
        elif t.pattern.type == "str":
            out[t.name] = st.just(t.pattern.value + " ")
        else:
            out[t.name] = st.from_regex(t.pattern.to_regexp(), fullmatch=True).map(lambda s: s + " ")
    return out


# the strict parser is built from the grammar text (not Lark's cache), which from_lark needs
RECIPES = from_lark(lark_parser(strict=True), start="start", explicit=_terminal_strategies())


def _parse_or_none(text):
    try:
        return parse(SourceFile("g.recipe", text))
    except DiagnosticError:
        return None


@settings(max_examples=2000)
@given(RECIPES)
def test_fmt_round_trips_grammar_generated_recipes(text):
    tree = _parse_or_none(text)
    assume(tree is not None)  # e.g. `floor X` with no type: a grammar sentence the transformer rejects
    once = format_recipe(tree)
    again = parse(SourceFile("g.recipe", once))
    assert again.statements == tree.statements
    assert [c.text for c in again.comments] == [c.text for c in tree.comments]
    assert format_recipe(again) == once


def _lint_never_crashes(tmp_path_factory, data: bytes):
    """lint and fmt --check on DATA exit 0, 1 or 2 and print no traceback nor internal error."""
    path = tmp_path_factory.mktemp("fuzz") / "f.recipe"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert run(["lint", "--format", "json", str(path)]) in (0, 1, 2)
        assert run(["fmt", "--check", str(path)]) in (0, 1, 2)
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text and "X001" not in text, text


@settings(max_examples=2000)
@given(data=st.binary(max_size=300))
def test_random_bytes_give_diagnostics_only(tmp_path_factory, data):
    _lint_never_crashes(tmp_path_factory, data)


@settings(max_examples=2000)
@given(seed=st.sampled_from(SEEDS), cut=st.floats(0, 1))
def test_truncated_recipes_give_diagnostics_only(tmp_path_factory, seed, cut):
    data = seed.encode()[: int(len(seed.encode()) * cut)]
    _lint_never_crashes(tmp_path_factory, data)


TOKENS = ["floor", "pin", "@", "..", "first", "x2", "Q4_K", "GiB", '"', "#", "\n", " ", "0", "-1",
          "mtp", "budget", "fit", "auto", "*", "ctx", "99999999999999999999", "é", "\t", "@mtp", "kv",
          "every", "from", "@every 4 from 3", "@full-attention", "@recurrent", "@0..9999999999"]


@settings(max_examples=2000)
@given(seed=st.sampled_from(SEEDS), edits=st.lists(
    st.tuples(st.floats(0, 1), st.sampled_from(["insert", "delete", "replace"]), st.sampled_from(TOKENS)),
    min_size=1, max_size=4))
def test_mutated_recipes_give_diagnostics_only(tmp_path_factory, seed, edits):
    words = re.split(r"(\s+)", seed)
    for where, op, tok in edits:
        i = int(where * len(words)) if words else 0
        if op == "insert" or not words:
            words.insert(i, tok)
        elif op == "delete":
            del words[min(i, len(words) - 1)]
        else:
            words[min(i, len(words) - 1)] = tok
    _lint_never_crashes(tmp_path_factory, "".join(words).encode())


# --- layer filters: every form, written with random spacing, means the same after fmt -------------

_LAYER = st.integers(0, 70000)
LAYER_FILTERS = st.one_of(
    st.tuples(st.sampled_from(["first", "last"]), _LAYER).map(lambda t: f"{t[0]} {t[1]}"),
    st.tuples(_LAYER, _LAYER).map(lambda t: f"{t[0]}..{t[1]}"),
    _LAYER.map(str),
    st.lists(_LAYER, min_size=2, max_size=5).map(lambda xs: ",".join(map(str, xs))),
    st.tuples(_LAYER, st.one_of(st.none(), _LAYER)).map(
        lambda t: f"every {t[0]}" + ("" if t[1] is None else f" from {t[1]}")),
    st.sampled_from(["trunk", "full-attention", "recurrent", "mtp"]),
)


@settings(max_examples=500)
@given(filt=LAYER_FILTERS, gap=st.sampled_from([" ", "  ", "\t"]), where=st.sampled_from(["pin", "depth"]))
def test_layer_filters_round_trip(filt, gap, where):
    spaced = filt.replace(" ", gap)
    text = f'recipe "r"\n' + (f"pin attn_q@{spaced} Q4_K\n" if where == "pin" else f"depth {spaced} x2\n")
    tree = parse(SourceFile("g.recipe", text))
    once = format_recipe(tree)
    assert parse(SourceFile("g.recipe", once)).statements == tree.statements
    assert format_recipe(parse(SourceFile("g.recipe", once))) == once


@settings(max_examples=500)
@given(step=st.integers(1, 9), start=st.integers(0, 30), trunk=st.integers(0, 40),
       other=st.one_of(st.tuples(st.just("range"), st.integers(0, 40), st.integers(0, 40)),
                       st.tuples(st.just("one"), st.integers(0, 40), st.none()),
                       st.tuples(st.just("first"), st.integers(1, 40), st.none()),
                       st.tuples(st.just("every"), st.integers(1, 9), st.integers(0, 30))))
def test_strides_select_and_overlap_as_listed(step, start, trunk, other):
    """A stride selects exactly the listed layers; lint's overlap test agrees with listing both."""
    from recipec.checks.common import layers_overlap
    from recipec.recipe import LayerSpec
    from recipec.selectors import LayerContext, layer_set

    every = LayerSpec(kind="every", a=step, b=start)
    listed = {n for n in range(trunk) if n >= start and (n - start) % step == 0}
    assert set(layer_set(every, LayerContext.plain(trunk))) == listed
    kind, a, b = other
    spec = LayerSpec(kind=kind, a=a, b=b)
    window = range(1000)  # past every start and step here, so the listed sets meet iff the filters do
    mine = {n for n in window if n >= start and (n - start) % step == 0}
    theirs = set(layer_set(spec, LayerContext.plain(len(window))))
    assert layers_overlap(every, spec) == bool(mine & theirs)
