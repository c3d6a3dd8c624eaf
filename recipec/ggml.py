"""ggml type facts: names, block sizes, bytes and bits per weight, FTYPE names.

Sizes come from the `gguf` package's GGML_QUANT_SIZES (the llama.cpp team's own table).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from types import ModuleType


@lru_cache(maxsize=1)
def gguf_constants() -> ModuleType:
    """The `gguf` package's constants module (quant types and sizes, tensor names) without importing
    the package: its readers and writers pull in numpy, which the model-free commands do not need."""
    if "gguf.constants" in sys.modules and sys.modules["gguf.constants"] is not None:
        return sys.modules["gguf.constants"]
    spec = importlib.util.find_spec("gguf")  # None when not installed (or blocked): the import names it
    path = os.path.join(os.path.dirname(spec.origin), "constants.py") if spec and spec.origin else ""
    if os.path.isfile(path):
        loaded = importlib.util.spec_from_file_location("recipec._gguf_constants", path)
        module = importlib.util.module_from_spec(loaded)
        try:
            loaded.loader.exec_module(module)  # constants.py imports only the standard library
            return module
        except ImportError:
            pass
    import gguf.constants

    return gguf.constants


_GGUF = gguf_constants()
# Canonical spelling is the gguf enum's (`Q4_K`, `IQ4_XS`, `BF16`); user input is case-insensitive.
QUANT_SIZES: dict[str, tuple[int, int]] = {
    t.name: _GGUF.GGML_QUANT_SIZES[t] for t in _GGUF.GGMLQuantizationType if t in _GGUF.GGML_QUANT_SIZES
}
# Types of the pinned build the gguf package does not list yet (ggml/src/ggml-common.h: block_q2_0
# holds an f16 scale and 64 two-bit weights).
QUANT_SIZES.setdefault("Q2_0", (64, 2 + 64 // 4))
TYPE_NAMES: tuple[str, ...] = tuple(QUANT_SIZES)
_BY_LOWER = {n.lower(): n for n in TYPE_NAMES}

# Types llama-quantize can write (measured); others parse but crash it or are rejected.
TARGET_TYPES: frozenset[str] = frozenset({
    "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
    "Q6_K", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "IQ4_NL", "IQ4_XS",
    "TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "Q1_0", "Q2_0",
} & set(TYPE_NAMES))
# Type names that parse but abort llama-quantize (exit 134, partial file left behind).
CRASH_TYPES: frozenset[str] = frozenset({"Q8_1", "Q8_K", "I8", "I16", "I32", "I64", "F64"})
# Types whose block may not divide a row and that have no shape fallback: the run fails.
NO_FALLBACK_TYPES: frozenset[str] = frozenset({"NVFP4", "Q1_0"})
# Types llama-quantize refuses to write without importance data.
IMATRIX_TYPES: frozenset[str] = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS"})

# llama-quantize FTYPE names -> the ggml type of its default (the type of most tensors).
FTYPE_DEFAULT: dict[str, str] = {
    "Q1_0": "Q1_0", "Q2_0": "Q2_0", "Q4_0": "Q4_0", "Q4_1": "Q4_1", "MXFP4_MOE": "MXFP4",
    "Q5_0": "Q5_0", "Q5_1": "Q5_1", "IQ2_XXS": "IQ2_XXS", "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_XS",
    "IQ2_M": "IQ2_S", "IQ1_S": "IQ1_S", "IQ1_M": "IQ1_M", "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0",
    "Q2_K": "Q2_K", "Q2_K_S": "Q2_K", "IQ3_XXS": "IQ3_XXS", "IQ3_S": "IQ3_S", "IQ3_M": "IQ3_S",
    "Q3_K": "Q3_K", "IQ3_XS": "IQ3_S", "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K",
    "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS", "Q4_K": "Q4_K", "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K",
    "Q5_K": "Q5_K", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K", "Q6_K": "Q6_K", "Q8_0": "Q8_0",
    "F16": "F16", "BF16": "BF16", "F32": "F32", "COPY": "COPY",
}
FTYPE_NAMES: tuple[str, ...] = tuple(FTYPE_DEFAULT)
# FTYPE names llama-quantize accepts as aliases of another (tools/quantize/quantize.cpp:55,62,65).
FTYPE_ALIASES: dict[str, str] = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}
# FTYPEs with which llama-quantize silently ignores every --tensor-type rule.
RULE_DISABLING_FTYPES: frozenset[str] = frozenset({"F16", "BF16", "F32", "COPY"})


def canonical_type(name: str) -> str | None:
    """The canonical ggml type name for NAME (any case), or None if ggml has no such type."""
    return _BY_LOWER.get(name.lower())


def canonical_ftype(name: str) -> str | None:
    """The canonical FTYPE name for NAME (any case), or None."""
    up = name.upper()
    return up if up in FTYPE_DEFAULT else None


def block_size(type_name: str) -> int:
    return QUANT_SIZES[type_name][0]


def bits_per_weight(type_name: str) -> float:
    """Storage bits per weight: 8 x block bytes / block elements."""
    block, size = QUANT_SIZES[type_name]
    return 8.0 * size / block


def row_bytes(type_name: str, ne0: int) -> int:
    """Bytes of one row of NE0 elements (NE0 must be a multiple of the block)."""
    block, size = QUANT_SIZES[type_name]
    if ne0 % block:
        raise ValueError(f"{type_name} block {block} does not divide a row of {ne0}")
    return ne0 // block * size


def tensor_bytes(type_name: str, shape: tuple[int, ...] | list[int]) -> int:
    """Exact bytes of a tensor of SHAPE (ggml order, ne0 first) stored as TYPE_NAME."""
    rows = 1
    for d in shape[1:]:
        rows *= int(d)
    return row_bytes(type_name, int(shape[0])) * rows


def divides(type_name: str, ne0: int) -> bool:
    """Whether TYPE_NAME's block divides a row of NE0 elements."""
    return ne0 % QUANT_SIZES[type_name][0] == 0
