"""The smoke model's weights in closed form with numpy (no PyTorch): a bigram model in a llama body.

The embedding and output matrices are the rank-n_embd SVD factors of the smoothed, row-centred
log bigram table of the training tokens; the decoder layers are small random matrices (fixed
seed) that perturb the residual stream. Fitted in about a second, it predicts far better than
uniform, which is all the smoke bench needs: a real model whose quantization error is measurable.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .config import ModelShape, Training


def train(tokens: np.ndarray, eval_tokens: np.ndarray, shape: ModelShape, cfg: Training, log) -> tuple[dict, dict]:
    t0 = time.time()
    V, d = shape.n_vocab, shape.n_embd
    counts = np.zeros((V, V), dtype=np.float64)
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1.0)
    logp = np.log((counts + 0.1) / (counts.sum(1, keepdims=True) + 0.1 * V))
    logp -= logp.mean(1, keepdims=True)
    u, s, vt = np.linalg.svd(logp)
    r = min(d, V)
    emb = np.zeros((V, d))
    out = np.zeros((V, d))
    emb[:, :r] = u[:, :r] * np.sqrt(s[:r])
    out[:, :r] = vt[:r].T * np.sqrt(s[:r])
    # The final RMSNorm divides each embedding by its RMS: put the mean RMS back into the output.
    rms = np.sqrt((emb**2).mean(1)).mean()
    out *= rms
    rng = np.random.default_rng(cfg.seed)
    hd = d // shape.n_head
    w: dict[str, np.ndarray] = {"token_embd.weight": emb.astype(np.float32)}
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        w[p + "attn_norm.weight"] = np.ones(d, np.float32)
        w[p + "ffn_norm.weight"] = np.ones(d, np.float32)
        for name, rows, cols, std in (
            ("attn_q", shape.n_head * hd, d, 0.08), ("attn_k", shape.n_head_kv * hd, d, 0.08),
            ("attn_v", shape.n_head_kv * hd, d, 0.08), ("attn_output", d, shape.n_head * hd, 0.02),
            ("ffn_gate", shape.n_ff, d, 0.08), ("ffn_up", shape.n_ff, d, 0.08), ("ffn_down", d, shape.n_ff, 0.02),
        ):
            w[f"{p}{name}.weight"] = (rng.standard_normal((rows, cols)) * std * rms).astype(np.float32)
    w["output_norm.weight"] = np.ones(d, np.float32)
    w["output.weight"] = out.astype(np.float32)
    lp = np.log((counts + 0.1) / (counts.sum(1, keepdims=True) + 0.1 * V))
    bigram_ppl = math.exp(-float(lp[eval_tokens[:-1], eval_tokens[1:]].mean()))
    stats = {"train_seconds": round(time.time() - t0, 1), "method": "bigram", "bigram_ppl": bigram_ppl,
             "n_params": int(sum(a.size for a in w.values()))}
    log(f"train: bigram fit in {stats['train_seconds']} s, bigram perplexity {bigram_ppl:.1f}")
    return w, stats
