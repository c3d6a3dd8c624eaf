"""Verify: a quantized GGUF (all shards) against its plan, tensor by tensor."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from gguf import GGMLQuantizationType

from recipec.gguffile import open_gguf
from recipec.plan import Plan


@dataclass(frozen=True)
class FileTensor:
    """One tensor as the written file describes it."""

    name: str
    type: str
    shape: tuple[int, ...]
    bytes: int
    file: str


@dataclass(frozen=True)
class Difference:
    """One way the file differs from the plan."""

    name: str
    kind: str  # type | shape | bytes | missing | extra | duplicate
    planned: str
    found: str

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.name}: missing from the file (planned {self.planned})"
        if self.kind == "extra":
            return f"{self.name}: in the file ({self.found}) but not in the plan"
        if self.kind == "duplicate":
            return f"{self.name}: in more than one shard ({self.found})"
        return f"{self.name}: {self.kind} planned {self.planned}, file has {self.found}"


def _type_name(raw) -> str:
    try:
        return GGMLQuantizationType(int(raw)).name
    except ValueError:
        return f"type#{int(raw)}"


def read_tensors(paths: Sequence[str | os.PathLike]) -> list[FileTensor]:
    """Every tensor of the GGUF files at PATHS, in file order (DiagnosticError V403 if unreadable)."""
    out: list[FileTensor] = []
    for path in paths:
        reader = open_gguf(path, code="V403")
        for t in reader.tensors:
            out.append(FileTensor(str(t.name), _type_name(t.tensor_type), tuple(int(d) for d in t.shape),
                                  int(t.n_bytes), os.fspath(path)))
    return out


def compare(plan: Plan, tensors: Sequence[FileTensor]) -> list[Difference]:
    """The differences between PLAN and the file's TENSORS, in plan order then file order."""
    found: dict[str, FileTensor] = {}
    diffs: list[Difference] = []
    for t in tensors:
        if t.name in found:
            diffs.append(Difference(t.name, "duplicate", "", f"{found[t.name].file}, {t.file}"))
        found.setdefault(t.name, t)
    planned = {t.name for t in plan.tensors}
    for p in plan.tensors:
        f = found.get(p.name)
        if f is None:
            diffs.append(Difference(p.name, "missing", p.type, ""))
            continue
        if f.type != p.type:
            diffs.append(Difference(p.name, "type", p.type, f.type))
        if f.shape != tuple(p.shape):
            diffs.append(Difference(p.name, "shape", str(list(p.shape)), str(list(f.shape))))
        if f.bytes != p.bytes:
            diffs.append(Difference(p.name, "bytes", str(p.bytes), str(f.bytes)))
    for t in tensors:
        if t.name not in planned:
            diffs.append(Difference(t.name, "extra", "", t.type))
    return diffs


def verify(plan: Plan, paths: Sequence[str | os.PathLike]) -> list[Difference]:
    """Read the GGUF files at PATHS and compare them with PLAN."""
    return compare(plan, read_tensors(paths))
