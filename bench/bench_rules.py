"""Benchmark: rule count and synthesis + self-check time for a realistic 35B MoE plan.

Uses examples/qwen3.5-35b-a3b.manifest.json when present, else builds a model of that shape
(Qwen3.5-35B-A3B: 40 trunk blocks, full attention every 4th, 256 experts, one MTP block).
Run: python bench/bench_rules.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipec.llamacpp import predict_file_size  # noqa: E402
from recipec.modelinfo import ModelInfo, TensorInfo, split_name  # noqa: E402
from recipec.rules import format_rules  # noqa: E402
from tests.rule_helpers import quantized_names, self_check, synthesize  # noqa: E402  (model + assignment -> plan entries)

MANIFEST = ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json"


def qwen35_35b_shape() -> ModelInfo:
    """A ModelInfo with the tensor names and shapes of Qwen3.5-35B-A3B (no weights)."""
    e, nx, ff, vocab, trunk, every = 2048, 256, 512, 248320, 40, 4
    qkv, vdim = 8192, 4096
    t: list[tuple[str, tuple[int, ...], str]] = [("token_embd.weight", (e, vocab), "BF16")]
    for i in range(trunk + 1):
        b = f"blk.{i}"
        t.append((f"{b}.attn_norm.weight", (e,), "F32"))
        if i == trunk or (i + 1) % every == 0:
            t += [(f"{b}.attn_q.weight", (e, 8192), "BF16"), (f"{b}.attn_k.weight", (e, 512), "BF16"),
                  (f"{b}.attn_v.weight", (e, 512), "BF16"), (f"{b}.attn_output.weight", (4096, e), "BF16"),
                  (f"{b}.attn_q_norm.weight", (256,), "F32"), (f"{b}.attn_k_norm.weight", (256,), "F32")]
        else:
            t += [(f"{b}.attn_qkv.weight", (e, qkv), "BF16"), (f"{b}.attn_gate.weight", (e, vdim), "BF16"),
                  (f"{b}.ssm_conv1d.weight", (4, qkv), "F32"), (f"{b}.ssm_dt.bias", (32,), "F32"),
                  (f"{b}.ssm_a", (32,), "F32"), (f"{b}.ssm_beta.weight", (e, 32), "BF16"),
                  (f"{b}.ssm_alpha.weight", (e, 32), "BF16"), (f"{b}.ssm_norm.weight", (128,), "F32"),
                  (f"{b}.ssm_out.weight", (vdim, e), "BF16")]
        t += [(f"{b}.post_attention_norm.weight", (e,), "F32"), (f"{b}.ffn_gate_inp.weight", (e, nx), "F32"),
              (f"{b}.ffn_gate_exps.weight", (e, ff, nx), "BF16"), (f"{b}.ffn_up_exps.weight", (e, ff, nx), "BF16"),
              (f"{b}.ffn_down_exps.weight", (ff, e, nx), "BF16"), (f"{b}.ffn_gate_inp_shexp.weight", (e,), "F32"),
              (f"{b}.ffn_gate_shexp.weight", (e, ff), "BF16"), (f"{b}.ffn_up_shexp.weight", (e, ff), "BF16"),
              (f"{b}.ffn_down_shexp.weight", (ff, e), "BF16")]
        if i == trunk:
            t += [(f"{b}.nextn.eh_proj.weight", (2 * e, e), "BF16"), (f"{b}.nextn.enorm.weight", (e,), "F32"),
                  (f"{b}.nextn.hnorm.weight", (e,), "F32"), (f"{b}.nextn.shared_head_norm.weight", (e,), "F32")]
    t += [("output_norm.weight", (e,), "F32"), ("output.weight", (e, vocab), "BF16")]
    tensors = tuple(TensorInfo(n, s, typ, *split_name(n), split_name(n)[1] == trunk) for n, s, typ in t)
    return ModelInfo("qwen35moe", tensors, block_count=trunk + 1, nextn_layers=1)


def realistic_plan(info: ModelInfo) -> dict[str, str]:
    """Experts IQ4_XS (first 2 layers' ffn_down_exps Q6_K), attention Q5_K/Q6_K, ssm Q5_K, output Q8_0, MTP Q6_K."""
    plan = {}
    for name in quantized_names(info):
        t = info.tensor(name)
        if t.layer is not None and t.layer >= info.trunk_layers:
            typ = "Q6_K"
        elif t.role in ("output",):
            typ = "Q8_0"
        elif t.role == "token_embd":
            typ = "Q6_K"
        elif t.role == "ffn_down_exps" and t.layer < 2:
            typ = "Q6_K"
        elif t.role.endswith("_exps"):
            typ = "IQ4_XS"
        elif t.role in ("attn_v", "attn_qkv"):
            typ = "Q6_K"
        elif t.role.endswith("_shexp"):
            typ = "Q6_K"
        else:  # attn_q/k/output/gate, ssm_*
            typ = "Q5_K"
        plan[name] = typ
    return plan


def main() -> int:
    """Print the numbers (and the rules); exit 1 when the rules exceed twice the pairs."""
    if MANIFEST.exists():
        from recipec.loaders import load_model

        info, where = load_model(MANIFEST), MANIFEST.name
    else:
        info, where = qwen35_35b_shape(), "built-in Qwen3.5-35B-A3B shape"
    plan = realistic_plan(info)
    t0 = time.perf_counter()
    rules = synthesize(info, plan)
    t1 = time.perf_counter()
    self_check(rules, info, plan, "IQ4_XS")
    t2 = time.perf_counter()
    pairs = {(info.tensor(n).role, typ) for n, typ in plan.items()}
    size = predict_file_size(info, {t.name: plan.get(t.name, t.type) for t in info.tensors})
    print(f"model: {where}: {len(info.tensors)} tensors, {len(plan)} quantized")
    print(f"distinct (role, type) pairs: {len(pairs)}")
    print(f"rules: {len(rules)} (ratio {len(rules) / len(pairs):.2f}, aim <= 2.00)")
    print(f"synthesis: {1000 * (t1 - t0):.1f} ms, self-check (first- and last-match): {1000 * (t2 - t1):.1f} ms")
    extra = "plus the key/value section (tokenizer)" if size.slack is None else f"+ at most {size.slack} B"
    print(f"predicted file size: {size.bytes / 2**30:.2f} GiB ({extra})")
    print(format_rules(rules), end="")
    return 0 if len(rules) <= 2 * len(pairs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
