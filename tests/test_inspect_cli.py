"""`recipec inspect`: manifests of every fixture, imatrix summaries, merging, exit codes."""

import json

import numpy as np
import pytest

from recipec import fixtures
from recipec.cli import run
from recipec.loaders import load_imatrix, load_model


@pytest.mark.parametrize("kind", fixtures.KINDS)
def test_manifest_is_what_the_generator_intended(fixture_model, tmp_path, kind):
    out = tmp_path / "m.json"
    assert run(["inspect", str(fixture_model(kind)), "-o", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["schema"] == "recipec.manifest/1"
    got = [(t["name"], tuple(t["shape"]), t["type"]) for t in m["tensors"]]
    assert got == fixtures.intended_tensors(kind)
    arch, kv, _ = fixtures.model_spec(kind)
    assert m["arch"] == arch
    for key in ("block_count", "nextn_predict_layers", "expert_count", "attention.head_count_kv",
                "attention.kv_lora_rank", "full_attention_interval", "ssm.conv_kernel"):
        if key in kv:
            assert m["metadata"][key] == kv[key], key
    assert len(m["source"]["files"]) == (3 if kind == "llama_split" else 1)


def test_manifest_to_stdout(fixture_model, capsys):
    assert run(["inspect", str(fixture_model("llama"))]) == 0
    assert json.loads(capsys.readouterr().out)["arch"] == "llama"


def test_manifest_of_a_manifest_is_itself(fixture_model, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run(["inspect", str(fixture_model("qwen35moe")), "-o", str(a)]) == 0
    assert run(["inspect", str(a), "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("fmt", ["gguf", "dat"])
def test_imatrix_summary(fixture_model, fixture_imatrix, tmp_path, fmt):
    out = tmp_path / "s.json"
    args = ["inspect", str(fixture_imatrix("qwen3moe", fmt)), "-o", str(out)]
    if fmt == "dat":
        args += ["--model", str(fixture_model("qwen3moe"))]
    assert run(args) == 0
    s = json.loads(out.read_text())
    assert s["schema"] == "recipec.imatrix/1"
    info = load_model(fixture_model("qwen3moe"))
    for name, (s2, counts) in fixtures.imatrix_entries(info).items():
        c = counts.astype(np.float64)
        ms = s2 / np.where(c > 0, c, 1)[:, None]
        ms[c == 0] = 1.0
        np.testing.assert_allclose(s["tensors"][name]["importance"], ms.mean(axis=1), rtol=1e-5)
        if fmt == "gguf":
            assert s["tensors"][name]["counts"] == [int(x) for x in counts]


def test_several_imatrices_merge(fixture_imatrix, tmp_path):
    out = tmp_path / "s.json"
    a, b = fixture_imatrix("llama", seed=1), fixture_imatrix("llama", seed=2)
    assert run(["inspect", str(a), str(b), "-o", str(out)]) == 0
    s = json.loads(out.read_text())
    assert s["chunk_count"] == 8 and s["tensors"]["output.weight"]["counts"] == [4096]
    single = load_imatrix(a)
    assert s["tensors"]["output.weight"]["importance"] != [round(x, 6) for x in single.importance("output.weight")]


def test_coverage_goes_to_stderr(fixture_model, fixture_imatrix, capsys):
    assert run(["inspect", str(fixture_imatrix("qwen35moe")), "--model", str(fixture_model("qwen35moe"))]) == 0
    cap = capsys.readouterr()
    assert "I104" in cap.err and "MTP" in cap.err
    assert json.loads(cap.out)["schema"] == "recipec.imatrix/1"


def test_unreadable_inputs_exit_2(fixture_model, fixture_imatrix, tmp_path, capsys):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 20)
    assert run(["inspect", str(bad)]) == 2
    assert "M101" in capsys.readouterr().err
    assert run(["inspect", str(tmp_path / "absent.gguf")]) == 2
    assert run(["inspect", str(fixture_model("llama")), str(fixture_imatrix("llama"))]) == 2
    assert run(["inspect", str(fixture_imatrix("llama")), "--model", str(fixture_imatrix("llama"))]) == 2
    assert "M104" in capsys.readouterr().err
    assert run(["inspect", str(fixture_model("llama")), "--model", str(fixture_model("llama"))]) == 2
    second = fixture_model("llama_split").with_name("llama_split-00002-of-00003.gguf")
    assert run(["inspect", str(second)]) == 2
    assert "M102" in capsys.readouterr().err
