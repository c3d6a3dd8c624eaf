"""ModelInfo: what the compiler knows of a model, from its GGUF header or its manifest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")


def split_name(name: str) -> tuple[str, int | None]:
    """(role, layer) of a tensor name: `blk.3.attn_q.weight` -> ("attn_q", 3).

    A role is the name without `blk.N.` and without a trailing `.weight`.
    """
    layer: int | None = None
    rest = name
    m = _BLK.match(name)
    if m:
        layer = int(m.group(1))
        rest = m.group(2)
    if rest.endswith(".weight"):
        rest = rest[: -len(".weight")]
    return rest, layer


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it (no data)."""

    name: str
    shape: tuple[int, ...]  # ggml order: ne0 (row length) first
    type: str  # source ggml type name, canonical (F16, BF16, Q8_0 ...)
    role: str
    layer: int | None  # None for global tensors (token_embd, output ...)
    mtp: bool  # part of a multi-token-prediction block

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def is_expert_stack(self) -> bool:
        return len(self.shape) == 3 and self.role.endswith("_exps")


@dataclass(frozen=True)
class SourceInfo:
    """One file the model was read from (a shard of a split model, or the only file)."""

    name: str  # base file name
    size: int  # bytes
    header_sha256: str  # sha256 of the bytes before the tensor data
    data_offset: int  # where tensor data starts (header + metadata + tensor infos, aligned)


@dataclass(frozen=True)
class ModelInfo:
    """A model's architecture, layout and tensor table, in file order."""

    arch: str
    tensors: tuple[TensorInfo, ...]
    block_count: int  # including MTP blocks
    nextn_layers: int  # MTP blocks (the last `nextn_layers` blocks)
    alignment: int = 32
    sources: tuple[SourceInfo, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)  # the keys the compiler uses

    @property
    def trunk_layers(self) -> int:
        return self.block_count - self.nextn_layers

    @property
    def mtp_layers(self) -> tuple[int, ...]:
        return tuple(range(self.trunk_layers, self.block_count))

    @property
    def tied_embeddings(self) -> bool:
        return not any(t.name == "output.weight" for t in self.tensors)

    @property
    def roles(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.tensors:
            seen.setdefault(t.role, None)
        return tuple(seen)

    def tensor(self, name: str) -> TensorInfo | None:
        for t in self.tensors:
            if t.name == name:
                return t
        return None
