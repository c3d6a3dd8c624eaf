"""`recipec render PLAN -o DIR`: the kit from plan.lock.json alone, byte-identical to compile's.

Each curated recipe's golden kit was written by `compile` (scripts/regen_recipes_golden.py); the
render of its plan must reproduce every file of it, quantize.sh included, with no recipe, model
or imatrix anywhere near (the plan is copied into an empty folder first).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from tests.kit_helpers import recipec_cli
from tests.test_recipes import RECIPES, regen

KIT = ("card.md", "measure.sh", "plan.lock.json", "quantize.sh", "serve.sh", "tensor-types.txt")


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_render_reproduces_the_compiled_kit(recipe, tmp_path):
    golden = regen.GOLDEN / recipe.stem
    lone = tmp_path / "alone" / "plan.lock.json"
    lone.parent.mkdir()
    shutil.copyfile(golden / "plan.lock.json", lone)
    rc, _, err = recipec_cli("render", str(lone), "-o", str(tmp_path / "kit"))
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "kit").iterdir()) == list(KIT)
    for name in KIT:
        assert (tmp_path / "kit" / name).read_bytes() == (golden / name).read_bytes(), name
    assert (tmp_path / "kit" / "quantize.sh").stat().st_mode & 0o111
    assert (tmp_path / "kit" / "measure.sh").stat().st_mode & 0o111


def test_render_check(tmp_path):
    golden = regen.GOLDEN / RECIPES[0].stem
    rc, _, err = recipec_cli("render", str(golden / "plan.lock.json"), "-o", str(golden), "--check")
    assert (rc, err.strip()) == (0, f"{golden}: up to date")
    kit = tmp_path / "kit"
    shutil.copytree(golden, kit)
    (kit / "serve.sh").write_text("edited\n")
    rc, _, err = recipec_cli("render", str(kit / "plan.lock.json"), "-o", str(kit), "--check")
    assert rc == 1 and "E402" in err and "serve.sh" in err
    assert (kit / "serve.sh").read_text() == "edited\n"


@pytest.mark.parametrize("kind", ["llama", "llama_split", "qwen35moe"])
def test_render_from_a_gguf_compile(kind, fixture_model, tmp_path):
    """The plan records every source shard's header (name, bytes, sha256): the render's quantize.sh
    checks the same files as compile's, though render never sees the model."""
    model = fixture_model(kind)
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "r"\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\nbudget 5.5 bpw\n'
                      + ("mtp drop\n" if kind == "qwen35moe" else ""))
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(model), "-o", str(tmp_path / "a"))
    assert rc == 0, err
    shards = json.loads((tmp_path / "a" / "plan.lock.json").read_text())["llama_quantize"]["shards"]
    if kind == "llama_split":  # the fixture writes three shards
        files = [model.name.replace("-00001-of-", f"-0000{i}-of-") for i in (1, 2, 3)]
        assert model.name.endswith("-00001-of-00003.gguf")
    else:
        files = [model.name]
    assert [s["name"] for s in shards] == files
    for s, f in zip(shards, files):
        head = (model.parent / f).read_bytes()[: s["header_bytes"]]
        assert hashlib.sha256(head).hexdigest() == s["header_sha256"]
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(tmp_path / "a" / "plan.lock.json", alone / "plan.lock.json")
    rc, _, err = recipec_cli("render", str(alone / "plan.lock.json"), "-o", str(tmp_path / "b"))
    assert rc == 0, err
    for name in KIT:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    script = (tmp_path / "b" / "quantize.sh").read_text()
    assert all(s["header_sha256"] in script for s in shards)


@pytest.mark.parametrize("text,code", [("{", "V402"), ('{"schema": "recipec.plan/1"}', "V402")])
def test_bad_plan_writes_nothing(tmp_path, text, code):
    (tmp_path / "plan.lock.json").write_text(text)
    rc, _, err = recipec_cli("render", str(tmp_path / "plan.lock.json"), "-o", str(tmp_path / "kit"))
    assert rc == 2 and code in err
    assert not (tmp_path / "kit").exists()
