"""The bench cache: one directory per stage, named by a hash of everything the stage reads."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """~/.cache/recipec/bench (RECIPEC_CACHE and XDG_CACHE_HOME respected)."""
    base = os.environ.get("RECIPEC_CACHE")
    if base:
        return Path(base) / "bench"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "recipec" / "bench"


def stage_key(stage: str, *parts: str, code: tuple[str, ...] = ()) -> str:
    """A short hash of the stage name, its inputs' keys or parameters, and its code files."""
    h = hashlib.sha256(stage.encode())
    for p in parts:
        h.update(b"\0" + p.encode())
    for name in code:
        h.update(b"\0" + name.encode() + b"\0" + (HERE / name).read_bytes())
    return f"{stage}-{h.hexdigest()[:16]}"


class Stage:
    """A cached stage directory: `done` once its outputs are complete."""

    def __init__(self, root: Path, key: str):
        self.dir = root / key
        self.key = key

    @property
    def done(self) -> bool:
        return (self.dir / ".complete").is_file()

    def begin(self) -> Path:
        """A fresh work directory for the stage (a previous partial attempt is removed)."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        return self.dir

    def finish(self) -> None:
        (self.dir / ".complete").write_text(self.key + "\n")

    def path(self, name: str) -> Path:
        return self.dir / name
