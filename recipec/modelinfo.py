"""ModelInfo: what the compiler knows of a model (types and derived facts; recipec.loaders reads it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
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
        return self.by_name.get(name)

    # --- additions: lookups and the hyper-parameters the optimiser needs ------------------------

    @cached_property
    def by_name(self) -> dict[str, TensorInfo]:
        """Tensors by name."""
        return {t.name: t for t in self.tensors}

    def meta(self, key: str, default: Any = None) -> Any:
        """A metadata value by its key without the `<arch>.` prefix (`attention.head_count`)."""
        return self.metadata.get(key, default)

    def _per_layer(self, key: str, layer: int | None, default: Any = None) -> Any:
        v = self.metadata.get(key, default)
        if isinstance(v, (list, tuple)):
            if layer is None:
                return max(v) if v else default
            return v[layer] if 0 <= layer < len(v) else default
        return v

    @property
    def n_elements(self) -> int:
        """Total elements over all tensors."""
        return sum(t.n_elements for t in self.tensors)

    @property
    def trunk_tensors(self) -> tuple[TensorInfo, ...]:
        """Tensors outside the MTP blocks (globals included)."""
        return tuple(t for t in self.tensors if not t.mtp)

    @property
    def mtp_tensors(self) -> tuple[TensorInfo, ...]:
        """Tensors of the MTP blocks (blocks past the trunk and `nextn.*`)."""
        return tuple(t for t in self.tensors if t.mtp)

    @property
    def expert_stacks(self) -> tuple[TensorInfo, ...]:
        """3-D `*_exps` tensors (one matrix per expert)."""
        return tuple(t for t in self.tensors if t.is_expert_stack)

    @property
    def expert_count(self) -> int:
        """Experts per MoE layer (0 for dense models)."""
        return int(self.metadata.get("expert_count") or 0)

    @property
    def expert_used_count(self) -> int:
        """Experts routed per token (the largest over layers when per-layer)."""
        return int(self._per_layer("expert_used_count", None, 0) or 0)

    @property
    def embedding_length(self) -> int:
        """n_embd."""
        return int(self.metadata.get("embedding_length") or 0)

    @property
    def context_length(self) -> int:
        """The training context length."""
        return int(self.metadata.get("context_length") or 0)

    @property
    def vocab_size(self) -> int:
        """Vocabulary size (`vocab_size`, else the tokenizer's token count, else token_embd's ne1)."""
        return int(self.metadata.get("vocab_size") or 0)

    def head_count(self, layer: int | None = None) -> int:
        """Query heads of LAYER (the largest over layers when None)."""
        return int(self._per_layer("attention.head_count", layer, 0) or 0)

    def head_count_kv(self, layer: int | None = None) -> int:
        """KV heads of LAYER (defaults to head_count; 0 marks a recurrent layer in some hybrids)."""
        v = self._per_layer("attention.head_count_kv", layer, None)
        return self.head_count(layer) if v is None else int(v)

    @property
    def key_length(self) -> int:
        """Per-head key length (attention.key_length, else embedding_length / head_count)."""
        v = self.metadata.get("attention.key_length")
        if v is None:
            h = self.head_count()
            return self.embedding_length // h if h else 0
        return int(v)

    @property
    def value_length(self) -> int:
        """Per-head value length (attention.value_length, else key_length)."""
        v = self.metadata.get("attention.value_length")
        return self.key_length if v is None else int(v)

    @property
    def kv_lora_rank(self) -> int:
        """MLA compressed KV width (0 when the model has no MLA)."""
        return int(self.metadata.get("attention.kv_lora_rank") or 0)

    @property
    def ssm(self) -> dict[str, int]:
        """The `ssm.*` hyper-parameters without the prefix (conv_kernel, state_size, ...)."""
        return {k[4:]: v for k, v in self.metadata.items() if k.startswith("ssm.")}

    @cached_property
    def recurrent_layers(self) -> tuple[int, ...]:
        """Blocks that are recurrent (gated delta net / SSM) rather than full attention."""
        return tuple(i for i, r in enumerate(_recurrent_flags(self)) if r)

    @cached_property
    def full_attention_layers(self) -> tuple[int, ...]:
        """Blocks with full (KV-cached) attention, MTP blocks included."""
        return tuple(i for i, r in enumerate(_recurrent_flags(self)) if not r)

    @property
    def is_hybrid(self) -> bool:
        """True when some blocks are recurrent and others full attention."""
        return bool(self.recurrent_layers) and bool(self.full_attention_layers)


# Hybrids that lay out full attention every `full_attention_interval`-th block (default 4).
INTERVAL_HYBRIDS = frozenset({"qwen3next", "qwen35", "qwen35moe"})
# Architectures whose every block is recurrent.
RECURRENT_ARCHS = frozenset({"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})


def _recurrent_flags(info: ModelInfo) -> list[bool]:
    """Per block: True when recurrent, following llama.cpp's rules for each layout."""
    n, trunk, md = info.block_count, info.trunk_layers, info.metadata
    flags = md.get("attention.recurrent_layers")
    if isinstance(flags, (list, tuple)) and len(flags) >= n:
        return [bool(f) for f in flags[:n]]
    if "full_attention_interval" in md or info.arch in INTERVAL_HYBRIDS:
        k = int(md.get("full_attention_interval") or 4) or 4
        return [i < trunk and (i + 1) % k != 0 for i in range(n)]  # MTP blocks are attention
    kv = md.get("attention.head_count_kv")
    if isinstance(kv, (list, tuple)) and len(kv) >= n and any(v == 0 for v in kv[:n]):
        return [kv[i] == 0 and i < trunk for i in range(n)]
    if info.arch in RECURRENT_ARCHS:
        return [True] * n
    return [False] * n


def make_tensor(name: str, shape: tuple[int, ...] | list[int], type_name: str,
                block_count: int, nextn_layers: int) -> TensorInfo:
    """A TensorInfo with role, layer and MTP flag derived from the name and the block layout."""
    role, layer = split_name(name)
    mtp = role.startswith("nextn.") or (
        layer is not None and nextn_layers > 0 and layer >= block_count - nextn_layers)
    return TensorInfo(name=name, shape=tuple(int(d) for d in shape), type=type_name,
                      role=role, layer=layer, mtp=mtp)


def make_tensors(rows: list[tuple[str, tuple[int, ...] | list[int], str]], roles: list[tuple[str, int | None]],
                 block_count: int, nextn_layers: int) -> tuple[TensorInfo, ...]:
    """make_tensor over ROWS (name, shape, type) whose split_name results ROLES are already known:
    one pass, each name split once (models with 100,000s of tensors)."""
    first_mtp = block_count - nextn_layers if nextn_layers > 0 else None
    return tuple(TensorInfo(name=name, shape=tuple(int(d) for d in shape), type=type_name, role=role,
                            layer=layer, mtp=role.startswith("nextn.") or (
                                first_mtp is not None and layer is not None and layer >= first_mtp))
                 for (name, shape, type_name), (role, layer) in zip(rows, roles))
