"""The quality bench end to end on a tiny model, so the full bench cannot rot.

The smoke configuration fits its weights in closed form with numpy (no PyTorch), then runs the
real pipeline: GGUF export with a BPE tokenizer, llama-imatrix, F16 base logits, a stock Q4_K_M,
recipec plans of exactly its size (optimal, greedy, and optimal with the errors `recipec measure`
measured on the model) through compile → quantize.sh → verify, and one KLD measurement each.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.quality import report
from bench.quality.config import SMOKE
from bench.quality.pipeline import run_bench

pytestmark = pytest.mark.llama

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(llama_bin_dir: Path, tmp_path_factory, request):
    assert (llama_bin_dir / "llama-perplexity").is_file(), "scripts/build_llama_cpp.sh builds llama-perplexity"
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setenv("LLAMA_CPP_BIN", str(llama_bin_dir))
    tmp = tmp_path_factory.mktemp("quality")
    results = run_bench(SMOKE, tmp / "cache")
    paths = report.write(tmp / "out", results, {"command": "test"})
    return results, paths


def test_llama_cpp_reproduces_the_reference_perplexity(smoke):
    base = smoke[0].base
    # Same tokenizer, same architecture: llama.cpp's F16 perplexity is the numpy forward's.
    assert base["eval_chunks"] == SMOKE.evaluation.eval_chunks
    assert base["llama_ppl"] == pytest.approx(base["reference_ppl"], rel=0.01)
    # A real model: far better than uniform over the vocabulary.
    assert base["llama_ppl"] < SMOKE.model.n_vocab / 4


def test_every_variant_is_measured(smoke):
    rows = smoke[0].rows
    assert [r["method"] for r in rows] == ["stock", "recipec-optimal", "recipec-greedy", "recipec-measured-t2"]
    assert rows[3]["error_model"] != rows[1]["error_model"]
    stock = rows[0]
    for r in rows:
        k = r["kld"]
        assert math.isfinite(k["kld"]) and 0 < k["kld"] < 0.05
        assert k["kld_err"] < k["kld"]
        assert k["kld_p99"] >= k["kld_median"]
        assert 50 < k["same_top"] <= 100
        assert math.isfinite(k["ppl"]) and k["ppl"] == pytest.approx(k["ppl_base"], rel=0.1)
    for r in rows[1:]:
        assert r["verified"]
        # The budget is the stock file's exact size, and the prediction is the file's size.
        assert r["budget_bytes"] == stock["file_bytes"]
        assert r["file_bytes"] <= stock["file_bytes"]
        assert r["predicted_bytes"] <= r["file_bytes"] <= r["predicted_bytes"] + 4096


def test_outputs_are_written(smoke):
    results, paths = smoke
    table = paths["table"].read_text()
    assert "recipec optimal" in table and "stock Q4_K_M" in table
    assert len(table.splitlines()) == 2 + len(results.rows)
    svg = ET.parse(paths["svg"]).getroot()
    assert svg.tag.endswith("svg")
    assert os.path.getsize(paths["json"]) > 0
