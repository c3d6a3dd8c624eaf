"""Helpers for the release tests: four recipes for the qwen35moe fixture (one keeps its MTP block,
one drops it), compiled into a release."""

from __future__ import annotations

import json
from pathlib import Path

from tests.kit_helpers import recipec_cli

KIND = "qwen35moe"
RECIPES = {
    "q4km-mtp": 'recipe "q4km-mtp"\narch qwen35moe\nbase Q4_K_M\nmtp keep Q6_K\n',
    "q8": 'recipe "q8"\narch qwen35moe\nbase Q8_0\n',
    "q3km-nomtp": 'recipe "q3km-nomtp"\narch qwen35moe\nbase Q3_K_M\nmtp drop\n',
    "bpw55": ('recipe "bpw55"\narch qwen35moe\nbase Q4_K_M\nladder Q3_K Q4_K Q5_K Q6_K Q8_0\n'
              "budget 5.5 bpw\nsolver optimal\nmtp optimise\n"),
}


def write_recipes(folder: Path, recipes: dict[str, str] = RECIPES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in recipes.items():
        (folder / f"{name}.recipe").write_text(text)
        paths.append(folder / f"{name}.recipe")
    return paths


def compile_release(recipes: list[Path], model: Path, imatrix: Path, out: Path, *extra: str) -> tuple[int, str]:
    rc, _, err = recipec_cli("compile", *map(str, recipes), "--model", str(model), "--imatrix", str(imatrix),
                             "-o", str(out), *extra)
    return rc, err


def metrics_record(name: str, file_bytes: int, kld: float, **more) -> dict:
    """A metrics file as eval.sh writes it, with chosen numbers."""
    return {"schema": "recipec.metrics/1", "variant": name, "file": f"{name}/{name}.gguf", "file_bytes": file_bytes,
            "llama_cpp": "b9999 (test)", "text_sha256": "ab" * 32, "ctx": 512, "chunks": 0,
            "ppl": 10.25, "ppl_err": 0.125, "ppl_base": 10.0, "ppl_base_err": 0.12, "kld": kld, "kld_err": round(kld / 50, 10),
            "kld_p95": round(kld * 3, 10), "kld_p99": round(kld * 7, 10), "kld_max": round(kld * 20, 10),
            "kld_median": round(kld / 2, 10),
            "same_top": 91.5, "same_top_err": 0.25, **more}


def write_metrics(release: Path, record: dict) -> None:
    (release / "metrics").mkdir(exist_ok=True)
    (release / "metrics" / f"{record['variant']}.json").write_text(json.dumps(record, indent=2))
