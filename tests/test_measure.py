"""`recipec measure` on the real llama-quantize: every fixture architecture, numbers checked against
direct numpy computations on files the binary quantized whole, cache and resume, determinism, errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest

from recipec import fixtures
from recipec.cli import run
from recipec.errorfile import load_errors, tensors_digest
from recipec.loaders import load_model
from recipec.measure import Sampling
from recipec.mixture import is_quantizable

TYPES = ["Q8_0", "Q4_K", "Q2_K"]


def _measure(model: Path, out: Path, quantize: Path, *extra: str, imatrix: Path | None = None) -> int:
    args = ["measure", str(model), "-o", str(out), "--llama-quantize", str(quantize), *extra]
    return run(args + (["--imatrix", str(imatrix)] if imatrix else []))


@pytest.fixture(scope="module")
def measured(tmp_path_factory, fixture_model, fixture_imatrix, llama_quantize):
    """measured(kind, with_imatrix) -> the error file of the fixture (measured once per module)."""
    cache: dict = {}

    def get(kind: str, with_imatrix: bool):
        if (kind, with_imatrix) not in cache:
            out = tmp_path_factory.mktemp(f"m-{kind}") / "errors.json"
            rc = _measure(fixture_model(kind), out, llama_quantize, "--types", *TYPES,
                          imatrix=fixture_imatrix(kind) if with_imatrix else None)
            assert rc == 0
            cache[kind, with_imatrix] = load_errors(str(out))
        return cache[kind, with_imatrix]

    return get


@pytest.mark.parametrize("with_imatrix", [True, False], ids=["imatrix", "no-imatrix"])
@pytest.mark.parametrize("kind", fixtures.KINDS)
def test_every_architecture(kind, with_imatrix, measured, fixture_model, fixture_imatrix):
    errors = measured(kind, with_imatrix)
    info = load_model(fixture_model(kind))
    quantized = [t for t in info.tensors if is_quantizable(t, arch=info.arch)]
    assert list(errors.tensors) == sorted(t.name for t in quantized)
    assert errors.model.tensors_sha256 == tensors_digest(info.tensors)
    assert errors.model.tensor_count == len(info.tensors) and errors.model.arch == info.arch
    assert errors.protocol.types == tuple(TYPES) and errors.protocol.llama_cpp.startswith("0.")
    assert (errors.protocol.imatrix_sha256 is not None) == with_imatrix
    with_data = set(json.loads(_summary(fixture_imatrix(kind)))) if with_imatrix else set()
    for t in quantized:
        e = errors.tensors[t.name]
        assert e.weighted == (t.name in with_data), t.name
        outer = t.shape[2] if len(t.shape) > 2 else 1
        assert 0 < e.energy and e.rows_sampled == outer * min(t.shape[1], -(-32 // outer))
        assert set(e.t2) == set(TYPES)
        if set(e.written.values()) == {"F16"}:  # rows of 1000: every fallback ends at F16
            assert set(e.t2.values()) == {0.0}
        else:
            assert e.t2["Q8_0"] < e.t2["Q4_K"] < e.t2["Q2_K"] < 1, (t.name, e.t2)


def _summary(imatrix: Path) -> str:
    from recipec.loaders import load_imatrix

    return json.dumps(sorted(load_imatrix(imatrix).tensors))


def test_flags_and_fallbacks(measured):
    llama = measured("llama", True)
    assert not llama.tensors["token_embd.weight"].weighted  # a lookup: never in an imatrix
    assert llama.tensors["output.weight"].weighted
    down = llama.tensors["blk.0.ffn_down.weight"]  # rows of 800: K-quants fall back
    assert down.written == {"Q8_0": "Q8_0", "Q4_K": "Q5_0", "Q2_K": "Q4_0"}
    assert llama.tensors["blk.0.attn_q.weight"].written == {t: t for t in TYPES}
    mtp = measured("qwen35moe", True)  # the imatrix has no MTP data (collected without --nextn)
    assert not mtp.tensors["blk.2.nextn.eh_proj.weight"].weighted
    assert not mtp.tensors["blk.2.ffn_up_exps.weight"].weighted
    assert mtp.tensors["blk.1.ffn_up_exps.weight"].weighted
    assert mtp.tensors["blk.0.ffn_up_exps.weight"].rows_sampled == 4 * 8  # 4 experts x 8 rows: 32 in all


def _quantize_whole(quantize: Path, model: Path, imatrix: Path, type_name: str, out: Path) -> gguf.GGUFReader:
    subprocess.run([str(quantize), "--pure", "--imatrix", str(imatrix), "--tensor-type", f".={type_name.lower()}",
                    str(model), str(out), "Q8_0"], check=True, capture_output=True)
    return gguf.GGUFReader(out)


def _imatrix_weights(imatrix: Path, name: str) -> np.ndarray:
    r = gguf.GGUFReader(imatrix)
    t = {x.name: x for x in r.tensors}
    s2 = np.asarray(t[f"{name}.in_sum2"].data, dtype=np.float64)
    counts = np.asarray(t[f"{name}.counts"].data, dtype=np.float64).reshape(-1, 1)
    s2 = s2.reshape(counts.shape[0], -1)
    return np.where(counts > 0, s2 / np.where(counts > 0, counts, 1), 1.0)


@pytest.mark.parametrize("kind,name", [("llama", "blk.1.attn_q.weight"), ("qwen3moe", "blk.0.ffn_up_exps.weight")])
def test_numbers_match_a_direct_computation(kind, name, tmp_path, fixture_model, fixture_imatrix, llama_quantize):
    """t² of the sampled rows equals numpy's on the same rows of the model quantized WHOLE by the
    binary (rows are independent); energy equals Σ w W² over all rows when every row is sampled."""
    model, imatrix = fixture_model(kind), fixture_imatrix(kind)
    src = {t.name: t for t in gguf.GGUFReader(model).tensors}[name]
    whole = {t.name: t for t in _quantize_whole(llama_quantize, model, imatrix, "Q4_K", tmp_path / "q.gguf").tensors}
    w = _imatrix_weights(imatrix, name)[:, None, :]  # [expert, 1, ne0]
    ne0, ne1 = int(src.shape[0]), int(src.shape[1])
    W = np.asarray(src.data, dtype=np.float64).reshape(-1, ne1, ne0)
    Q = gguf.quants.dequantize(whole[name].data, gguf.GGMLQuantizationType.Q4_K).astype(np.float64).reshape(W.shape)
    rows = Sampling(1 / 32, 32, 0).rows(name, ne1, W.shape[0])
    direct = (w * (W - Q)[:, rows] ** 2).sum() / (w * W[:, rows] ** 2).sum()
    assert _measure(model, tmp_path / "e.json", llama_quantize, "--types", "Q4_K", imatrix=imatrix) == 0
    got = load_errors(str(tmp_path / "e.json")).tensors[name]
    assert got.t2["Q4_K"] == pytest.approx(direct, rel=1e-9)
    assert got.energy == pytest.approx((w * W[:, rows] ** 2).sum() * ne1 / len(rows), rel=1e-9)
    assert _measure(model, tmp_path / "all.json", llama_quantize, "--types", "Q4_K", "F16",
                    "--row-fraction", "1", imatrix=imatrix) == 0
    full = load_errors(str(tmp_path / "all.json")).tensors[name]
    assert full.rows_sampled == W.shape[0] * ne1
    assert full.energy == pytest.approx((w * W ** 2).sum(), rel=1e-9)
    assert full.t2["Q4_K"] == pytest.approx((w * (W - Q) ** 2).sum() / (w * W ** 2).sum(), rel=1e-9)
    assert full.t2["F16"] == 0.0  # the source is F16: nothing lost


def _counting_wrapper(tmp_path: Path, real: Path, fail_on: str | None = None) -> tuple[Path, Path]:
    """A llama-quantize that logs each call's arguments (and fails when they mention FAIL_ON)."""
    log = tmp_path / "calls.log"
    script = tmp_path / "llama-quantize"
    fail = f'case "$*" in *"={fail_on}"*) echo "boom: cannot write"; exit 3;; esac\n' if fail_on else ""
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{fail}exec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def test_resume_and_determinism(tmp_path, fixture_model, fixture_imatrix, llama_quantize):
    model, imatrix = fixture_model("qwen3moe"), fixture_imatrix("qwen3moe")
    wrapper, log = _counting_wrapper(tmp_path, llama_quantize)
    work = tmp_path / "work"
    assert _measure(model, tmp_path / "a.json", wrapper, "--types", "Q4_K", "--work", str(work), imatrix=imatrix) == 0
    (done,) = work.glob("*/Q4_K.json")
    before = done.stat().st_mtime_ns
    # a run killed after Q4_K: the rerun quantizes Q8_0 only
    assert _measure(model, tmp_path / "b.json", wrapper, "--types", "Q4_K", "Q8_0", "--work", str(work),
                    imatrix=imatrix) == 0
    calls = log.read_text().splitlines()
    assert [c.split("=")[-1].split()[0] for c in calls] == ["q4_k", "q8_0"]
    assert done.stat().st_mtime_ns == before
    assert not list(work.glob("*/*.gguf.part*")) and not list(work.glob("*/Q*.gguf"))
    # a fresh work directory gives the same bytes
    assert _measure(model, tmp_path / "c.json", llama_quantize, "--types", "Q4_K", "Q8_0",
                    "--work", str(tmp_path / "fresh"), imatrix=imatrix) == 0
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "c.json").read_bytes()
    assert (tmp_path / "a.json").read_bytes() != (tmp_path / "b.json").read_bytes()


