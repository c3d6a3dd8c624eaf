"""Small, realistic GGUF models and imatrices for tests and benchmarks (deterministic bytes).

Every kind carries the metadata keys llama.cpp needs to load its hyper-parameters and the tensor
names and shapes (ggml order, ne0 first) its loader expects, with tiny dimensions:

    llama          dense; ffn_down rows of 800 (K-quants fall back)
    llama_ff1000   dense; n_ff = 1000 (rows of 1000: every fallback ends at F16)
    llama_tied     dense without output.weight (tied embeddings)
    llama_split    the llama model in 3 shards, with the split.* keys gguf-split writes
    qwen3moe       MoE, 3-D experts, q/k norms
    qwen35moe      hybrid: gated-delta-net block 0, full attention block 1
                   (full_attention_interval 2), experts, shared expert, and one MTP block 2
                   (nextn.*) counted in block_count
    deepseek2      MLA (attn_q_a/q_b, attn_kv_a_mqa, attn_k_b/attn_v_b), one leading dense block,
                   experts + shared expert

MIXTURE_KINDS add what llama-quantize's FTYPE mixtures look at: odd and large layer counts, no GQA
and GQA 8, 8 and 128 experts, rows of 288, falcon, an older MLA layout (attn_kv_b), and glm4moe
(GLM-4.5's layout: a dense first block, experts with a shared expert and router bias, q/k/v
biases, and an MTP block whose nextn.* tensors include its own embedding and output head), and
gptoss (attention sinks, attention and 2-D expert biases, a router bias, sliding-window layers).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Callable

import gguf
import numpy as np

from recipec.modelinfo import ModelInfo

N_VOCAB = 320
KINDS: tuple[str, ...] = ("llama", "llama_ff1000", "llama_tied", "llama_split", "qwen3moe",
                          "qwen35moe", "deepseek2")
Spec = tuple[str, dict[str, Any], list[tuple[str, tuple[int, ...]]]]  # arch, arch keys, tensors


def source_type(name: str, shape: tuple[int, ...]) -> str:
    """The type the converter stores: F32 for 1-D, norms, routers, conv1d and non-weights; else F16."""
    if (len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight")
            or any(r in name for r in (".ffn_gate_inp.", ".ffn_gate_inp_shexp.", ".ssm_conv1d."))):
        return "F32"
    return "F16"


def _attn(b: str, e: int, nh: int, nkv: int, hd: int, qmul: int = 1, norms: bool = False) -> list:
    t = [(f"{b}.attn_q.weight", (e, nh * hd * qmul)), (f"{b}.attn_k.weight", (e, nkv * hd)),
         (f"{b}.attn_v.weight", (e, nkv * hd)), (f"{b}.attn_output.weight", (nh * hd, e))]
    if norms:
        t += [(f"{b}.attn_q_norm.weight", (hd,)), (f"{b}.attn_k_norm.weight", (hd,))]
    return t


def _moe(b: str, e: int, ff: int, nx: int, shexp: int = 0) -> list:
    t = [(f"{b}.ffn_gate_inp.weight", (e, nx)), (f"{b}.ffn_gate_exps.weight", (e, ff, nx)),
         (f"{b}.ffn_up_exps.weight", (e, ff, nx)), (f"{b}.ffn_down_exps.weight", (ff, e, nx))]
    if shexp:
        t += [(f"{b}.ffn_gate_shexp.weight", (e, shexp)), (f"{b}.ffn_up_shexp.weight", (e, shexp)),
              (f"{b}.ffn_down_shexp.weight", (shexp, e))]
    return t


def _globals_head(e: int) -> list:
    return [("token_embd.weight", (e, N_VOCAB))]


def _globals_tail(e: int, tied: bool = False) -> list:
    return [("output_norm.weight", (e,))] + ([] if tied else [("output.weight", (e, N_VOCAB))])


def _llama(n_ff: int = 800, tied: bool = False, n: int = 2, nh: int = 4, nkv: int = 2, hd: int = 64,
           e: int = 256) -> Spec:
    t = _globals_head(e)
    for i in range(n):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,))] + _attn(b, e, nh, nkv, hd)
        t += [(f"{b}.ffn_norm.weight", (e,)), (f"{b}.ffn_gate.weight", (e, n_ff)),
              (f"{b}.ffn_up.weight", (e, n_ff)), (f"{b}.ffn_down.weight", (n_ff, e))]
    kv = {"context_length": 4096, "embedding_length": e, "block_count": n, "feed_forward_length": n_ff,
          "attention.head_count": nh, "attention.head_count_kv": nkv, "rope.dimension_count": hd,
          "rope.freq_base": 10000.0, "attention.layer_norm_rms_epsilon": 1e-5, "vocab_size": N_VOCAB}
    if hd * nh != e:
        kv.update({"attention.key_length": hd, "attention.value_length": hd})
    return "llama", kv, t + _globals_tail(e, tied)


def _qwen3moe(n: int = 2, nx: int = 4, ff: int = 256, nh: int = 4, nkv: int = 2, used: int = 2) -> Spec:
    e, hd = 256, 64
    t = _globals_head(e)
    for i in range(n):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,))] + _attn(b, e, nh, nkv, hd, norms=True)
        t += [(f"{b}.ffn_norm.weight", (e,))] + _moe(b, e, ff, nx)
    kv = {"context_length": 4096, "embedding_length": e, "block_count": n, "feed_forward_length": 512,
          "attention.head_count": nh, "attention.head_count_kv": nkv, "attention.key_length": hd,
          "attention.value_length": hd, "rope.dimension_count": hd, "rope.freq_base": 1000000.0,
          "attention.layer_norm_rms_epsilon": 1e-6, "expert_count": nx, "expert_used_count": used,
          "expert_feed_forward_length": ff}
    return "qwen3moe", kv, t + _globals_tail(e)


def _qwen35moe(n_trunk: int = 2, every: int = 2, nx: int = 4, ff: int = 256) -> Spec:
    e, nh, nkv, hd = 256, 4, 2, 64
    conv, d_state, groups, dt_rank = 4, 32, 4, 8
    key_dim, value_dim = d_state * groups, d_state * dt_rank
    t = _globals_head(e)
    for i in range(n_trunk + 1):
        b, full = f"blk.{i}", i >= n_trunk or (i + 1) % every == 0
        t += [(f"{b}.attn_norm.weight", (e,))]
        if full:
            t += _attn(b, e, nh, nkv, hd, qmul=2, norms=True)
        else:
            t += [(f"{b}.attn_qkv.weight", (e, 2 * key_dim + value_dim)),
                  (f"{b}.attn_gate.weight", (e, value_dim)),
                  (f"{b}.ssm_conv1d.weight", (conv, 2 * key_dim + value_dim)),
                  (f"{b}.ssm_dt.bias", (dt_rank,)), (f"{b}.ssm_a", (dt_rank,)),
                  (f"{b}.ssm_beta.weight", (e, dt_rank)), (f"{b}.ssm_alpha.weight", (e, dt_rank)),
                  (f"{b}.ssm_norm.weight", (d_state,)), (f"{b}.ssm_out.weight", (value_dim, e))]
        t += [(f"{b}.post_attention_norm.weight", (e,))] + _moe(b, e, ff, nx, shexp=ff)
        t.insert(len(t) - 3, (f"{b}.ffn_gate_inp_shexp.weight", (e,)))
        if i >= n_trunk:
            t += [(f"{b}.nextn.eh_proj.weight", (2 * e, e)), (f"{b}.nextn.enorm.weight", (e,)),
                  (f"{b}.nextn.hnorm.weight", (e,)), (f"{b}.nextn.shared_head_norm.weight", (e,))]
    kv = {"context_length": 8192, "embedding_length": e, "block_count": n_trunk + 1,
          "nextn_predict_layers": 1, "full_attention_interval": every, "attention.head_count": nh,
          "attention.head_count_kv": nkv, "attention.key_length": hd, "attention.value_length": hd,
          "rope.dimension_count": 16, "rope.dimension_sections": [3, 3, 2, 0],
          "rope.freq_base": 10000000.0, "attention.layer_norm_rms_epsilon": 1e-6,
          "expert_count": nx, "expert_used_count": 2, "expert_feed_forward_length": ff,
          "expert_shared_feed_forward_length": ff, "ssm.conv_kernel": conv,
          "ssm.state_size": d_state, "ssm.group_count": groups, "ssm.time_step_rank": dt_rank,
          "ssm.inner_size": value_dim}
    return "qwen35moe", kv, t + _globals_tail(e)


def _deepseek2(n: int = 3, nx: int = 4, ff: int = 256, kv_b: bool = False) -> Spec:
    """KV_B: the older MLA layout, one attn_kv_b instead of attn_k_b and attn_v_b."""
    e, nh, dense_ff = 256, 4, 512
    q_lora, kv_lora, rope, nope, v_mla = 128, 64, 32, 64, 64
    t = _globals_head(e)
    for i in range(n):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,)), (f"{b}.attn_q_a_norm.weight", (q_lora,)),
              (f"{b}.attn_kv_a_norm.weight", (kv_lora,)), (f"{b}.attn_q_a.weight", (e, q_lora)),
              (f"{b}.attn_q_b.weight", (q_lora, nh * (nope + rope))),
              (f"{b}.attn_kv_a_mqa.weight", (e, kv_lora + rope)),
              *([(f"{b}.attn_kv_b.weight", (kv_lora, nh * (nope + v_mla)))] if kv_b else
                [(f"{b}.attn_k_b.weight", (nope, kv_lora, nh)), (f"{b}.attn_v_b.weight", (kv_lora, v_mla, nh))]),
              (f"{b}.attn_output.weight", (nh * v_mla, e)), (f"{b}.ffn_norm.weight", (e,))]
        if i == 0:
            t += [(f"{b}.ffn_gate.weight", (e, dense_ff)), (f"{b}.ffn_down.weight", (dense_ff, e)),
                  (f"{b}.ffn_up.weight", (e, dense_ff))]
        else:
            t += _moe(b, e, ff, nx, shexp=ff) + [(f"{b}.exp_probs_b.bias", (nx,))]
    kv = {"context_length": 4096, "embedding_length": e, "block_count": n, "feed_forward_length": dense_ff,
          "attention.head_count": nh, "attention.head_count_kv": 1,
          "attention.key_length": kv_lora + rope, "attention.value_length": kv_lora,
          "attention.key_length_mla": nope + rope, "attention.value_length_mla": v_mla,
          "attention.q_lora_rank": q_lora, "attention.kv_lora_rank": kv_lora,
          "rope.dimension_count": rope, "rope.freq_base": 10000.0,
          "attention.layer_norm_rms_epsilon": 1e-6, "leading_dense_block_count": 1,
          "expert_count": nx, "expert_used_count": 2, "expert_shared_count": 1,
          "expert_feed_forward_length": ff, "expert_weights_scale": 1.0, "expert_weights_norm": True,
          "expert_gating_func": 2, "vocab_size": N_VOCAB}
    return "deepseek2", kv, t + _globals_tail(e)


def _glm4moe(n: int = 4, nx: int = 8, ff: int = 128, dense_ff: int = 512, nh: int = 4, nkv: int = 2) -> Spec:
    """GLM-4.5-like: a dense first layer, MoE with a shared expert and a router bias, q/k/v biases,
    post-attention norms, and one MTP block (`nextn.*`, with its own embedding and head) after the
    trunk, counted in block_count."""
    e, hd = 256, 64
    t = _globals_head(e)
    for i in range(n + 1):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,))] + _attn(b, e, nh, nkv, hd)
        t += [(f"{b}.attn_q.bias", (nh * hd,)), (f"{b}.attn_k.bias", (nkv * hd,)), (f"{b}.attn_v.bias", (nkv * hd,)),
              (f"{b}.post_attention_norm.weight", (e,))]
        if i == 0:
            t += [(f"{b}.ffn_gate.weight", (e, dense_ff)), (f"{b}.ffn_up.weight", (e, dense_ff)),
                  (f"{b}.ffn_down.weight", (dense_ff, e))]
        else:
            t += _moe(b, e, ff, nx, shexp=ff) + [(f"{b}.exp_probs_b.bias", (nx,))]
        if i == n:
            t += [(f"{b}.nextn.eh_proj.weight", (2 * e, e)), (f"{b}.nextn.enorm.weight", (e,)),
                  (f"{b}.nextn.hnorm.weight", (e,)), (f"{b}.nextn.embed_tokens.weight", (e, N_VOCAB)),
                  (f"{b}.nextn.shared_head_head.weight", (e, N_VOCAB)),
                  (f"{b}.nextn.shared_head_norm.weight", (e,))]
    kv = {"context_length": 4096, "embedding_length": e, "block_count": n + 1, "feed_forward_length": dense_ff,
          "attention.head_count": nh, "attention.head_count_kv": nkv, "attention.key_length": hd,
          "attention.value_length": hd, "rope.dimension_count": hd // 2, "rope.freq_base": 1000000.0,
          "attention.layer_norm_rms_epsilon": 1e-5, "expert_count": nx, "expert_used_count": 2,
          "expert_shared_count": 1, "expert_feed_forward_length": ff, "leading_dense_block_count": 1,
          "expert_weights_scale": 2.5, "expert_weights_norm": True, "expert_gating_func": 2,
          "nextn_predict_layers": 1, "vocab_size": N_VOCAB}
    return "glm4moe", kv, t + _globals_tail(e)


def _gptoss(n: int = 4, nx: int = 8, ff: int = 256, nh: int = 4, nkv: int = 2) -> Spec:
    """gpt-oss-like: attention sinks, biases on attention and on the 3-D experts (2-D expert
    biases), post-attention norms, a router with a bias, sliding-window layers."""
    e, hd = 256, 64
    t = _globals_head(e)
    for i in range(n):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,)), (f"{b}.post_attention_norm.weight", (e,))] + _attn(b, e, nh, nkv, hd)
        t += [(f"{b}.attn_q.bias", (nh * hd,)), (f"{b}.attn_k.bias", (nkv * hd,)), (f"{b}.attn_v.bias", (nkv * hd,)),
              (f"{b}.attn_output.bias", (e,)), (f"{b}.attn_sinks.weight", (nh,))]
        t += _moe(b, e, ff, nx) + [(f"{b}.ffn_gate_inp.bias", (nx,)), (f"{b}.ffn_gate_exps.bias", (ff, nx)),
                                   (f"{b}.ffn_up_exps.bias", (ff, nx)), (f"{b}.ffn_down_exps.bias", (e, nx))]
    kv = {"context_length": 4096, "embedding_length": e, "block_count": n, "feed_forward_length": ff,
          "attention.head_count": nh, "attention.head_count_kv": nkv, "attention.key_length": hd,
          "attention.value_length": hd, "rope.dimension_count": hd, "rope.freq_base": 150000.0,
          "attention.layer_norm_rms_epsilon": 1e-5, "expert_count": nx, "expert_used_count": 2,
          "expert_feed_forward_length": ff, "attention.sliding_window": 128, "vocab_size": N_VOCAB}
    return "gpt-oss", kv, t + _globals_tail(e)


def _falcon(n: int = 4, nh: int = 4, nkv: int = 1, hd: int = 64, ff: int = 512) -> Spec:
    """Falcon: fused attn_qkv, no gate, layer norms with biases (its own branches in the mixture)."""
    e = nh * hd
    t = _globals_head(e)
    for i in range(n):
        b = f"blk.{i}"
        t += [(f"{b}.attn_norm.weight", (e,)), (f"{b}.attn_norm.bias", (e,)),
              (f"{b}.attn_qkv.weight", (e, e + 2 * nkv * hd)), (f"{b}.attn_output.weight", (e, e)),
              (f"{b}.ffn_up.weight", (e, ff)), (f"{b}.ffn_down.weight", (ff, e))]
    kv = {"context_length": 2048, "embedding_length": e, "block_count": n, "feed_forward_length": ff,
          "attention.head_count": nh, "attention.head_count_kv": nkv,
          "attention.layer_norm_epsilon": 1e-5, "vocab_size": N_VOCAB}
    return "falcon", kv, t + [("output_norm.weight", (e,)), ("output_norm.bias", (e,)),
                              ("output.weight", (e, N_VOCAB))]


_SPECS: dict[str, Callable[[], Spec]] = {
    "llama": _llama, "llama_ff1000": lambda: _llama(n_ff=1000), "llama_tied": lambda: _llama(tied=True),
    "llama_split": _llama, "qwen3moe": _qwen3moe, "qwen35moe": _qwen35moe, "deepseek2": _deepseek2,
}
# Variants for the mixture's conditions (layer counts, GQA, expert counts, odd rows, falcon); not in
# KINDS, so the tests that walk every kind stay small. The 80-layer llama is what llama.cpp calls 70B.
MIXTURE_KINDS: tuple[str, ...] = ("llama_mha9", "llama_gqa8_17", "llama_70b", "llama_e288", "falcon",
                                  "qwen3moe_8x", "qwen3moe_128x", "qwen35moe_8x", "deepseek2_kvb", "glm4moe", "gptoss")
_SPECS.update({
    "llama_mha9": lambda: _llama(n_ff=256, n=9, nh=4, nkv=4),
    "llama_gqa8_17": lambda: _llama(n_ff=512, n=17, nh=8, nkv=1, hd=32),
    "llama_70b": lambda: _llama(n_ff=32, n=80, nh=4, nkv=1, hd=16),
    "llama_e288": lambda: _llama(n_ff=256, n=5, nh=4, nkv=1, hd=72, e=288),
    "falcon": _falcon,
    "qwen3moe_8x": lambda: _qwen3moe(n=5, nx=8, nh=8, nkv=2),
    "qwen3moe_128x": lambda: _qwen3moe(nx=128, ff=32, used=8),
    "qwen35moe_8x": lambda: _qwen35moe(n_trunk=7, every=4, nx=8, ff=128),
    "deepseek2_kvb": lambda: _deepseek2(n=9, nx=16, ff=64, kv_b=True),
    "glm4moe": _glm4moe,
    "gptoss": _gptoss,
})


def model_spec(kind: str) -> Spec:
    """(arch, arch metadata without the prefix, [(tensor name, ggml shape)]) of a fixture KIND."""
    if kind not in _SPECS:
        raise ValueError(f"unknown fixture kind {kind!r}; known: {', '.join(_SPECS)}")
    return _SPECS[kind]()


def intended_tensors(kind: str) -> list[tuple[str, tuple[int, ...], str]]:
    """The (name, ggml shape, source type) rows write_model(KIND) writes, in file order."""
    return [(n, s, source_type(n, s)) for n, s in model_spec(kind)[2]]


def _byte_chars() -> list[str]:
    """GPT-2's byte -> printable character table, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _add_tokenizer(w: gguf.GGUFWriter) -> None:
    tokens = _byte_chars()
    letters = "etaoinshrdlucmfwypvbgk"
    pairs = [("Ġ", c) for c in letters] + [(a, b) for a in letters for b in letters]
    merges = pairs[: N_VOCAB - 257]
    tokens += [a + b for a, b in merges] + ["<|endoftext|>"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * (N_VOCAB - 1) + [3])
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    w.add_bos_token_id(N_VOCAB - 1)
    w.add_eos_token_id(N_VOCAB - 1)


