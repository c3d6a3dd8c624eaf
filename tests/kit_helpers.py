"""Helpers for the kit tests: compile a recipe into a kit, run its scripts."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from recipec import cli

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"


def compile_kit(recipe: Path, model: Path, out: Path, *extra: str) -> tuple[int, str]:
    """Run `recipec compile` in-process; return (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.run(["compile", str(recipe), "--model", str(model), "-o", str(out), *extra])
    return rc, err.getvalue()


def compiled_kit(folder: Path, recipe_text: str, model: Path, *extra: str) -> Path:
    """Write RECIPE_TEXT to FOLDER/r.recipe, compile it against MODEL into FOLDER/kit; return the kit."""
    (folder / "r.recipe").write_text(recipe_text)
    rc, err = compile_kit(folder / "r.recipe", model, folder / "kit", *extra)
    assert rc == 0, err
    return folder / "kit"


def recipec_cli(*argv: str) -> tuple[int, str, str]:
    """Run recipec in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = cli.run(list(argv))
    return rc, out.getvalue(), err.getvalue()


def tool_dir(path: Path, *, recipec: bool = True, python3: bool = True) -> Path:
    """A bin directory with `recipec` and `python3` shims running this interpreter and checkout."""
    path.mkdir(parents=True, exist_ok=True)
    shims = {}
    if recipec:
        shims["recipec"] = f'exec {sys.executable} -m recipec "$@"'
    if python3:
        shims["python3"] = f'exec {sys.executable} "$@"'
    for name, body in shims.items():
        f = path / name
        f.write_text(f"#!/bin/sh\nPYTHONPATH={ROOT}${{PYTHONPATH:+:$PYTHONPATH}}\nexport PYTHONPATH\n{body}\n")
        f.chmod(0o755)
    return path


def script_env(bin_dir: Path, **env: str) -> dict[str, str]:
    """A minimal environment: BIN_DIR first on PATH, then the system directories only."""
    base = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8", "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    base.update(env)
    return base


def run_script(script: Path, env: dict[str, str], *args: str, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
