"""Write the trained weights as a GGUF F16 llama model with a byte-level BPE tokenizer llama.cpp reads."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from .config import ModelShape
from .tokenizer import Tokenizer

ARCH = "llama"


def write_gguf(path: Path, weights: dict[str, np.ndarray], shape: ModelShape, tok: Tokenizer, name: str) -> None:
    """2-D tensors as F16, norms as F32; tokenizer `gpt2` with the `gpt-2` pre-tokenizer."""
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_name(name)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_context_length(shape.n_ctx)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_rope_dimension_count(shape.n_embd // shape.n_head)
    w.add_rope_freq_base(shape.rope_base)
    w.add_layer_norm_rms_eps(shape.norm_eps)
    w.add_vocab_size(len(tok.tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tok.tokens)
    w.add_token_types([gguf.TokenType.NORMAL] * (len(tok.tokens) - 1) + [gguf.TokenType.CONTROL])
    w.add_token_merges([f"{a} {b}" for a, b in tok.merges])
    w.add_bos_token_id(tok.eot)
    w.add_eos_token_id(tok.eot)
    w.add_add_bos_token(False)
    for name in tensor_order(shape):
        arr = weights[name]
        data = arr.astype(np.float16) if arr.ndim == 2 else arr.astype(np.float32)
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tensor_order(shape: ModelShape) -> list[str]:
    names = ["token_embd.weight"]
    for i in range(shape.n_layer):
        names += [f"blk.{i}.{r}.weight" for r in (
            "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")]
    return names + ["output_norm.weight", "output.weight"]