def test_types_that_cannot_be_written_are_absent(tmp_path, fixture_model, llama_quantize, capsys):
    assert _measure(fixture_model("llama"), tmp_path / "e.json", llama_quantize,
                    "--types", "NVFP4", "IQ2_XXS", "Q8_0") == 0
    err = capsys.readouterr().err
    assert "S209" in err and "IQ2_XXS" in err  # needs an imatrix, none given
    assert "S207" in err and "NVFP4 not measured on 2 tensor(s)" in err
    errors = load_errors(str(tmp_path / "e.json"))
    assert errors.protocol.types == ("NVFP4", "Q8_0")
    assert "NVFP4" not in errors.tensors["blk.0.ffn_down.weight"].t2  # rows of 800: no fallback
    assert errors.tensors["blk.0.attn_q.weight"].written["NVFP4"] == "NVFP4"
    assert not any(e.weighted for e in errors.tensors.values())


def test_errors_are_diagnostics(tmp_path, fixture_model, fixture_imatrix, llama_quantize, capsys):
    model = fixture_model("llama")
    out = tmp_path / "e.json"
    assert _measure(model, out, tmp_path / "nothing") == 2
    assert "U003" in capsys.readouterr().err
    (tmp_path / "bad.gguf").write_bytes(b"GGUF\x03\x00\x00\x00trunc")
    assert _measure(tmp_path / "bad.gguf", out, llama_quantize) == 2
    assert "M101" in capsys.readouterr().err
    summary = tmp_path / "summary.json"
    assert run(["inspect", str(fixture_imatrix("llama")), "-o", str(summary)]) == 0
    assert _measure(model, out, llama_quantize, imatrix=summary) == 2
    assert "I106" in capsys.readouterr().err
    wrapper, _ = _counting_wrapper(tmp_path, llama_quantize, fail_on="q2_k")
    assert _measure(model, out, wrapper, "--types", "Q8_0", "Q2_K") == 2
    err = capsys.readouterr().err
    assert "U002" in err and "failed writing Q2_K" in err and "boom" in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written
    assert run(["measure", str(model), "-o", str(out), "--llama-quantize", str(llama_quantize),
                "--types", "Q9_K"]) == 2
    assert run(["measure", str(model), "-o", str(out), "--row-fraction", "0"]) == 2
    assert not os.path.exists(out)
