"""Without jinja2 (or another dependency), the commands that need it fail clearly and write nothing;
the others keep working."""

from __future__ import annotations

import subprocess
import sys

from tests.kit_helpers import ROOT

# Block the package for this interpreter: `import jinja2` raises ModuleNotFoundError.
_RUN = "import sys; sys.modules['jinja2'] = None; from recipec.cli import run; sys.exit(run(sys.argv[1:]))"


def _recipec(*argv: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _RUN, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_compile_without_jinja2_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "kit"
    proc = _recipec("compile", str(ROOT / "examples/qwen35moe-iq4xs-mtp.recipe"),
                    "--model", str(ROOT / "examples/qwen3.5-35b-a3b.manifest.json"), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "U003 `recipec compile` needs the Python package `jinja2`, which is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_render_without_jinja2_fails(tmp_path):
    plan = ROOT / "tests/cases/recipes/qwen35moe-fit-24gib/plan.lock.json"
    proc = _recipec("render", str(plan), "-o", str(tmp_path / "kit"), cwd=tmp_path)
    assert proc.returncode == 2 and "U003" in proc.stderr and "jinja2" in proc.stderr
    assert not (tmp_path / "kit").exists()


def test_lint_without_jinja2_still_works(tmp_path):
    proc = _recipec("lint", str(ROOT / "examples/qwen35moe-iq4xs-mtp.recipe"), cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")


# The command modules import their heavy dependencies when they run, so a missing package is found
# then (not while the argument parser is built): U003 names it, whichever command needs it.
_BLOCK_ALL = ("import sys\nfor m in ('jinja2', 'gguf', 'numpy', 'pydantic', 'lark'): sys.modules[m] = None\n"
              "from recipec.cli import run; sys.exit(run(sys.argv[1:]))")


def test_version_and_help_need_no_dependency(tmp_path):
    for argv in (["--version"], ["--help"], ["compile", "--help"]):
        proc = subprocess.run([sys.executable, "-c", _BLOCK_ALL, *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    assert "compile" in proc.stdout and "--imatrix" in proc.stdout


def test_missing_package_found_at_run_time_is_named(tmp_path):
    run = "import sys; sys.modules['{}'] = None; from recipec.cli import run; sys.exit(run(sys.argv[1:]))"
    cases = [("gguf", ["lint", str(ROOT / "examples/qwen35moe-iq4xs-mtp.recipe")], "lint"),
             ("lark", ["fmt", "--check", str(ROOT / "examples/qwen35moe-iq4xs-mtp.recipe")], "fmt"),
             ("pydantic", ["diff", str(ROOT / "tests/cases/recipes/qwen35moe-fit-24gib/plan.lock.json"),
                           str(ROOT / "tests/cases/recipes/qwen35moe-fit-24gib/plan.lock.json")], "diff")]
    for package, argv, command in cases:
        proc = subprocess.run([sys.executable, "-c", run.format(package), *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (package, proc.stderr)
        assert (f"U003 `recipec {command}` needs the Python package `{package}`, which is not installed"
                in proc.stderr), proc.stderr
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
