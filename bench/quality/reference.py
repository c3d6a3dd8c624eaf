"""A numpy forward pass of the exported model: the reference perplexity llama.cpp must reproduce."""

from __future__ import annotations

import math

import numpy as np

from .config import ModelShape


def _rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope(x, cos, sin):
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def logits(weights: dict[str, np.ndarray], shape: ModelShape, ids: np.ndarray) -> np.ndarray:
    """Logits for one sequence (T,) → (T, n_vocab), float32, weights rounded to F16 like the GGUF."""
    W = {k: (v.astype(np.float16).astype(np.float32) if v.ndim == 2 else v.astype(np.float32)) for k, v in weights.items()}
    T = len(ids)
    hd = shape.n_embd // shape.n_head
    inv = shape.rope_base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :].astype(np.float32), np.sin(ang)[:, None, :].astype(np.float32)
    mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
    x = W["token_embd.weight"][ids]
    rep = shape.n_head // shape.n_head_kv
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        h = _rms(x, W[p + "attn_norm.weight"], shape.norm_eps)
        q = _rope((h @ W[p + "attn_q.weight"].T).reshape(T, shape.n_head, hd), cos, sin)
        k = _rope((h @ W[p + "attn_k.weight"].T).reshape(T, shape.n_head_kv, hd), cos, sin)
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, shape.n_head_kv, hd)
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = np.einsum("hts,shd->thd", s, v).reshape(T, -1)
        x = x + a @ W[p + "attn_output.weight"].T
        h = _rms(x, W[p + "ffn_norm.weight"], shape.norm_eps)
        g = h @ W[p + "ffn_gate.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
    return _rms(x, W["output_norm.weight"], shape.norm_eps) @ W["output.weight"].T


def perplexity(weights: dict[str, np.ndarray], shape: ModelShape, tokens: np.ndarray, n_ctx: int,
               max_chunks: int = 0) -> float:
    """Scored like llama-perplexity: chunks of n_ctx tokens, tokens n_ctx/2+1 … n_ctx-1 of each."""
    n_chunk = len(tokens) // n_ctx
    if max_chunks:
        n_chunk = min(n_chunk, max_chunks)
    nll, count = 0.0, 0
    first = n_ctx // 2
    for c in range(n_chunk):
        ids = tokens[c * n_ctx : (c + 1) * n_ctx]
        lg = logits(weights, shape, ids).astype(np.float64)[first : n_ctx - 1]
        lg -= lg.max(-1, keepdims=True)
        lp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
        nll -= float(lp[np.arange(len(lg)), ids[first + 1 :]].sum())
        count += len(lg)
    return math.exp(nll / count)
