"""The release file (`recipec compile X.release -o REL`) and stock mixes as reference variants
(`stock FTYPE` / `--stock FTYPE`): compiled, marked in release.json, drawn as squares in the card's
KLD picture. On the qwen35moe fixture and the shipped example, without llama.cpp."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from recipec.release.svg import POINT_COLOUR, STOCK_COLOUR
from tests.kit_helpers import BASH, ROOT, recipec_cli, script_env, tool_dir
from tests.release_helpers import KIND, RECIPES, metrics_record, write_metrics, write_recipes

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def inputs(fixture_model, fixture_imatrix):
    return fixture_model(KIND), fixture_imatrix(KIND, nextn=True)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, inputs) -> Path:
    """rel/recipes/*.recipe, rel/model.gguf and rel/imatrix.gguf (copies), rel/my.release naming them."""
    d = tmp_path_factory.mktemp("relfile")
    write_recipes(d / "recipes", {k: RECIPES[k] for k in ("q8", "q3km-nomtp")})
    shutil.copy(inputs[0], d / "model.gguf")
    shutil.copy(inputs[1], d / "imatrix.gguf")
    _write(d / "my.release", '# two recipes and a stock mix\nmodel model.gguf\nimatrix "imatrix.gguf"\n'
                             "variant recipes/q8.recipe   # the big one\nvariant recipes/q3km-nomtp.recipe\n"
                             "stock q4_k_m\n")
    return d


def test_a_release_file_is_the_same_release_as_its_command_line(workdir, monkeypatch):
    monkeypatch.chdir(workdir.parent)
    top = workdir.name
    rc, _, err = recipec_cli("compile", f"{top}/my.release", "-o", f"{top}/out-file")
    assert rc == 0, err
    rc, _, err = recipec_cli("compile", f"{top}/recipes/q8.recipe", f"{top}/recipes/q3km-nomtp.recipe",
                             "--stock", "Q4_K_M", "--model", f"{top}/model.gguf", "--imatrix", f"{top}/imatrix.gguf",
                             "-o", f"{top}/out-cli")
    assert rc == 0, err
    from_file, from_cli = _tree(workdir / "out-file"), _tree(workdir / "out-cli")
    assert from_file == from_cli
    rec = json.loads(from_file["release.json"])
    # paths relative to the release file's directory, as the command line names them
    assert [v["recipe"]["path"] for v in rec["variants"]] == [f"{top}/recipes/q8.recipe",
                                                              f"{top}/recipes/q3km-nomtp.recipe", "stock:Q4_K_M"]
    assert rec["model"]["path"] == f"{top}/model.gguf"
    assert [v["name"] for v in rec["variants"]] == ["q8", "q3km-nomtp", "Q4_K_M"]
    assert [v.get("stock", False) for v in rec["variants"]] == [False, False, True]
    assert rc == 0 and recipec_cli("compile", f"{top}/my.release", "-o", f"{top}/out-cli", "--check")[0] == 0


def test_command_line_inputs_win_over_the_release_file(workdir, inputs, tmp_path):
    rc, _, err = recipec_cli("compile", str(workdir / "my.release"), "--model", str(inputs[0]),
                             "--imatrix", str(inputs[1]), "-o", str(tmp_path / "rel"))
    assert rc == 0, err
    rec = json.loads((tmp_path / "rel" / "release.json").read_text())
    assert rec["model"]["path"] == str(inputs[0]).rsplit("/", 1)[-1]  # absolute paths show as base names
    plan = json.loads((tmp_path / "rel" / "q8" / "plan.lock.json").read_text())
    assert plan["inputs"]["model"]["path"] == str(inputs[0])


def test_inputs_the_command_line_replaces_need_not_exist(workdir, inputs, tmp_path):
    """A release file kept in git names the model where its author keeps it; elsewhere --model and
    --imatrix replace those paths, which are then not looked for."""
    path = _write(workdir / "elsewhere.release", "model /nowhere/model.gguf\nimatrix /nowhere/imatrix.gguf\n"
                                                 "variant recipes/q8.recipe\n")
    rc, _, err = recipec_cli("compile", str(path), "--model", str(inputs[0]), "--imatrix", str(inputs[1]),
                             "-o", str(tmp_path / "rel"))
    assert rc == 0, err
    rc, _, err = recipec_cli("compile", str(path), "--model", str(inputs[0]), "-o", str(tmp_path / "rel2"))
    assert rc == 2 and f"{path}:2:9: U006 imatrix /nowhere/imatrix.gguf: not found" in err


def test_a_stock_mix_is_the_plan_of_a_plain_base_recipe(workdir, inputs, tmp_path):
    """The stock variant's tensors are exactly those of compiling `base Q4_K_M` from a file."""
    rc, _, err = recipec_cli("compile", str(workdir / "my.release"), "-o", str(tmp_path / "rel"))
    assert rc == 0, err
    recipe = _write(tmp_path / "plain.recipe", 'recipe "Q4_K_M"\nbase Q4_K_M\n')
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(inputs[0]), "--imatrix", str(inputs[1]),
                             "-o", str(tmp_path / "plain"))
    assert rc == 0, err
    stock = json.loads((tmp_path / "rel" / "Q4_K_M" / "plan.lock.json").read_text())
    plain = json.loads((tmp_path / "plain" / "plan.lock.json").read_text())
    assert stock["inputs"]["recipe"] == {"path": "stock:Q4_K_M", "sha256": plain["inputs"]["recipe"]["sha256"]}
    assert [(t["name"], t["type"]) for t in stock["tensors"]] == [(t["name"], t["type"]) for t in plain["tensors"]]
    assert stock["totals"]["file_bytes"] == plain["totals"]["file_bytes"]
    assert stock["llama_quantize"]["ftype"] == "Q4_K_M"


BAD = [
    ("model model.gguf\nvarient recipes/q8.recipe\n", "U006", 2, 1, "unknown key 'varient'"),
    ("model model.gguf\nvariant recipes/q8.recipe recipes/nope.recipe\n", "U006", 2, 27, "recipe "),
    ("model model.gguf\nvariant recipes/q8.recipe\nvariant other/q8.recipe\n", "U004", 3, 9, "'q8' is named twice"),
    ("model model.gguf\nvariant recipes/q8.recipe\nstock Q4_K_M Q9_K\n", "U006", 3, 14, "'Q9_K' is not"),
    ("model model.gguf\nvariant recipes/q8.recipe\nstock Q8_0 Q8_0\n", "U004", 3, 12, "'Q8_0' is named twice"),
    ('model model.gguf\nvariant "recipes/q8.recipe\n', "U006", 2, 9, "not closed"),
    ("model model.gguf\nmodel model.gguf\nvariant recipes/q8.recipe\n", "U006", 2, 1, "one model"),
    ("model nowhere.gguf\nvariant recipes/q8.recipe\n", "U006", 1, 7, "model "),
    ("model model.gguf\nvariant\n", "U006", 2, 1, "needs a value"),
    ("model model.gguf\nimatrix imatrix.gguf lost.gguf\nvariant recipes/q8.recipe\n", "U006", 2, 22, "imatrix "),
    ("# nothing\nmodel model.gguf\n", "U006", 1, 1, "names no variant"),
    ("variant recipes/q8.recipe\n", "U006", None, None, "names no model"),
]


@pytest.mark.parametrize("text,code,line,col,message", BAD, ids=[b[4].strip() for b in BAD])
def test_release_file_errors_are_coded_at_their_line(workdir, tmp_path, text, code, line, col, message):
    _write(workdir / "other" / "q8.recipe", RECIPES["q8"])
    path = _write(workdir / f"bad-{abs(hash(text))}.release", text)
    rc, _, err = recipec_cli("compile", str(path), "-o", str(tmp_path / "rel"))
    assert rc == 2, err
    where = f"{path}:{line}:{col}: " if line else ""
    assert f"{where}{code} " in err and message in err, err
    assert "Traceback" not in err and not (tmp_path / "rel").exists()


def test_a_release_file_is_compiled_alone_and_needs_a_readable_path(workdir, tmp_path):
    rc, _, err = recipec_cli("compile", str(workdir / "my.release"), str(workdir / "recipes" / "q8.recipe"),
                             "-o", str(tmp_path / "rel"))
    assert rc == 2 and "U001 a release file is compiled alone" in err
    rc, _, err = recipec_cli("compile", str(tmp_path / "missing.release"), "-o", str(tmp_path / "rel"))
    assert rc == 2 and "U002 cannot read" in err
    rc, _, err = recipec_cli("compile", str(workdir / "recipes" / "q8.recipe"), "--stock", "Q9_K",
                             "--model", str(workdir / "model.gguf"), "-o", str(tmp_path / "rel"))
    assert rc == 2 and "U001 --stock 'Q9_K'" in err
    rc, _, err = recipec_cli("compile", str(workdir / "recipes" / "q8.recipe"), "-o", str(tmp_path / "rel"))
    assert rc == 2 and "U001 compile needs the model" in err and "Traceback" not in err
    assert not (tmp_path / "rel").exists()


@pytest.fixture()
def measured(workdir, tmp_path) -> Path:
    """The release file's release with metrics for its two recipes and its stock mix."""
    rel = tmp_path / "rel"
    rc, _, err = recipec_cli("compile", str(workdir / "my.release"), "-o", str(rel))
    assert rc == 0, err
    write_metrics(rel, metrics_record("q8", 4_000_000, 0.0125))
    write_metrics(rel, metrics_record("q3km-nomtp", 1_500_000, 0.5))
    write_metrics(rel, metrics_record("Q4_K_M", 2_500_000, 0.125))
    assert recipec_cli("card", str(rel))[0] == 0
    return rel


def _points(doc: ET.Element) -> tuple[list[ET.Element], list[ET.Element]]:
    """The scatter's discs (POINT_COLOUR) and squares (STOCK_COLOUR), outside its legend."""
    legend = {id(e) for g in doc.iter(f"{SVG}g") if g.get("class") == "legend" for e in g.iter()}
    shapes = [e for e in doc.iter() if id(e) not in legend]
    return ([e for e in shapes if e.tag == f"{SVG}circle" and e.get("fill") == POINT_COLOUR],
            [e for e in shapes if e.tag == f"{SVG}rect" and e.get("fill") == STOCK_COLOUR])


def test_the_kld_picture_draws_stock_mixes_as_squares_with_a_legend(measured):
    doc = ET.fromstring((measured / "images" / "kld-vs-size.svg").read_text())
    discs, squares = _points(doc)
    assert len(discs) == 2 and len(squares) == 1
    legend = [g for g in doc.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert len(legend) == 1 and "stock mix" in ET.tostring(legend[0], encoding="unicode")
    # KLD 0.125 lies between 0.0125 and 0.5: the square between the discs, on both axes
    q3, q8 = sorted(discs, key=lambda c: float(c.get("cy")))  # higher KLD higher on the page
    sq_cx, sq_cy = float(squares[0].get("x")) + 6, float(squares[0].get("y")) + 6
    assert float(q3.get("cy")) < sq_cy < float(q8.get("cy"))
    assert float(q3.get("cx")) < sq_cx < float(q8.get("cx"))  # 1.5 MB < 2.5 MB < 4 MB


def test_the_card_marks_the_stock_mixes(measured):
    card = (measured / "README.md").read_text()
    quality = card[card.index("## Quality"):]
    row = next(ln for ln in quality.splitlines() if ln.startswith("| Q4\\_K\\_M (stock mix) |"))
    assert row.split("|")[4].strip() == "0.125 ± 0.0025"
    assert next(ln for ln in quality.splitlines() if ln.startswith("| q8 |"))
    assert "a square per measured stock mix](images/kld-vs-size.svg)" in card
    assert "--stock Q4_K_M --model" in card


def test_without_stock_mixes_the_picture_has_no_legend(measured):
    rec = json.loads((measured / "release.json").read_text())
    rec["variants"] = [v for v in rec["variants"] if not v.get("stock")]
    (measured / "release.json").write_text(json.dumps(rec))
    assert recipec_cli("card", str(measured))[0] == 0
    doc = ET.fromstring((measured / "images" / "kld-vs-size.svg").read_text())
    assert [len(x) for x in _points(doc)] == [2, 0]
    assert not [g for g in doc.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert "(stock mix)" not in (measured / "README.md").read_text()


def test_the_shipped_example_release_file_compiles(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc, _, err = recipec_cli("compile", "examples/qwen35moe.release", "-o", str(tmp_path / "a"))
    assert rc == 0, err
    rec = json.loads((tmp_path / "a" / "release.json").read_text())
    assert [(v["name"], v.get("stock", False)) for v in rec["variants"]] == [
        ("qwen35moe-iq4xs-mtp", False), ("qwen35moe-optimal-19.4gib", False), ("Q4_K_M", True), ("Q8_0", True)]
    rc, _, err = recipec_cli("compile", "examples/qwen35moe-iq4xs-mtp.recipe", "examples/qwen35moe-optimal-19.4gib.recipe",
                             "--stock", "Q4_K_M", "--stock", "Q8_0",
                             "--model", "examples/qwen3.5-35b-a3b.manifest.json",
                             "--imatrix", "examples/qwen3.5-35b-a3b.imatrix.json", "-o", str(tmp_path / "b"))
    assert rc == 0, err
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


# --- split outputs: a split model's kits keep the split; quantize-all.sh skips all shards or none ---

SPLIT_RECIPES = {"q4": 'recipe "q4"\nbase Q4_K_M\n', "q8": 'recipe "q8"\nbase Q8_0\n'}


def _shards_line(script: Path) -> str:
    return next(ln for ln in script.read_text().splitlines() if ln.startswith("OUTPUT_SHARDS="))


@pytest.fixture(scope="module")
def split_release(tmp_path_factory, fixture_model) -> Path:
    d = tmp_path_factory.mktemp("split-release")
    rc, _, err = recipec_cli("compile", *map(str, write_recipes(d / "recipes", SPLIT_RECIPES)),
                             "--model", str(fixture_model("llama_split")), "-o", str(d / "rel"))
    assert rc == 0, err
    return d / "rel"


def test_quantize_all_knows_which_variants_are_written_split(split_release, measured):
    assert _shards_line(split_release / "quantize-all.sh") == "OUTPUT_SHARDS=( 3 3 )"  # the fixture has 3 shards
    assert _shards_line(measured / "quantize-all.sh") == "OUTPUT_SHARDS=( 0 0 0 )"


@pytest.mark.llama
def test_quantize_all_skips_a_split_variant_only_when_every_shard_is_there(split_release, fixture_model,
                                                                          llama_quantize, tmp_path):
    env = script_env(tool_dir(tmp_path / "bin"), LLAMA_QUANTIZE=str(llama_quantize))
    run = lambda: subprocess.run([BASH, str(split_release / "quantize-all.sh"), "--no-card",  # noqa: E731
                                  "--model", str(fixture_model("llama_split"))],
                                 env=env, capture_output=True, text=True, timeout=300)
    first = run()
    assert first.returncode == 0, first.stderr
    shards = {v: [split_release / v / f"{v}-{i:05d}-of-00003.gguf" for i in (1, 2, 3)] for v in SPLIT_RECIPES}
    assert all(p.is_file() for ps in shards.values() for p in ps)
    assert not (split_release / "q4" / "q4.gguf").exists()
    stamps = {p: p.stat().st_mtime_ns for ps in shards.values() for p in ps}
    shards["q8"][2].unlink()  # a lost shard: q8 is made again, q4 is left alone
    again = run()
    assert again.returncode == 0, again.stderr
    assert "[1/2] q4: done already" in again.stderr and "and its 2 other shards match its plan" in again.stderr
    assert "summary: 1 quantized, 1 done already, 0 failed" in again.stderr
    assert all(p.stat().st_mtime_ns == stamps[p] for p in shards["q4"])
    assert shards["q8"][2].is_file()
    # the card counts a split variant's bytes over all its shards
    assert recipec_cli("card", str(split_release))[0] == 0
    total = sum(p.stat().st_size for p in shards["q4"])
    plan = json.loads((split_release / "q4" / "plan.lock.json").read_text())
    assert f"| {plan['totals']['file_bytes']} | {total} |" in (split_release / "README.md").read_text()
