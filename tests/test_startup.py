"""Start-up: each command imports only what it uses (checked on sys.modules in a fresh interpreter)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.kit_helpers import ROOT

EXAMPLE = ROOT / "examples" / "qwen35moe-iq4xs-mtp.recipe"
HEAVY = ("gguf", "numpy", "jinja2", "pydantic", "lark", "yaml")  # yaml: no command may need it

# Run recipec in this interpreter, then report the exit code and which heavy packages got imported.
_RUN = """import io, json, sys, contextlib
from recipec.cli import run
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    rc = run(sys.argv[1:])
print(json.dumps({"rc": rc, "imported": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def _imports(*argv: str) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", _RUN, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    return got["rc"], set(got["imported"])


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("lint", "--help"), ("compile", "--help"),
                                  ("render", "--help"), ("simulate", "--help"), ("measure", "--help"),
                                  ("roles", "--help"), ("card", "--help")])
def test_version_and_help_import_no_heavy_package(argv):
    assert _imports(*argv) == (0, set())


def test_lint_imports_no_gguf_numpy_or_jinja2():
    rc, imported = _imports("lint", str(EXAMPLE))
    assert rc == 0
    assert imported.isdisjoint({"gguf", "numpy", "jinja2", "yaml"}), imported  # the example names a target
    assert {"lark", "pydantic"} <= imported  # it did parse and validate the recipe


def test_a_command_run_imports_no_other_command_module():
    code = ("import sys, io, contextlib\nfrom recipec.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    rc = run(sys.argv[1:])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('recipec.commands.')))")
    proc = subprocess.run([sys.executable, "-c", code, "lint", str(EXAMPLE)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.split() == ["0", "['recipec.commands.lint']"], proc.stderr


def test_help_still_lists_every_command():
    from recipec.cli import COMMANDS

    for argv in (["--help"], ["--help", "lint"]):
        proc = subprocess.run([sys.executable, "-m", "recipec", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0
        listed = re.findall(r"^    (\S+)  ", proc.stdout, flags=re.M)
        assert listed == list(COMMANDS), proc.stdout


def test_fmt_imports_only_the_parser():
    rc, imported = _imports("fmt", "--check", str(EXAMPLE))
    assert (rc, imported) == (0, {"lark"})


def test_compile_still_imports_what_it_uses(tmp_path):
    rc, imported = _imports("compile", str(EXAMPLE), "--model", str(ROOT / "examples/qwen3.5-35b-a3b.manifest.json"),
                            "-o", str(tmp_path / "kit"))
    assert rc == 0 and {"jinja2", "pydantic", "lark", "numpy"} <= imported
    assert (tmp_path / "kit" / "plan.lock.json").is_file()


def test_gguf_tables_read_without_the_package_are_the_packages():
    import gguf

    from recipec import ggml

    standalone = ggml.gguf_constants()
    sizes = {t.name: gguf.GGML_QUANT_SIZES[t] for t in gguf.GGMLQuantizationType if t in gguf.GGML_QUANT_SIZES}
    assert {k: v for k, v in ggml.QUANT_SIZES.items() if k in sizes} == sizes
    assert set(ggml.QUANT_SIZES) - set(sizes) <= {"Q2_0"}  # recipec's own addition
    assert sorted(standalone.TENSOR_NAMES.values()) == sorted(gguf.TENSOR_NAMES.values())
    assert len(standalone.TENSOR_NAMES) > 100
