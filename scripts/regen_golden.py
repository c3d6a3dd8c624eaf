"""Regenerate the golden files under tests/cases/ (never edit them by hand).

    python scripts/regen_golden.py

lint/NAME.recipe   -> lint/NAME.diag.txt  (`file:line:col: CODE message` per diagnostic)
format/NAME.recipe -> format/NAME.out.recipe (the formatted text)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recipec.checks import lint  # noqa: E402
from recipec.formatter import format_source  # noqa: E402
from recipec.recipe import load  # noqa: E402
from recipec.source import SourceFile  # noqa: E402

CASES = ROOT / "tests" / "cases"


def lint_case(path: Path) -> str:
    """The expected diagnostics of one lint case, paths relative to the cases folder."""
    cwd = os.getcwd()
    os.chdir(CASES)
    try:
        rel = str(path.relative_to(CASES))
        diags = lint(load(rel), expect_imatrix=False)
    finally:
        os.chdir(cwd)
    return "".join(d.headline() + "\n" for d in diags)


def format_case(path: Path) -> str:
    return format_source(SourceFile.read(path))


def main() -> None:
    n = 0
    for p in sorted((CASES / "lint").glob("*.recipe")):
        p.with_suffix(".diag.txt").write_text(lint_case(p), encoding="utf-8")
        n += 1
    for p in sorted((CASES / "format").glob("*.recipe")):
        if p.name.endswith(".out.recipe"):
            continue
        p.with_name(p.stem + ".out.recipe").write_text(format_case(p), encoding="utf-8")
        n += 1
    print(f"regenerated {n} golden files")


if __name__ == "__main__":
    main()