def _add_kv(w: gguf.GGUFWriter, key: str, v: Any) -> None:
    if isinstance(v, bool):
        w.add_bool(key, v)
    elif isinstance(v, int):
        w.add_uint32(key, v)
    elif isinstance(v, float):
        w.add_float32(key, v)
    elif isinstance(v, str):
        w.add_string(key, v)
    else:
        w.add_array(key, list(v))


def _tensor_data(name: str, shape: tuple[int, ...], type_name: str, rng: np.random.Generator) -> np.ndarray:
    np_shape = tuple(reversed(shape))
    if type_name == "F32":
        return np.ones(np_shape, dtype=np.float32) if name.endswith("norm.weight") else \
            rng.standard_normal(np_shape, dtype=np.float32) * np.float32(0.1)
    return (rng.standard_normal(np_shape, dtype=np.float32) * np.float32(0.02)).astype(np.float16)


def write_model(kind: str, directory: str | os.PathLike, seed: int = 0) -> Path:
    """Write fixture model KIND into DIRECTORY; return the .gguf path (the first shard if split)."""
    arch, kv, tensors = model_spec(kind)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}.gguf"
    w = gguf.GGUFWriter(path, arch, split_max_tensors=8 if kind == "llama_split" else 0)
    w.add_name(f"recipec fixture {kind}")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for key, v in kv.items():
        _add_kv(w, f"{arch}.{key}", v)
    _add_tokenizer(w)
    rng = np.random.default_rng(seed)
    for name, shape in tensors:
        w.add_tensor(name, _tensor_data(name, shape, source_type(name, shape), rng))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.with_name(f"{kind}-00001-of-00003.gguf") if kind == "llama_split" else path


