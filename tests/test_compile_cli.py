"""`recipec compile` and `explain` end to end, the real llama-quantize included."""

import subprocess

import pytest

from recipec.cli import run
from recipec.plan import Plan
from tests.test_quantize_e2e import dry_run_types

RECIPE = '''recipe "e2e"
base Q4_K_M
ladder Q4_K Q5_K Q6_K Q8_0
budget 5.2 bpw
pin output Q8_0
'''


def _compile(tmp_path, model, body=RECIPE, extra=()):
    r = tmp_path / "r.recipe"
    r.write_text(body)
    out = tmp_path / "kit"
    return run(["compile", str(r), "--model", str(model), "-o", str(out), *extra]), r, out


@pytest.mark.parametrize("kind", ["llama", "qwen35moe"])
def test_compile_dry_run_matches_plan(kind, fixture_model, llama_quantize, tmp_path):
    model = fixture_model(kind)
    rc, _, out = _compile(tmp_path, model)
    assert rc == 0
    plan = Plan.load(str(out / "plan.lock.json"))
    lq = plan.llama_quantize
    cmd = [str(llama_quantize), "--dry-run", "--tensor-type-file", str(out / "tensor-types.txt"),
           str(model), str(tmp_path / "o.gguf"), lq.ftype, "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = dry_run_types(proc.stdout + proc.stderr)
    assert got == {t.name: t.type for t in plan.tensors}


def test_check_fresh_then_edit(fixture_model, tmp_path):
    model = fixture_model("llama")
    rc, r, out = _compile(tmp_path, model)
    assert rc == 0
    args = ["compile", str(r), "--model", str(model), "-o", str(out), "--check"]
    assert run(args) == 0
    r.write_text(RECIPE.replace("5.2 bpw", "6 bpw"))
    before = (out / "plan.lock.json").read_text()
    assert run(args) == 1
    assert (out / "plan.lock.json").read_text() == before


def test_nothing_written_on_error(fixture_model, tmp_path):
    rc, _, out = _compile(tmp_path, fixture_model("llama"), RECIPE.replace("5.2 bpw", "1 KiB"))
    assert rc == 1 and not out.exists()
    assert not list(tmp_path.glob(".recipec-*"))


def test_arch_mismatch(fixture_model, tmp_path, capsys):
    rc, _, out = _compile(tmp_path, fixture_model("llama"), RECIPE + "arch qwen35moe\n")
    assert rc == 1 and not out.exists()
    assert "R303" in capsys.readouterr().err


def test_selector_matches_nothing_has_span(fixture_model, tmp_path, capsys):
    rc, r, _ = _compile(tmp_path, fixture_model("llama"), RECIPE + "floor attn_qq Q5_K\n")
    err = capsys.readouterr().err
    assert rc == 1 and f"{r}:6:7" in err and "R301" in err and "attn_q" in err


def test_explain(fixture_model, tmp_path, capsys):
    r = tmp_path / "r.recipe"
    r.write_text(RECIPE)
    model = str(fixture_model("llama"))
    assert run(["explain", str(r), "--model", model, "output.weight"]) == 0
    out = capsys.readouterr().out
    assert "pin Q8_0" in out and ":5:1" in out and "pinned" in out
    assert run(["explain", str(r), "--model", model, "blk.0.attn_q.weight"]) == 0
    assert "candidates" in capsys.readouterr().out
    assert run(["explain", str(r), "--model", model, "blk.0.attn_qq.weight"]) == 1
    assert "R308" in capsys.readouterr().err
