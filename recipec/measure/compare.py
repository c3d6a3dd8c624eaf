"""The numbers: column weights from the imatrix, the sample's energy, and t² of a quantized copy.

For tensor W (rows i, columns j; per expert e for a 3-D stack) and weights w_ej = in_sum2 / counts:

    energy = Σ_e Σ_i Σ_j w_ej W²_eij   over all rows (the sample's sum × rows / rows sampled)
    t²     = Σ w (W − Ŵ)² / Σ w W²     over the sampled rows

with Ŵ the real quantizer's output, dequantized by gguf-py. Without imatrix data w = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import gguf
import numpy as np
from gguf import GGMLQuantizationType, GGUFReader

from recipec.diagnostics import error
from recipec.imatrix import ImatrixStats

_PLAIN = (GGMLQuantizationType.F32, GGMLQuantizationType.F16)


@dataclass(frozen=True)
class Reference:
    """What does not depend on the type: weighting, energy, rows sampled (per measured tensor)."""

    weighted: bool
    energy: float
    rows_sampled: int  # over the whole tensor (every expert of a stack)


def column_weights(stats: Optional[ImatrixStats], name: str, shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """[n_mat, ne0] float64 weights of tensor NAME (one row per expert of a stack), None: no data."""
    entry = None if stats is None else stats.tensors.get(name)
    if entry is None:
        return None
    outer = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    if entry.ne0 != shape[0] or entry.n_mat not in (1, outer):
        raise error("I103", f"the imatrix entry of {name} is {entry.n_mat} x {entry.ne0}, the tensor is "
                            f"{' x '.join(str(d) for d in shape)}",
                    hint="give the imatrix computed on this model")
    return entry.mean_square()


def _values(t: gguf.ReaderTensor) -> np.ndarray:
    """T's data as float64 [outer, rows, ne0]."""
    shape = [int(d) for d in t.shape]
    outer = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    qtype = GGMLQuantizationType(int(t.tensor_type))
    data = t.data if qtype in _PLAIN else gguf.quants.dequantize(t.data, qtype)
    return np.asarray(data, dtype=np.float64).reshape(outer, shape[1], shape[0])


def _weighted_sum(x2: np.ndarray, w: Optional[np.ndarray]) -> float:
    """Σ w_ej x²_eij for x2 [outer, rows, ne0] and w [n_mat, ne0] (or None: w = 1)."""
    per_col = x2.sum(axis=1)  # [outer, ne0]
    return float(per_col.sum() if w is None else (per_col * w).sum())


def reference(sample: GGUFReader, measured: dict[str, int], stats: Optional[ImatrixStats]) -> dict[str, Reference]:
    """Weighting and energy of every measured tensor (MEASURED: name -> rows of the whole tensor)."""
    out: dict[str, Reference] = {}
    for t in sample.tensors:
        if t.name not in measured:
            continue
        shape = tuple(int(d) for d in t.shape)
        w = column_weights(stats, t.name, shape)
        values = _values(t)  # [outer, rows sampled per matrix, ne0]
        part = _weighted_sum(np.square(values), w)
        out[t.name] = Reference(weighted=w is not None, energy=part * measured[t.name] / shape[1],
                                rows_sampled=values.shape[0] * values.shape[1])
    return out


def errors(sample: GGUFReader, quantized: GGUFReader, names: set[str],
           stats: Optional[ImatrixStats]) -> dict[str, tuple[float, str]]:
    """{name: (t², type written)} of the tensors NAMES, comparing QUANTIZED with SAMPLE."""
    got = {t.name: t for t in quantized.tensors}
    out: dict[str, tuple[float, str]] = {}
    for t in sample.tensors:
        if t.name not in names:
            continue
        q = got.get(t.name)
        if q is None:
            raise error("U002", f"the quantized sample has no tensor {t.name}")
        shape = tuple(int(d) for d in t.shape)
        w = column_weights(stats, t.name, shape)
        ref = _values(t)
        den = _weighted_sum(np.square(ref), w)
        num = _weighted_sum(np.square(ref - _values(q)), w)
        out[t.name] = (num / den if den > 0 else 0.0, GGMLQuantizationType(int(q.tensor_type)).name)
    return out
