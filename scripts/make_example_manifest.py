#!/usr/bin/env python3
"""Build examples/qwen3.5-35b-a3b.manifest.json (and a synthetic imatrix summary) from the config.

The tensor table follows llama.cpp's converter for Qwen3.5 MoE (qwen35moe): every
`full_attention_interval`-th block is full attention (attn_q holds q and its gate), the others
are gated-delta-net blocks; every block has a router, 3-D expert stacks and a shared expert;
the MTP block is appended as blk.N with its nextn.* tensors. Weights are BF16; 1-D tensors,
norms, routers and ssm_conv1d are F32, as the converter stores them.

The imatrix summary (examples/qwen3.5-35b-a3b.imatrix.json) is synthetic and deterministic
(fixed seed): uneven expert counts, one never-routed expert per stack, equal sums for tensors that
read the same input, and no data for the MTP block (as llama-imatrix without --nextn).

    python scripts/make_example_manifest.py [--config C] [--out M] [--imatrix-out I] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recipec.fixtures import imatrix_entries  # noqa: E402
from recipec.imatrix import ImatrixStats, tensor_stats  # noqa: E402
from recipec.loaders import dumps_manifest, dumps_summary  # noqa: E402
from recipec.modelinfo import ModelInfo, make_tensor  # noqa: E402

BF16_FILE_TYPE = 32  # LLAMA_FTYPE_MOSTLY_BF16


def source_type(name: str, shape: tuple[int, ...]) -> str:
    """F32 for what the converter keeps in F32, BF16 otherwise."""
    if (len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight")
            or any(r in name for r in (".ffn_gate_inp.", ".ffn_gate_inp_shexp.", ".ssm_conv1d."))):
        return "F32"
    return "BF16"


def tensor_table(c: dict) -> list[tuple[str, tuple[int, ...]]]:
    """(name, ggml shape) rows of the model with its MTP blocks, in block order."""
    e, vocab, nx = c["hidden_size"], c["vocab_size"], c["num_experts"]
    nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    ff, shff = c["moe_intermediate_size"], c["shared_expert_intermediate_size"]
    kd = c["linear_key_head_dim"] * c["linear_num_key_heads"]
    vd = c["linear_value_head_dim"] * c["linear_num_value_heads"]
    nv, conv = c["linear_num_value_heads"], c["linear_conv_kernel_dim"]
    trunk, mtp, every = c["num_hidden_layers"], c.get("mtp_num_hidden_layers", 0), c["full_attention_interval"]
    q_mul = 2 if c.get("attn_output_gate") else 1
    rows: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (e, vocab))]
    for i in range(trunk + mtp):
        b = f"blk.{i}"
        rows.append((f"{b}.attn_norm.weight", (e,)))
        if i >= trunk or (i + 1) % every == 0:
            rows += [(f"{b}.attn_q.weight", (e, nh * hd * q_mul)), (f"{b}.attn_k.weight", (e, nkv * hd)),
                     (f"{b}.attn_v.weight", (e, nkv * hd)), (f"{b}.attn_output.weight", (nh * hd, e)),
                     (f"{b}.attn_q_norm.weight", (hd,)), (f"{b}.attn_k_norm.weight", (hd,))]
        else:
            rows += [(f"{b}.attn_qkv.weight", (e, 2 * kd + vd)), (f"{b}.attn_gate.weight", (e, vd)),
                     (f"{b}.ssm_conv1d.weight", (conv, 2 * kd + vd)), (f"{b}.ssm_dt.bias", (nv,)),
                     (f"{b}.ssm_a", (nv,)), (f"{b}.ssm_beta.weight", (e, nv)),
                     (f"{b}.ssm_alpha.weight", (e, nv)),
                     (f"{b}.ssm_norm.weight", (c["linear_value_head_dim"],)), (f"{b}.ssm_out.weight", (vd, e))]
        rows += [(f"{b}.post_attention_norm.weight", (e,)), (f"{b}.ffn_gate_inp.weight", (e, nx)),
                 (f"{b}.ffn_gate_exps.weight", (e, ff, nx)), (f"{b}.ffn_up_exps.weight", (e, ff, nx)),
                 (f"{b}.ffn_down_exps.weight", (ff, e, nx)), (f"{b}.ffn_gate_inp_shexp.weight", (e,)),
                 (f"{b}.ffn_gate_shexp.weight", (e, shff)), (f"{b}.ffn_up_shexp.weight", (e, shff)),
                 (f"{b}.ffn_down_shexp.weight", (shff, e))]
        if i >= trunk:
            rows += [(f"{b}.nextn.eh_proj.weight", (2 * e, e)), (f"{b}.nextn.enorm.weight", (e,)),
                     (f"{b}.nextn.hnorm.weight", (e,)), (f"{b}.nextn.shared_head_norm.weight", (e,))]
    rows += [("output_norm.weight", (e,))]
    if not c.get("tie_word_embeddings"):
        rows += [("output.weight", (e, vocab))]
    return rows


def build(c: dict) -> ModelInfo:
    """ModelInfo of the published layout (no source files: the manifest stands in for them)."""
    trunk, mtp = c["num_hidden_layers"], c.get("mtp_num_hidden_layers", 0)
    hd = c["head_dim"]
    md = {
        "context_length": c["max_position_embeddings"], "embedding_length": c["hidden_size"],
        "block_count": trunk + mtp, "nextn_predict_layers": mtp,
        "full_attention_interval": c["full_attention_interval"],
        "attention.head_count": c["num_attention_heads"], "attention.head_count_kv": c["num_key_value_heads"],
        "attention.key_length": hd, "attention.value_length": hd,
        "rope.dimension_count": int(hd * c["partial_rotary_factor"]),
        "rope.dimension_sections": list(c["mrope_section"]) + [0],
        "expert_count": c["num_experts"], "expert_used_count": c["num_experts_per_tok"],
        "expert_feed_forward_length": c["moe_intermediate_size"],
        "expert_shared_feed_forward_length": c["shared_expert_intermediate_size"],
        "ssm.conv_kernel": c["linear_conv_kernel_dim"], "ssm.state_size": c["linear_key_head_dim"],
        "ssm.group_count": c["linear_num_key_heads"], "ssm.time_step_rank": c["linear_num_value_heads"],
        "ssm.inner_size": c["linear_value_head_dim"] * c["linear_num_value_heads"],
        "vocab_size": c["vocab_size"], "file_type": BF16_FILE_TYPE,
        "tied_embeddings": bool(c.get("tie_word_embeddings")),
    }
    tensors = tuple(make_tensor(n, s, source_type(n, s), trunk + mtp, mtp) for n, s in tensor_table(c))
    return ModelInfo(arch="qwen35moe", tensors=tensors, block_count=trunk + mtp, nextn_layers=mtp,
                     alignment=32, sources=(), metadata=md)


def synthetic_imatrix(info: ModelInfo, seed: int = 0) -> ImatrixStats:
    """A deterministic synthetic imatrix for INFO (100 chunks of 512 tokens, no MTP data)."""
    entries = imatrix_entries(info, seed=seed, nextn=False, chunk_count=100, chunk_size=512)
    stats = {}
    for name in sorted(entries):  # one at a time: the summary keeps no raw arrays
        s2, counts = entries.pop(name)
        t = tensor_stats(name, s2, counts)
        stats[name] = type(t)(t.name, t.ne0, t.counts, t.importance, t.fingerprint)
    return ImatrixStats(tensors=stats, datasets=("synthetic (seed %d)" % seed,), chunk_count=100,
                        chunk_size=512, format="summary")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "qwen3.5-35b-a3b.config.json"))
    ap.add_argument("--out", default=str(ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json"))
    ap.add_argument("--imatrix-out", default=str(ROOT / "examples" / "qwen3.5-35b-a3b.imatrix.json"),
                    help="where to write the synthetic imatrix summary ('' to skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    info = build(json.loads(Path(args.config).read_text(encoding="utf-8")))
    Path(args.out).write_text(dumps_manifest(info), encoding="utf-8")
    if args.imatrix_out:
        Path(args.imatrix_out).write_text(dumps_summary(synthetic_imatrix(info, args.seed)), encoding="utf-8")
    trunk = [t for t in info.tensors if not t.mtp]
    params = sum(t.n_elements for t in trunk)
    nbytes = sum(t.n_elements * (2 if t.type == "BF16" else 4) for t in trunk)
    print(f"{args.out}: {len(info.tensors)} tensors ({len(info.mtp_tensors)} MTP), "
          f"{params / 1e9:.3f} B params without MTP, BF16 tensor bytes {nbytes / 1e9:.3f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
