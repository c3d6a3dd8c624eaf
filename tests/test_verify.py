"""recipec verify: a GGUF against its plan, tensor by tensor (no llama.cpp needed here)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recipec import filecheck
from recipec.plan import Plan
from recipec.verify import compare, read_tensors
from tests.kit_helpers import compiled_kit, recipec_cli
from tests.script_scan import heredoc_body

FILECHECK = Path(filecheck.__file__)

RECIPE = 'recipe "v"\narch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n'


@pytest.fixture(scope="module")
def kit(fixture_model, tmp_path_factory):
    return compiled_kit(tmp_path_factory.mktemp("verify"), RECIPE, fixture_model("llama"))


def _as_source(plan: Plan, model_path) -> Plan:
    """PLAN rewritten to say exactly what the source file holds."""
    found = {t.name: t for t in read_tensors([model_path])}
    tensors = tuple(t.model_copy(update={"type": found[t.name].type, "bytes": found[t.name].bytes})
                    for t in plan.tensors)
    return plan.model_copy(update={"tensors": tensors})


def test_matching_file_exits_0(kit, fixture_model, tmp_path):
    plan = _as_source(Plan.load(str(kit / "plan.lock.json")), fixture_model("llama"))
    (tmp_path / "p.json").write_text(plan.to_json())
    rc, out, err = recipec_cli("verify", str(tmp_path / "p.json"), str(fixture_model("llama")))
    assert rc == 0 and out == "" and "all 21 tensors match" in err


def test_mismatches_are_listed(kit, fixture_model):
    rc, out, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(fixture_model("llama")))
    assert rc == 1
    assert "output.weight: type planned Q8_0, file has F16" in out
    assert "output.weight: bytes planned" in out
    assert "V401" in err


def test_missing_extra_and_shape(kit, fixture_model):
    plan = _as_source(Plan.load(str(kit / "plan.lock.json")), fixture_model("llama"))
    first, second = plan.tensors[0], plan.tensors[1]
    renamed = first.model_copy(update={"name": "ghost.weight"})
    reshaped = second.model_copy(update={"shape": (7,)})
    plan = plan.model_copy(update={"tensors": (renamed, reshaped) + plan.tensors[2:]})
    diffs = {(d.name, d.kind) for d in compare(plan, read_tensors([fixture_model("llama")]))}
    assert diffs == {("ghost.weight", "missing"), (first.name, "extra"), (second.name, "shape")}


def test_json_format(kit, fixture_model):
    rc, out, _ = recipec_cli("verify", "--format", "json", str(kit / "plan.lock.json"), str(fixture_model("llama")))
    doc = json.loads(out)
    assert rc == 1 and doc["schema"] == "recipec.verify/1" and not doc["ok"]
    assert {"name": "output.weight", "kind": "type", "planned": "Q8_0", "found": "F16"} in doc["differences"]


def test_unreadable_inputs_exit_2(kit, tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 10)
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(tmp_path / "x.gguf"))
    assert rc == 2 and "V403" in err
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(tmp_path / "missing.gguf"))
    assert rc == 2 and "V403" in err
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    rc, _, err = recipec_cli("verify", str(tmp_path / "bad.json"), str(tmp_path / "x.gguf"))
    assert rc == 2 and "V402" in err


# --- the one file check, as recipec verify uses it and as quantize.sh carries it ----------------

def test_filecheck_imports_only_stdlib_and_gguf():
    tree = ast.parse(FILECHECK.read_text(), feature_version=(3, 8))  # the quantizing box's python3
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - set(sys.stdlib_module_names) == {"gguf"}


def _shards(model: Path) -> list[str]:
    return sorted(str(p) for p in model.parent.glob(model.name.replace("-00001-of-", "-*-of-")))


def _embedded_vs_verify(script: str, plan_path: Path, files: list[str]) -> tuple[int, str]:
    """Run the check quantize.sh embeds as quantize.sh runs it, and `recipec verify`; both must agree."""
    proc = subprocess.run([sys.executable, "-", str(plan_path), *files], input=script, capture_output=True,
                          text=True, timeout=120)
    rc, out, _ = recipec_cli("verify", str(plan_path), *files)
    assert (proc.returncode, proc.stdout) == (rc, out), proc.stderr
    return rc, out


def test_embedded_check_is_filecheck_and_agrees_with_verify(kit, fixture_model, tmp_path):
    script = heredoc_body((kit / "quantize.sh").read_text(), "RECIPEC_FILECHECK")
    assert script == FILECHECK.read_text()
    model = fixture_model("llama")
    plan = Plan.load(str(kit / "plan.lock.json"))
    source = _as_source(plan, model)
    first, second, third = source.tensors[:3]
    edited = source.model_copy(update={"tensors": (
        first.model_copy(update={"name": "ghost.weight"}),                        # missing, and first is extra
        second.model_copy(update={"shape": (7,)}),                                # shape
        third.model_copy(update={"type": "Q5_K", "bytes": third.bytes + 1}),      # type and bytes
    ) + source.tensors[3:]})
    cases = {"as planned": (plan, [str(model)]), "source": (source, [str(model)]),
             "edited": (edited, [str(model)]), "twice": (source, [str(model)] * 2),
             "split": (source, _shards(fixture_model("llama_split")))}
    results = {}
    for name, (p, files) in cases.items():
        (tmp_path / f"{name}.json").write_text(p.to_json())
        results[name] = _embedded_vs_verify(script, tmp_path / f"{name}.json", files)
    assert results["source"] == (0, "") and results["split"] == (0, "")
    assert results["as planned"][0] == 1 and "output.weight: type planned Q8_0, file has F16" in results["as planned"][1]
    edits = {re.match(r"(\S+): (\w+)", line).groups() for line in results["edited"][1].splitlines()}
    assert edits == {("ghost.weight", "missing"), (first.name, "in"), (second.name, "shape"), (third.name, "type"),
                     (third.name, "bytes")}
    assert results["twice"][0] == 1 and "in more than one shard" in results["twice"][1]
    assert len(cases["split"][1]) > 1


def test_embedded_check_exit_2_on_unreadable_inputs(kit, tmp_path):
    script = heredoc_body((kit / "quantize.sh").read_text(), "RECIPEC_FILECHECK")
    (tmp_path / "x.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 10)
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    for plan, gguf_path in ((kit / "plan.lock.json", tmp_path / "x.gguf"),
                            (kit / "plan.lock.json", tmp_path / "missing.gguf"),
                            (tmp_path / "bad.json", tmp_path / "x.gguf")):
        proc = subprocess.run([sys.executable, "-", str(plan), str(gguf_path)], input=script, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.startswith("verify: "), proc.stderr
        assert recipec_cli("verify", str(plan), str(gguf_path))[0] == 2


def test_filecheck_as_a_module(kit, fixture_model, capsys):
    assert filecheck.main([str(kit / "plan.lock.json"), str(fixture_model("llama"))]) == 1
    out, err = capsys.readouterr()
    assert out == recipec_cli("verify", str(kit / "plan.lock.json"), str(fixture_model("llama")))[1]
    assert err.startswith("verify: ") and "differ from the plan" in err
    assert filecheck.main([str(kit / "plan.lock.json")]) == 2 and filecheck.main(["--help"]) == 0
