"""Regenerate the curated recipes' golden kits under tests/cases/recipes/ (never edit them by hand).

    python scripts/regen_recipes_golden.py

Each recipes/NAME.recipe is compiled against the example manifest and imatrix summary, from the
repository root with relative paths (so the files name no machine path), into
tests/cases/recipes/NAME/ (plan.lock.json, tensor-types.txt, quantize.sh, serve.sh, measure.sh, card.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recipec import cli  # noqa: E402

GOLDEN = ROOT / "tests" / "cases" / "recipes"
MODEL = "examples/qwen3.5-35b-a3b.manifest.json"
IMATRIX = "examples/qwen3.5-35b-a3b.imatrix.json"


def recipes() -> list[Path]:
    """The curated recipes, by name."""
    return sorted((ROOT / "recipes").glob("*.recipe"))


def compile_args(recipe: Path, out: str) -> list[str]:
    """The `recipec compile` arguments for RECIPE (run from the repository root)."""
    return ["compile", str(recipe.relative_to(ROOT)), "--model", MODEL, "--imatrix", IMATRIX, "-o", out]


def compile_into(recipe: Path, out: Path) -> tuple[int, str]:
    """Compile RECIPE into OUT (from the repository root); return (exit code, stderr)."""
    cwd = os.getcwd()
    err = io.StringIO()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stderr(err):
            rc = cli.run(compile_args(recipe, str(out)))
    finally:
        os.chdir(cwd)
    return rc, err.getvalue()


def main() -> int:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for recipe in recipes():
        out = GOLDEN / recipe.stem
        rc, err = compile_into(recipe, out)
        if rc != 0:
            sys.stderr.write(err)
            return rc
        print(f"{out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
