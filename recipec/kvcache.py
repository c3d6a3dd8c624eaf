"""KV cache and recurrent state size for a `budget fit`: what the context costs on the device.

Formulas follow llama.cpp's memory modules (src/llama-kv-cache.cpp, src/llama-memory-recurrent.cpp,
src/llama-hparams.cpp) with one cache row per token of every slot (ctx x parallel rows):

* full attention layer l (src/llama-kv-cache.cpp: K is [n_embd_k_gqa, kv_size], V likewise):
      ctx x P x n_head_kv(l) x (key_length + value_length) x bytes_per_element(T)
* sliding-window layer (llama_kv_cache_iswa: the SWA cache holds at most the window per slot):
      min(ctx, window) x P x n_head_kv(l) x (key_length + value_length) x bytes_per_element(T)
  which layers slide: `attention.sliding_window_pattern` (a per-layer bool array, or N: every
  N-th layer is full attention, the others slide) else the architecture's built-in pattern.
* recurrent / gated-delta-net layer (llama_memory_recurrent: r and s rows, always F32, one
  per slot, independent of ctx; llama_hparams::n_embd_r / n_embd_s):
      P x 4 x ((d_conv - 1) x (d_inner + 2 x n_group x d_state) + d_state x d_inner)
  with d_conv = ssm.conv_kernel, d_inner = ssm.inner_size, n_group = ssm.group_count,
  d_state = ssm.state_size; RWKV-style layers use token_shift_count x n_embd + n_embd x head_size.
* MLA layer (deepseek2-style; llama_hparams::is_mla: only the compressed latent is cached and
  there is no V cache):
      ctx x P x (kv_lora_rank + rope.dimension_count) x bytes_per_element(T)

bytes_per_element(T) is ggml's block bytes / block elements (Q8_0: 34/32, F16: 2).
MTP blocks are attention blocks and are counted unless the plan drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

from recipec import ggml
from recipec.modelinfo import ModelInfo

# Built-in sliding-window layouts (llama-model.cpp): every N-th layer is full attention.
SWA_PATTERN: dict[str, int] = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "gemma-embedding": 6}
RECURRENT_STATE_TYPE_BYTES = 4  # r and s rows are F32


@dataclass(frozen=True)
class KvEstimate:
    """Bytes of the context memory, split by layer kind."""

    full: int
    sliding: int
    recurrent: int
    mla: int

    @property
    def total(self) -> int:
        return self.full + self.sliding + self.recurrent + self.mla


def _row_bytes(type_name: str, n: int) -> int:
    """Bytes of N cache elements in TYPE_NAME (rounded up to whole blocks)."""
    block, size = ggml.QUANT_SIZES[type_name]
    return -(-n // block) * size


def sliding_layers(model: ModelInfo) -> frozenset[int]:
    """Layers with a sliding-window cache."""
    window = int(model.meta("attention.sliding_window") or 0)
    if window <= 0:
        return frozenset()
    pattern = model.meta("attention.sliding_window_pattern")
    n = model.block_count
    if isinstance(pattern, (list, tuple)):
        return frozenset(i for i in range(min(n, len(pattern))) if pattern[i])
    every = int(pattern) if pattern else SWA_PATTERN.get(model.arch, 0)
    if every <= 0:
        return frozenset(range(n))
    return frozenset(i for i in range(n) if (i + 1) % every != 0)


def recurrent_state_bytes(model: ModelInfo) -> int:
    """Bytes of one recurrent layer's state for one slot (conv/shift rows + state rows, F32)."""
    s = model.ssm
    n_embd = model.embedding_length
    head = int(model.meta("wkv.head_size") or 0)
    if head:
        shift = int(model.meta("token_shift_count") or 2)
        return RECURRENT_STATE_TYPE_BYTES * (shift * n_embd + n_embd * head)
    d_conv = int(s.get("conv_kernel", 0))
    d_inner = int(s.get("inner_size", 0))
    d_state = int(s.get("state_size", 0))
    n_group = int(s.get("group_count", 0))
    r = (d_conv - 1 if d_conv > 0 else 0) * (d_inner + 2 * n_group * d_state)
    return RECURRENT_STATE_TYPE_BYTES * (r + d_state * d_inner)


def estimate(model: ModelInfo, ctx: int, kv_type: str, parallel: int = 1,
             layers: range | tuple[int, ...] | None = None) -> KvEstimate:
    """The context memory of MODEL at CTX tokens per slot, PARALLEL slots, cache type KV_TYPE.

    LAYERS: the blocks that remain in the output (all blocks when None).
    """
    keep = set(range(model.block_count) if layers is None else layers)
    recurrent = set(model.recurrent_layers)
    window = int(model.meta("attention.sliding_window") or 0)
    swa = sliding_layers(model)
    full = sliding = rec = mla = 0
    state = recurrent_state_bytes(model) if recurrent else 0
    for l in sorted(keep):
        if l in recurrent:
            rec += parallel * state
            continue
        if model.kv_lora_rank:
            rope = int(model.meta("rope.dimension_count") or 0)
            mla += ctx * parallel * _row_bytes(kv_type, model.kv_lora_rank + rope)
            continue
        nkv = model.head_count_kv(l)
        width = nkv * (model.key_length + model.value_length)
        if l in swa:
            sliding += min(ctx, window) * parallel * _row_bytes(kv_type, width)
        else:
            full += ctx * parallel * _row_bytes(kv_type, width)
    return KvEstimate(full, sliding, rec, mla)
