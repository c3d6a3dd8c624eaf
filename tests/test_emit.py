"""emit: the kit's files from a plan, byte-stable, strict, sandboxed, shell-safe."""

from __future__ import annotations

import hashlib
import json
import shlex

import jinja2
import pytest

from recipec import __version__
from recipec.diagnostics import DiagnosticError
from recipec.emit import KIT_FILES, environment, render_kit, shquote
from recipec.plan import Plan
from tests.kit_helpers import compiled_kit, compile_kit

RECIPE = ('recipe "emit test"\narch qwen35moe\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\nbudget 5.6 bpw\n'
          "mtp keep Q6_K\ntarget cuda-blackwell\nserve ctx 4096\nserve spec mtp 2\n")


@pytest.fixture(scope="module")
def kit(fixture_model, tmp_path_factory):
    return compiled_kit(tmp_path_factory.mktemp("emit"), RECIPE, fixture_model("qwen35moe"))


@pytest.fixture(scope="module")
def plan(kit) -> Plan:
    return Plan.load(str(kit / "plan.lock.json"))


def test_kit_files_and_byte_stability(kit, plan):
    assert sorted(p.name for p in kit.iterdir()) == sorted(KIT_FILES)
    again = render_kit(plan)
    for name in ("plan.lock.json", "tensor-types.txt", "serve.sh", "measure.sh", "card.md"):
        assert again[name] == (kit / name).read_text(), name
    assert render_kit(plan) == again


def test_headers_name_recipe_hash_and_version(kit, plan):
    recipe_sha256 = hashlib.sha256(RECIPE.encode()).hexdigest()  # the bytes compiled_kit wrote
    for name in ("quantize.sh", "serve.sh", "measure.sh", "card.md"):
        text = (kit / name).read_text()
        head = "\n".join(text.splitlines()[:6])
        # compiled from an absolute path: the header names the file, not the compiling machine's path
        assert "r.recipe" in head and plan.inputs.recipe.path not in head and recipe_sha256 in head
        assert f"recipec {__version__}" in head
    lock = json.loads((kit / "plan.lock.json").read_text())
    assert lock["inputs"]["recipe"]["sha256"] == recipe_sha256
    assert lock["recipec_version"] == __version__


def _measure_types(kit) -> list[str]:
    text = (kit / "measure.sh").read_text()
    block = text.split("\nTYPES=(\n", 1)[1].split("\n)\n", 1)[0]
    return [shlex.split(line)[0] for line in block.splitlines()]


def test_measure_asks_for_the_ladder_types(kit, fixture_model, tmp_path):
    assert _measure_types(kit) == ["Q4_K", "Q5_K", "Q6_K", "Q8_0"]
    # llama's ffn_down has rows of 800: Q4_K falls back to Q5_0 there, which is no ladder type
    llama = compiled_kit(tmp_path, 'recipe "m"\nladder Q4_K Q8_0\nbudget 6 bpw\n', fixture_model("llama"))
    plan = Plan.load(str(llama / "plan.lock.json"))
    assert "Q5_0" in {o.type for g in plan.problem.groups for o in g.options}
    assert _measure_types(llama) == ["Q4_K", "Q8_0"]
    text = (llama / "measure.sh").read_text()
    assert 'OUT=${OUT:-$HERE/errors.json}' in text and "--kld) need_value" in text


# ggml's own spelling of the types this recipe can write (ggml type_traits type_name)
GGML_SPELLING = {"Q4_K": "q4_K", "Q5_K": "q5_K", "Q6_K": "q6_K", "Q8_0": "q8_0", "Q5_0": "q5_0",
                 "Q5_1": "q5_1", "F16": "f16", "F32": "f32"}


def test_tensor_types_are_the_plan_rules(kit, plan):
    # the --tensor-type-file format: one PATTERN=TYPE a line, in the plan's order, the type
    # spelled as ggml prints it
    want = "".join(f"{r.pattern}={GGML_SPELLING[r.type]}\n" for r in plan.llama_quantize.rules)
    assert plan.llama_quantize.rules and (kit / "tensor-types.txt").read_text() == want
    assert "#" not in want  # the file format has no comments


def test_serve_flags_from_profile_and_statements(kit):
    text = (kit / "serve.sh").read_text()
    for flag in ("DEFAULT_CTX='4096'", "DEFAULT_FLASH_ATTN='on'", "DEFAULT_CACHE_TYPE='q8_0'", "DEFAULT_NGL='all'",
                 '-ctk "$CACHE_TYPE" -ctv "$CACHE_TYPE"', "--spec-type draft-mtp", "--spec-draft-n-max '2'",
                 "--spec-draft-n-min 0"):
        assert flag in text, flag


def test_card_has_the_publisher_facts(kit, plan):
    card = (kit / "card.md").read_text()
    for needle in (" GB (", " GiB", "bits per weight", "5.6 bpw", "% used", "| role | layers | type |",
                   "kept as Q6_K", "llama-quantize --tensor-type-file tensor-types.txt",
                   hashlib.sha256((kit / "plan.lock.json").read_bytes()).hexdigest(),
                   plan.inputs.model.sha256, "### Types by layer", "bpw)"):
        assert needle in card, needle


def test_mtp_drafting_on_a_dropped_block_is_e403(plan):
    dropped = plan.model_copy(update={"mtp": plan.mtp.model_copy(update={"policy": "drop"})})
    with pytest.raises(DiagnosticError) as exc:
        render_kit(dropped)
    assert exc.value.diagnostics[0].code == "E403"
    assert "mtp keep" in exc.value.diagnostics[0].hint


def test_mtp_drop_with_spec_fails_compile(fixture_model, tmp_path):
    (tmp_path / "r.recipe").write_text(RECIPE.replace("mtp keep Q6_K", "mtp drop"))
    rc, err = compile_kit(tmp_path / "r.recipe", fixture_model("qwen35moe"), tmp_path / "kit")
    assert rc != 0 and "E403" in err
    assert not (tmp_path / "kit").exists()


def test_unscriptable_tensor_name_is_e404(plan):
    t = plan.tensors[0].model_copy(update={"name": "bad name\nx"})
    with pytest.raises(DiagnosticError) as exc:
        render_kit(plan.model_copy(update={"tensors": (t,) + plan.tensors[1:]}))
    assert exc.value.diagnostics[0].code == "E404"


@pytest.mark.parametrize("value", ["plain", "", "a b", "it's", "$(touch x)", "`x`", "a;b", "-rf", "l1\nl2", "é"])
def test_shquote_round_trips(value):
    q = shquote(value)
    assert q.startswith("'") and shlex.split(q) == [value]


def test_environment_is_strict_and_sandboxed():
    env = environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nope }}").render()
    with pytest.raises(jinja2.exceptions.SecurityError):
        env.from_string("{{ x.__class__.__mro__ }}").render(x=1)
    assert env.from_string("a\n").render() == "a\n"
