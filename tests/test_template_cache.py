"""The compiled-template cache between runs never changes a kit: cold, warm or damaged, same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.kit_helpers import ROOT

PLAN = ROOT / "tests/cases/recipes/qwen35moe-fit-24gib/plan.lock.json"


def _render(tmp_path, out: str) -> dict[str, bytes]:
    """`recipec render PLAN -o OUT` in a fresh interpreter whose temporary directory is TMP_PATH/tmp."""
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "recipec", "render", str(PLAN), "-o", str(tmp_path / out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {p.name: p.read_bytes() for p in sorted((tmp_path / out).iterdir())}


def _entries(tmp_path) -> list:
    return sorted((tmp_path / "tmp").glob("_jinja2-cache-*/__recipec_*.cache"))


def test_cold_warm_and_damaged_caches_render_the_same_kit(tmp_path):
    (tmp_path / "tmp").mkdir()
    cold = _render(tmp_path, "cold")
    entries = _entries(tmp_path)
    assert len(entries) >= 4  # quantize.sh, serve.sh, measure.sh, card.md (and the partials they include)
    stamps = {e: e.stat().st_mtime_ns for e in entries}
    warm = _render(tmp_path, "warm")
    assert warm == cold
    assert {e: e.stat().st_mtime_ns for e in _entries(tmp_path)} == stamps  # read, not rewritten
    for e in entries:
        e.write_bytes(b"not a marshalled code object")
    assert _render(tmp_path, "damaged") == cold
    assert all(e.read_bytes() != b"not a marshalled code object" for e in _entries(tmp_path))  # rewritten
    assert set(cold) == {"card.md", "measure.sh", "plan.lock.json", "quantize.sh", "serve.sh", "tensor-types.txt"}
