"""The CLI contract for lint and fmt: exit codes, output formats, --strict, --check, --diff."""

import json
from pathlib import Path

import jsonschema

from recipec.cli import run

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "qwen35moe-iq4xs-mtp.recipe"


def write(tmp_path, text, name="r.recipe"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_lint_example_is_clean(capsys):
    assert run(["lint", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == ""


def test_exit_codes(tmp_path, capsys):
    warn = write(tmp_path, 'recipe "a"\nfloor attn_qq Q5_K\n', "w.recipe")
    bad = write(tmp_path, 'recipe "a"\nbase F16\n', "e.recipe")
    assert run(["lint", warn]) == 0
    assert run(["lint", "--strict", warn]) == 1
    assert run(["lint", bad]) == 1
    assert run(["lint", str(tmp_path / "missing.recipe")]) == 2
    assert run(["lint", str(tmp_path)]) == 2
    assert run(["lint"]) == 2
    assert run(["nonsense"]) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "P009" in out.out


def test_text_format_has_position_caret_and_hint(tmp_path, capsys):
    path = write(tmp_path, 'recipe "a"\nbase Q4_KM\n')
    assert run(["lint", path]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}:2:6: P004 `Q4_KM` is not a llama-quantize FTYPE"
    assert out[1] == "    base Q4_KM"
    assert out[2] == "         ^^^^^"
    assert "did you mean Q4_K_M?" in out[3]


def test_github_format(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, 'recipe "a"\nbase F16\nfloor attn_qq Q5_K\n')
    assert run(["lint", "--format", "github", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"::error file={path},line=2,col=6,title=L004 base-disables-rules::")
    assert lines[1].startswith(f"::warning file={path},line=3,col=7,")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run(["lint", path])
    assert capsys.readouterr().out.startswith("::error ")


def test_json_format(tmp_path, capsys):
    path = write(tmp_path, 'recipe "a"\nbase F16\n')
    run(["lint", "--format", "json", path])
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "recipec.diagnostics/1"
    d = data["diagnostics"][0]
    assert (d["code"], d["name"], d["severity"], d["span"]["line"], d["span"]["col"]) == \
        ("L004", "base-disables-rules", "error", 2, 6)


def test_sarif_validates(tmp_path, capsys):
    path = write(tmp_path, 'recipe "a"\nbase F16\nfloor attn_qq Q5_K\nladder Q4_K NVFP4\n')
    run(["lint", "--format", "sarif", path])
    log = json.loads(capsys.readouterr().out)
    schema = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-required.json").read_text())
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"L004", "L011", "L006"}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_fmt_check_diff_and_write(tmp_path, capsys):
    path = write(tmp_path, 'recipe "a"\nfloor attn_q Q5_K   # keep\n')
    assert run(["fmt", "--check", path]) == 1
    assert run(["fmt", "--diff", path]) == 1
    assert "+floor   attn_q Q5_K  # keep" in capsys.readouterr().out
    assert Path(path).read_text() == 'recipe "a"\nfloor attn_q Q5_K   # keep\n'
    assert run(["fmt", path]) == 0
    assert Path(path).read_text() == 'recipe "a"\nfloor   attn_q Q5_K  # keep\n'
    assert run(["fmt", "--check", path]) == 0


def test_fmt_bad_recipe_is_left_alone(tmp_path, capsys):
    path = write(tmp_path, 'recipe "a"\nflor attn_q Q5_K\n')
    assert run(["fmt", path]) == 1  # a syntax error is a finding, as in lint
    assert "P002" in capsys.readouterr().err
    assert Path(path).read_text() == 'recipe "a"\nflor attn_q Q5_K\n'


def test_python_dash_m_and_version():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "recipec", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("recipec ")
