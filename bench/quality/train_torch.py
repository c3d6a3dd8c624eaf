"""Train the llama-architecture model with PyTorch (CPU), fixed seed; returns GGUF-named weights.

RoPE is the interleaved-pairs form llama.cpp uses for the llama architecture (rope type NORM),
so the weights export without the q/k permutation HF checkpoints need.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .config import ModelShape, Training


def _require_torch():
    try:
        import torch
    except ImportError as exc:  # the bench extra is not installed
        raise SystemExit("the full bench trains with PyTorch: pip install -e '.[bench]' (torch 2.13.0, CPU)") from exc
    return torch


def build_model(shape: ModelShape):
    torch = _require_torch()
    nn = torch.nn
    F = torch.nn.functional
    hd = shape.n_embd // shape.n_head

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + shape.norm_eps) * self.weight

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = RMSNorm(shape.n_embd)
            self.attn_q = nn.Linear(shape.n_embd, shape.n_head * hd, bias=False)
            self.attn_k = nn.Linear(shape.n_embd, shape.n_head_kv * hd, bias=False)
            self.attn_v = nn.Linear(shape.n_embd, shape.n_head_kv * hd, bias=False)
            self.attn_output = nn.Linear(shape.n_head * hd, shape.n_embd, bias=False)
            self.ffn_norm = RMSNorm(shape.n_embd)
            self.ffn_gate = nn.Linear(shape.n_embd, shape.n_ff, bias=False)
            self.ffn_up = nn.Linear(shape.n_embd, shape.n_ff, bias=False)
            self.ffn_down = nn.Linear(shape.n_ff, shape.n_embd, bias=False)

        def forward(self, x, cos, sin):
            B, T, _ = x.shape
            h = self.attn_norm(x)
            q = self.attn_q(h).view(B, T, shape.n_head, hd)
            k = self.attn_k(h).view(B, T, shape.n_head_kv, hd)
            v = self.attn_v(h).view(B, T, shape.n_head_kv, hd)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            rep = shape.n_head // shape.n_head_kv
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
            a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
            x = x + self.attn_output(a.transpose(1, 2).reshape(B, T, -1))
            h = self.ffn_norm(x)
            return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))

    def rope(x, cos, sin):
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embd = nn.Embedding(shape.n_vocab, shape.n_embd)
            self.blocks = nn.ModuleList(Block() for _ in range(shape.n_layer))
            self.output_norm = RMSNorm(shape.n_embd)
            self.output = nn.Linear(shape.n_embd, shape.n_vocab, bias=False)
            inv = shape.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
            ang = torch.arange(shape.n_ctx, dtype=torch.float64)[:, None] * inv[None, :]
            self.register_buffer("cos", ang.cos().float()[None, :, None, :], persistent=False)
            self.register_buffer("sin", ang.sin().float()[None, :, None, :], persistent=False)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * shape.n_layer) if name.endswith(("attn_output.weight", "ffn_down.weight")) else 0.02
                    nn.init.normal_(p, std=std)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.token_embd(idx)
            for b in self.blocks:
                x = b(x, self.cos[:, :T], self.sin[:, :T])
            return self.output(self.output_norm(x))

    return Model()


def gguf_weights(model) -> dict[str, np.ndarray]:
    """The trained weights under their GGUF names, float32, shape (out, in) as GGUF stores them."""
    out = {}
    for name, p in model.state_dict().items():
        if name in ("cos", "sin"):
            continue
        arr = p.detach().float().numpy().copy()
        name = name.replace("blocks.", "blk.")
        out[name] = arr
    return out


def train(tokens: np.ndarray, eval_tokens: np.ndarray, shape: ModelShape, cfg: Training, log) -> tuple[dict, dict]:
    """Train for cfg.steps AdamW steps on random windows; returns (weights, stats)."""
    torch = _require_torch()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    model = build_model(shape)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95),
    )
    T = shape.n_ctx
    t0 = time.time()
    losses = []
    for step in range(cfg.steps):
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        lr = max(lr, cfg.lr * 0.02)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, len(tokens) - T - 1, size=cfg.batch)
        batch = np.stack([tokens[s : s + T + 1] for s in starts]).astype(np.int64)
        x = torch.from_numpy(batch[:, :-1])
        y = torch.from_numpy(batch[:, 1:])
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, shape.n_vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == cfg.steps - 1:
            log(f"train: step {step}/{cfg.steps} loss {np.mean(losses[-50:]):.3f} lr {lr:.2e} {time.time() - t0:.0f} s")
    model.eval()
    with torch.no_grad():
        ppl = eval_ppl(model, eval_tokens, shape.n_ctx)
    stats = {"train_seconds": round(time.time() - t0, 1), "final_loss": float(np.mean(losses[-50:])), "torch_ppl": ppl,
             "torch_version": torch.__version__, "n_params": int(sum(p.numel() for p in model.parameters()))}
    log(f"train: done, held-out perplexity (PyTorch) {ppl:.2f}")
    return gguf_weights(model), stats


def eval_ppl(model, tokens: np.ndarray, n_ctx: int) -> float:
    """Perplexity scored like llama-perplexity: chunks of n_ctx tokens, the second half of each."""
    import torch

    n_chunk = len(tokens) // n_ctx
    nll, count = 0.0, 0
    for c in range(0, n_chunk, 16):
        ids = np.stack([tokens[i * n_ctx : (i + 1) * n_ctx] for i in range(c, min(c + 16, n_chunk))]).astype(np.int64)
        logits = model(torch.from_numpy(ids)).double()
        logp = torch.log_softmax(logits, -1)
        first = n_ctx // 2
        tgt = torch.from_numpy(ids[:, first:])
        lp = logp[:, first - 1 : n_ctx - 1].gather(-1, tgt[..., None])[..., 0]
        nll -= float(lp.sum())
        count += tgt.numel()
    return math.exp(nll / count)
