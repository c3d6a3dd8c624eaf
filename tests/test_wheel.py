"""A plain (non-editable) install from a built wheel gives a working `recipec` anywhere."""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_wheel_install_lints_from_another_directory(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("recipec-*.whl"))
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert "recipec/_data/grammar/recipe.lark" in names
    assert any(n.startswith("recipec/_data/templates/") for n in names) or not any(
        (ROOT / "templates").glob("*.jinja"))
    assert "recipec/profiles/cuda-blackwell.json" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    example = shutil.copy(ROOT / "examples" / "qwen35moe-iq4xs-mtp.recipe", elsewhere / "r.recipe")
    ok = subprocess.run([str(bindir / "recipec"), "lint", str(example)], cwd=elsewhere,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (elsewhere / "bad.recipe").write_text('recipe "x"\nflor attn_q Q5_K\n')
    bad = subprocess.run([str(bindir / "recipec"), "lint", "bad.recipe"], cwd=elsewhere,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "bad.recipe:2:1: P002" in bad.stdout
    # the installed package is the one running, not the source checkout
    where = subprocess.run([str(bindir / "python"), "-c", "import recipec; print(recipec.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True).stdout
    assert str(env_dir) in where
