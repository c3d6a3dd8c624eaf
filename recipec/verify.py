"""Verify: a quantized GGUF (all shards) against its plan, tensor by tensor.

The comparison itself lives in `recipec.filecheck`, the one copy that quantize.sh also carries;
this module adds the bounds-checked reader and the Plan model around it.
"""

from __future__ import annotations

import os
from typing import Sequence

from recipec.filecheck import Difference, FileTensor, PlannedTensor, file_tensors
from recipec.filecheck import compare as compare_tensors
from recipec.gguffile import open_gguf
from recipec.plan import Plan

__all__ = ["Difference", "FileTensor", "compare", "read_tensors", "verify"]


def read_tensors(paths: Sequence[str | os.PathLike]) -> list[FileTensor]:
    """Every tensor of the GGUF files at PATHS, in file order (DiagnosticError V403 if unreadable)."""
    out: list[FileTensor] = []
    for path in paths:
        out += file_tensors(open_gguf(path, code="V403"), os.fspath(path))
    return out


def compare(plan: Plan, tensors: Sequence[FileTensor]) -> list[Difference]:
    """The differences between PLAN and the file's TENSORS, in plan order then file order."""
    planned = [PlannedTensor(t.name, t.type, tuple(t.shape), t.bytes) for t in plan.tensors]
    return compare_tensors(planned, tensors)


def verify(plan: Plan, paths: Sequence[str | os.PathLike]) -> list[Difference]:
    """Read the GGUF files at PATHS and compare them with PLAN."""
    return compare(plan, read_tensors(paths))
