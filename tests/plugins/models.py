"""Session fixtures: generated GGUF models and imatrices (written once per test session)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from recipec import fixtures


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session directory holding every generated fixture model and imatrix."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def fixture_model(model_dir: Path) -> Callable[[str], Path]:
    """fixture_model(kind) -> path of the generated .gguf (the first shard for llama_split)."""
    cache: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in cache:
            cache[kind] = fixtures.write_model(kind, model_dir / kind)
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def fixture_imatrix(model_dir: Path, fixture_model: Callable[[str], Path]) -> Callable[..., Path]:
    """fixture_imatrix(kind, format="gguf"|"dat", seed=0, nextn=False) -> path of the imatrix."""
    cache: dict[tuple, Path] = {}

    def get(kind: str, format: str = "gguf", seed: int = 0, nextn: bool = False) -> Path:
        key = (kind, format, seed, nextn)
        if key not in cache:
            ext = "gguf" if format == "gguf" else "dat"
            path = model_dir / kind / f"imatrix-s{seed}{'-nextn' if nextn else ''}.{ext}"
            cache[key] = fixtures.write_imatrix(kind, fixture_model(kind), path, format=format,
                                                seed=seed, nextn=nextn)
        return cache[key]

    return get