# --- imatrices ---------------------------------------------------------------------------------

# Roles that read the same input within a block (so their in_sum2 vectors are equal).
_SAME_INPUT = {
    "attn_q": "attn", "attn_k": "attn", "attn_v": "attn", "attn_qkv": "attn", "attn_gate": "attn",
    "ssm_beta": "attn", "ssm_alpha": "attn", "attn_q_a": "attn", "attn_kv_a_mqa": "attn",
    "ffn_gate": "ffn", "ffn_up": "ffn", "ffn_gate_inp": "ffn", "ffn_gate_shexp": "ffn",
    "ffn_up_shexp": "ffn", "ffn_gate_exps": "exps", "ffn_up_exps": "exps",
}
_NO_MATMUL = ("token_embd", "ssm_conv1d")


def imatrix_entries(info: ModelInfo, seed: int = 0, nextn: bool = False, chunk_count: int = 4,
                    chunk_size: int = 512) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Synthetic {name: (in_sum2 [n_mat, ne0] f32, counts [n_mat] f32)} as llama-imatrix collects.

    Matmul weights only (2-D/3-D `.weight`, not token_embd or ssm_conv1d); MTP tensors only with
    NEXTN; expert stacks get uneven token counts and one expert with none.
    """
    rng = np.random.default_rng(seed)
    tokens = chunk_count * chunk_size
    shared: dict[tuple, np.ndarray] = {}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for t in info.tensors:
        if len(t.shape) < 2 or not t.name.endswith(".weight") or t.role in _NO_MATMUL or (t.mtp and not nextn):
            continue
        ne0, n_mat = t.shape[0], (t.shape[2] if len(t.shape) == 3 else 1)
        if t.is_expert_stack:
            used = max(1, int(info.expert_used_count or 1))
            counts = rng.multinomial(tokens * used, rng.dirichlet(np.ones(n_mat))).astype(np.float32)
            counts[n_mat - 1] = 0.0  # an expert the calibration text never reached
        else:
            counts = np.full(n_mat, tokens, dtype=np.float32)
        key = (t.layer, _SAME_INPUT.get(t.role, t.name), ne0, n_mat)
        if key not in shared:
            shared[key] = rng.gamma(2.0, 0.5, size=(n_mat, ne0)).astype(np.float32)
        ms = shared[key]
        out[t.name] = ((ms * counts[:, None]).astype(np.float32), counts)
    return out


def write_imatrix(kind: str, model: str | os.PathLike | ModelInfo, path: str | os.PathLike,
                  format: str = "gguf", seed: int = 0, nextn: bool = False,
                  dataset: str = "calibration.txt", chunk_count: int = 4, chunk_size: int = 512) -> Path:
    """Write a synthetic imatrix for MODEL (path or ModelInfo) as a GGUF or legacy .dat; return PATH."""
    from recipec.loaders import load_model

    info = model if isinstance(model, ModelInfo) else load_model(model)
    entries = imatrix_entries(info, seed, nextn, chunk_count, chunk_size)
    path = Path(path)
    if format == "dat":
        path.write_bytes(dat_bytes(entries, chunk_count, chunk_size, dataset))
        return path
    if format != "gguf":
        raise ValueError(f"format must be 'gguf' or 'dat', not {format!r}")
    w = gguf.GGUFWriter(path, info.arch)
    w.kv_data[0].pop(gguf.Keys.General.ARCHITECTURE, None)  # llama-imatrix writes none
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", [dataset])
    w.add_uint32("imatrix.chunk_count", chunk_count)
    w.add_uint32("imatrix.chunk_size", chunk_size)
    if nextn and info.nextn_layers:
        w.add_uint32("imatrix.n_layer_nextn", info.nextn_layers)
    for name in sorted(entries):
        s2, counts = entries[name]
        w.add_tensor(f"{name}.in_sum2", s2)
        w.add_tensor(f"{name}.counts", counts.reshape(-1, 1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def dat_bytes(entries: dict[str, tuple[np.ndarray, np.ndarray]], chunk_count: int, chunk_size: int,
              dataset: str | None) -> bytes:
    """The legacy .dat encoding of ENTRIES, as llama-imatrix's legacy writer stores them."""
    parts = [struct.pack("<i", len(entries))]
    for name in sorted(entries):
        s2, counts = entries[name]
        ncall = int((counts.max() + chunk_size - 1) // chunk_size)
        c = counts.astype(np.float32)[:, None]
        vals = np.where(c == 0, np.float32(1.0), s2 / np.where(c == 0, 1, c)) * np.float32(ncall)
        raw = name.encode()
        parts += [struct.pack("<i", len(raw)), raw, struct.pack("<ii", ncall, vals.size),
                  vals.astype("<f4").tobytes()]
    if dataset is not None:
        raw = dataset.encode()
        parts += [struct.pack("<ii", chunk_count, len(raw)), raw]
    return b"".join(parts)
