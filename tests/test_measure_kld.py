"""`recipec measure --kld TEXT`: KLD probes with the real llama-perplexity and llama-quantize on a
small fixture (random weights: the mechanics are tested, not the quality). The probes run, ΔKLD
and α are recorded and agree with the recorded numbers, the spliced probe file is what quantizing
with rules writes, a run without its summary is retried (bounded), cached probes are not run
again, compile reads the fitted α, and the kit's measure.sh drives it all on the real tools."""

from __future__ import annotations

import json
import random
import statistics
import stat
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from recipec.cli import run
from recipec.diagnostics import Severity
from recipec.errorfile import load_errors
from recipec.imatrix import ImatrixStats
from recipec.loaders import load_imatrix, load_model
from recipec.measure import fit
from recipec.measure.perplexity import parse_kld
from recipec.measure.probes import _assess
from recipec.measure.splice import splice
from recipec.modelinfo import TensorInfo
from recipec.resolve.weights import alpha_of
from tests.kit_helpers import BASH, compiled_kit, recipec_cli, script_env

KIND = "llama"
WORDS = "the of and to in is was for on that with as it by at from his an were are which this be".split()


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    """A deterministic text: ~1,500 words of a seeded word sequence (enough for 4 chunks of 128)."""
    rng = random.Random(13)
    path = tmp_path_factory.mktemp("text") / "probe.txt"
    path.write_text(" ".join(rng.choice(WORDS) for _ in range(1500)) + "\n")
    return path


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory, llama_perplexity) -> Path:
    """A llama-perplexity that logs its arguments to $PPL_LOG and, with $PPL_CUT `first` or `always`,
    drops the KLD summary of a run (the first one, or every one). One script for every test: its
    sha256 is part of the probes' cache key."""
    script = tmp_path_factory.mktemp("bin") / "llama-perplexity"
    real = llama_perplexity
    script.write_text(f"""#!/bin/sh
[ -n "${{PPL_LOG:-}}" ] && echo "$*" >> "$PPL_LOG"
case "$*" in *" --kl-divergence")
    cut=0
    case "${{PPL_CUT:-}}" in
        always) cut=1 ;;
        first) [ -e "$PPL_LOG.cut" ] || {{ : > "$PPL_LOG.cut"; cut=1; }} ;;
    esac
    if [ "$cut" = 1 ]; then "{real}" "$@" 2>&1 | sed '/KL divergence statistics/,$d'; exit 0; fi ;;
esac
exec "{real}" "$@"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _calls(log: Path) -> list[str]:
    return [c for c in log.read_text().splitlines() if c != "--version"] if log.is_file() else []


def _measure(model, imatrix, out: Path, quantize, perplexity, text, *extra: str) -> int:
    return run(["measure", str(model), "--imatrix", str(imatrix), "-o", str(out), "--types", "Q4_K", "Q8_0",
                "--llama-quantize", str(quantize), "--llama-perplexity", str(perplexity), "--kld", str(text),
                "--ctx", "128", "--chunks", "4", "--threads", "1", "--work", str(out.parent / "work"), *extra])


@pytest.fixture(scope="module")
def probed(tmp_path_factory, fixture_model, fixture_imatrix, llama_quantize, wrapper, text):
    """The band-probed error file, its run's calls (the first KLD run loses its summary once)."""
    d = tmp_path_factory.mktemp("kld")
    out, log = d / "errors.json", d / "calls.log"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPL_LOG", str(log))
        mp.setenv("PPL_CUT", "first")
        assert _measure(fixture_model(KIND), fixture_imatrix(KIND), out, llama_quantize, wrapper, text) == 0
    return {"dir": d, "out": out, "errors": load_errors(str(out)), "calls": _calls(log)}


def _entries(errors, kind: str) -> list[dict]:
    return [p for p in errors.probes if p["kind"] == kind]


def _runs(d) -> dict[str, dict]:
    """How each run went (attempts, seconds): kept in the work directory's cache, not in the error
    file, which the same inputs must write byte for byte."""
    (work,) = (d / "work").glob("kld-*")
    return {p.stem: json.loads(p.read_text()) for p in work.glob("*.json")}


def test_probe_runs_and_records(probed):
    errors, calls = probed["errors"], probed["calls"]
    probes = _entries(errors, "probe")
    groups = [p["group"] for p in probes]
    assert sorted(groups) == sorted(["token_embd", "output"] + [f"{r}@{b}" for b in ("first", "last") for r in
                                    ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")])
    # the base run, the all-high run (its summary dropped once by the wrapper), one run per probe;
    # the real binary also loses its summary now and then: every attempt is recorded
    (high,) = _entries(errors, "high")
    runs = _runs(probed["dir"])
    assert sum(not c.endswith("--kl-divergence") for c in calls) == runs["base"]["attempts"]
    assert len(calls) == sum(r["attempts"] for r in runs.values())
    assert runs["high"]["attempts"] >= 2 and high["type"] == "Q8_0"
    assert not any(k in p for p in errors.probes for k in ("attempts", "seconds", "splice_seconds"))
    assert "Q3_K" in errors.protocol.types  # the probe type's t² is measured with the others
    for p in probes:
        assert p["tensors"] and runs[f"probe-{p['group']}"]["seconds"] > 0
        assert p["kld_text"].startswith("Mean KLD:") and p["kld_err"] >= 0
        assert p["delta_kld"] == pytest.approx(p["kld"] - high["kld"], abs=1e-12)
    (fitted,) = _entries(errors, "fit")
    assert fitted["granularity"] == "band" and fitted["probe_type"] == "Q3_K" and fitted["probes"] == len(probes)
    assert fitted["loo_pairs"] == len(probes) and -1 <= fitted["loo_spearman"] <= 1


def _median_importance(imatrix: ImatrixStats, model) -> float:
    return statistics.median(sum(s.importance) / len(s.importance)
                             for t in model.tensors if (s := imatrix.get(t.name)) is not None)


def test_alpha_agrees_with_the_recorded_numbers(probed, fixture_model, fixture_imatrix):
    errors = probed["errors"]
    model = load_model(fixture_model(KIND))
    scale = _median_importance(load_imatrix(fixture_imatrix(KIND), model), model)
    (fitted,) = _entries(errors, "fit")
    assert fitted["unweighted_scale"] == pytest.approx(scale, rel=1e-12)
    assert not errors.tensors["token_embd.weight"].weighted
    for p in _entries(errors, "probe"):
        den = sum(errors.tensors[n].energy * errors.tensors[n].t2["Q3_K"]
                  * (1.0 if errors.tensors[n].weighted else scale) for n in p["tensors"])
        assert p["denominator"] == pytest.approx(den, rel=1e-12)
        assert p["delta_kld_used"] == max(p["delta_kld"], fit.MIN_DELTA)
        assert errors.alpha[p["group"]] == pytest.approx(p["delta_kld_used"] / den, rel=1e-12)
    by_role: dict[str, list[dict]] = {}
    for p in _entries(errors, "probe"):
        by_role.setdefault(p["role"], []).append(p)
    for role, ps in by_role.items():  # the pooled ROLE key, for tensors no probe covered
        pooled = sum(p["delta_kld_used"] for p in ps) / sum(p["denominator"] for p in ps)
        assert errors.alpha[role] == pytest.approx(pooled, rel=1e-12)


def test_compile_reads_the_fitted_alpha(probed, fixture_model, fixture_imatrix, tmp_path):
    """With the file, compile's cost of a tensor at the probe type is the ΔKLD its probe measured."""
    errors = probed["errors"]
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "r"\nladder Q3_K Q4_K Q8_0\nbudget 4.5 bpw\n')
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(fixture_model(KIND)), "--imatrix",
                             str(fixture_imatrix(KIND)), "--errors", str(probed["out"]), "-o", str(tmp_path / "kit"))
    assert rc == 0, err
    plan = json.loads((tmp_path / "kit" / "plan.lock.json").read_text())
    assert plan["error_model"] == "measured+kld"
    weight = {g["tensors"][0]: g["weight"] for g in plan["problem"]["groups"] if len(g["tensors"]) == 1}
    probes = {p["group"]: p for p in _entries(errors, "probe") if len(p["tensors"]) == 1}
    for group in ("token_embd", "output", "attn_v@first", "ffn_down@last"):
        (name,) = probes[group]["tensors"]
        cost = weight[name] * errors.tensors[name].t2["Q3_K"]
        assert cost == pytest.approx(probes[group]["delta_kld_used"], rel=1e-9), group


def test_resume_runs_nothing_cached(probed, fixture_model, fixture_imatrix, llama_quantize, wrapper, text,
                                   monkeypatch):
    d = probed["dir"]
    log = d / "resume.log"
    monkeypatch.setenv("PPL_LOG", str(log))
    out = d / "again.json"
    assert _measure(fixture_model(KIND), fixture_imatrix(KIND), out, llama_quantize, wrapper, text) == 0
    assert _calls(log) == []  # every probe cached: llama-perplexity not run
    again = load_errors(str(out))
    assert again.alpha == probed["errors"].alpha
    assert out.read_bytes() == probed["out"].read_bytes()  # same inputs, same file (no timings in it)
    # a run killed before one probe finished: only that probe (and the base logits it needs) run again
    (work,) = (d / "work").glob("kld-*")
    (work / "probe-attn_v@last.json").unlink()
    log.unlink()
    assert _measure(fixture_model(KIND), fixture_imatrix(KIND), out, llama_quantize, wrapper, text) == 0
    calls = _calls(log)
    assert {c.endswith(".part") for c in calls} == {True, False} and calls[-1].endswith("--kl-divergence")
    assert {c.split("--kl-divergence-base ")[1].split()[0] for c in calls} == {str(work / "base.kld.part"),
                                                                             str(work / "base.kld")}
    runs = _runs(d)
    assert len(calls) == runs["probe-attn_v@last"]["attempts"] + runs["base"]["attempts"]
    assert not list(work.glob("*.gguf")) and not (work / "base.kld").exists()  # large files removed


def test_missing_summary_is_retried_a_bounded_number_of_times(tmp_path, fixture_model, fixture_imatrix,
                                                              llama_quantize, wrapper, text, capsys, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PPL_LOG", str(log))
    monkeypatch.setenv("PPL_CUT", "always")
    out = tmp_path / "e.json"
    assert _measure(fixture_model(KIND), fixture_imatrix(KIND), out, llama_quantize, wrapper, text) == 2
    err = capsys.readouterr().err
    assert "printed no summary for all Q8_0 in 5 runs" in err and not out.exists()
    assert sum(c.endswith("--kl-divergence") for c in _calls(log)) == 5


def test_role_and_tensor_granularity(probed, fixture_model, fixture_imatrix, llama_quantize, wrapper, text):
    d = probed["dir"]
    model, imatrix = fixture_model(KIND), fixture_imatrix(KIND)
    assert _measure(model, imatrix, d / "role.json", llama_quantize, wrapper, text, "--probe", "role") == 0
    role = load_errors(str(d / "role.json"))
    assert set(role.alpha) == {"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
                               "ffn_up", "ffn_down"}
    assert _measure(model, imatrix, d / "t.json", llama_quantize, wrapper, text, "--probe", "tensor") == 0
    per = load_errors(str(d / "t.json"))
    probes = _entries(per, "probe")
    assert len(probes) == len(per.tensors) and all(p["tensors"] == [p["group"]] for p in probes)
    info = load_model(model)
    t = next(x for x in info.tensors if x.name == "blk.1.attn_v.weight")
    assert alpha_of(per.alpha, t, info.trunk_layers) == per.alpha["blk.1.attn_v.weight"]
    assert per.alpha["attn_v@last"] == per.alpha["blk.1.attn_v.weight"]  # pooled over the band's one tensor


def test_splice_is_what_quantizing_with_rules_writes(tmp_path, fixture_model, fixture_imatrix, llama_quantize):
    model, imatrix = fixture_model(KIND), fixture_imatrix(KIND)

    def quantize(out: Path, *rules: str) -> Path:
        args = [str(llama_quantize), "--pure", "--imatrix", str(imatrix)]
        for r in rules:
            args += ["--tensor-type", r]
        subprocess.run([*args, str(model), str(out), "Q8_0"], check=True, capture_output=True)
        return out

    high = quantize(tmp_path / "high.gguf", ".=q8_0")
    low = quantize(tmp_path / "low.gguf", ".=q3_k")
    group = {"blk.0.attn_v.weight", "output.weight"}
    splice(high, low, group, tmp_path / "probe.gguf")
    direct = quantize(tmp_path / "direct.gguf", r"^blk\.0\.attn_v\.weight$=q3_k", r"^output\.weight$=q3_k",
                      ".=q8_0")
    a, b = gguf.GGUFReader(tmp_path / "probe.gguf"), gguf.GGUFReader(direct)
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    for x, y in zip(a.tensors, b.tensors):
        assert x.tensor_type == y.tensor_type and bytes(x.data) == bytes(y.data), x.name
        assert (x.tensor_type == gguf.GGMLQuantizationType.Q3_K) == (x.name in group)


def test_parse_and_fit_units():
    full = "Mean    KLD:   0.008150 ±   0.000105\n99.0%   KLD:   0.011940\nSame top p: 97.222 ± 1.037 %\n"
    assert parse_kld(full)["kld"] == 0.00815 and parse_kld(full)["kld_err"] == 0.000105
    assert parse_kld(full.rsplit("Same", 1)[0]) is None
    assert fit.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert fit.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    probes = [{"group": f"r@{b}", "role": "r", "band": b, "granularity": "band", "denominator": 1.0,
               "delta_kld": d, "delta_kld_used": d, "alpha": d} for b, d in
              (("first", 0.004), ("early", 0.003), ("mid", 0.002), ("last", 0.001))]
    rho, pairs, notes = _assess(probes)  # predicted from the others' pooled α: reversed order
    assert pairs == 4 and rho == pytest.approx(-1.0)
    assert [(n.code, n.severity) for n in notes] == [("M107", Severity.WARNING)]
    assert probes[0]["loo_predicted"] == pytest.approx(0.002)
    assert fit.alphas(probes)["r"] == pytest.approx(0.0025)


def test_alpha_of_reads_tensor_keys():
    t = TensorInfo(name="blk.3.attn_v.weight", shape=(64, 64), type="F16", role="attn_v", layer=3, mtp=False)
    assert alpha_of({"attn_v": 1.0}, t, 8) == 1.0
    assert alpha_of({"attn_v": 1.0, "attn_v@mid": 2.0}, t, 8) == 2.0
    assert alpha_of({"attn_v": 1.0, "attn_v@mid": 2.0, "blk.3.attn_v.weight": 3.0}, t, 8) == 3.0
    assert alpha_of({"blk.4.attn_v.weight": 3.0}, t, 8) is None


def test_kit_measure_sh_end_to_end(tmp_path, fixture_model, fixture_imatrix, llama_quantize, llama_perplexity,
                                   text):
    """The kit's measure.sh on the real tools writes errors.json beside the kit; compile reads it."""
    model, imatrix = fixture_model(KIND), fixture_imatrix(KIND)
    recipe = 'recipe "m"\nladder Q3_K Q4_K Q8_0\nbudget 4.5 bpw\n'
    kit = compiled_kit(tmp_path, recipe, model, "--imatrix", str(imatrix))
    env = script_env(tmp_path, RECIPEC=str(Path(sys.executable).with_name("recipec")),
                     LLAMA_QUANTIZE=str(llama_quantize), LLAMA_PERPLEXITY=str(llama_perplexity))
    proc = subprocess.run([BASH, str(kit / "measure.sh"), "--model", str(model), "--imatrix", str(imatrix),
                           "--kld", str(text), "--probe", "role", "--", "--ctx", "128", "--chunks", "4",
                           "--threads", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    errors = load_errors(str(kit / "errors.json"))
    assert set(errors.protocol.types) == {"Q3_K", "Q4_K", "Q8_0"} and "attn_v" in errors.alpha
    rc, _, err = recipec_cli("compile", str(tmp_path / "r.recipe"), "--model", str(model), "--imatrix", str(imatrix),
                             "--errors", str(kit / "errors.json"), "-o", str(tmp_path / "kit2"))
    assert rc == 0, err
    assert json.loads((tmp_path / "kit2" / "plan.lock.json").read_text())["error_model"] == "measured+kld"
