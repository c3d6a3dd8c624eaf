"""Fixtures for tests on the real llama.cpp tools: the pinned build, run once and cached.

`LLAMA_QUANTIZE=/path/to/llama-quantize` uses an existing binary instead. In CI (CI or
RECIPEC_CI set) a failed build fails the tests with its log; elsewhere they are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import in_ci

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build_llama_cpp.sh"


def _give_up(message: str):
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def llama_bin_dir() -> Path:
    """The directory holding llama-quantize (and llama-imatrix, llama-server when built here)."""
    override = os.environ.get("LLAMA_QUANTIZE")
    if override:
        path = Path(override)
        if not path.is_file():
            _give_up(f"LLAMA_QUANTIZE={override} is not a file")
        return path.parent
    if sys.platform == "win32":
        _give_up("the llama.cpp build script needs a POSIX shell")
    try:
        proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _give_up(f"building llama.cpp failed: {exc}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        _give_up(f"building llama.cpp failed (exit {proc.returncode}):\n{tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


def _tool(bin_dir: Path, name: str, env: str | None = None) -> Path:
    """The llama.cpp tool NAME: $ENV when set, else beside the others in BIN_DIR."""
    override = os.environ.get(env) if env else None
    path = Path(override) if override else bin_dir / name
    if not path.is_file():
        _give_up(f"no {name} at {path}")
    return path


@pytest.fixture(scope="session")
def llama_quantize(llama_bin_dir: Path) -> Path:
    """Path of the llama-quantize binary ($LLAMA_QUANTIZE when set)."""
    return _tool(llama_bin_dir, "llama-quantize", "LLAMA_QUANTIZE")


@pytest.fixture(scope="session")
def llama_perplexity(llama_bin_dir: Path) -> Path:
    """Path of the llama-perplexity binary (built with the others)."""
    return _tool(llama_bin_dir, "llama-perplexity")


@pytest.fixture(scope="session")
def llama_server(llama_bin_dir: Path) -> Path:
    """Path of the llama-server binary (built with the others)."""
    return _tool(llama_bin_dir, "llama-server")
