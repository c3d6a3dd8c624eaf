"""Stage 3 of resolve: each tensor's weight, importance x depth.

A tensor's weight is its activation energy: for each matrix (each expert of a stack) the imatrix
importance (mean over columns of in_sum2 / counts) x ne0 x output rows, summed. Without an
imatrix the importance is 1, so the weight is the element count; tensors the imatrix has no data
for get the median importance of those it has, times the documented prior of errormodel for
output.weight and token_embd (1 for every other role). The depth multiplier is the last `depth`
statement naming the tensor's layer (MTP layers: 1 unless a `depth @mtp`-style statement names
them). A group's weight is the sum over its tensors.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Optional

from recipec.errorfile import ErrorFile
from recipec.errormodel import no_data_prior
from recipec.imatrix import ImatrixStats
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec.recipe import Recipe
from recipec.selectors import LayerContext, depth_of, layer_context


@dataclass(frozen=True)
class Weigher:
    """Weights of one model's tensors under one recipe and imatrix."""

    recipe: Recipe
    imatrix: Optional[ImatrixStats]
    trunk: int
    fallback_importance: float  # the median importance: for tensors the imatrix has no data for
    errors: Optional[ErrorFile] = None
    layers: Optional[LayerContext] = None  # what `depth` filters read (default: every layer full attention)

    def depth(self, t: TensorInfo) -> float:
        return depth_of(self.recipe.depth, t, self.layers or LayerContext.plain(self.trunk))

    def energy(self, t: TensorInfo) -> float:
        """The activation energy of T: measured (Σ w W², times the probes' alpha) when an error file
        has it, else importance x elements, per matrix."""
        measured = self.errors.tensors.get(t.name) if self.errors is not None else None
        if measured is not None:
            alpha = alpha_of(self.errors.alpha, t, self.trunk)
            if measured.weighted:
                return measured.energy * (alpha if alpha is not None else 1.0)
            # plain Σ W²: at the median w, and (until a probe measured it) the role's prior
            prior = no_data_prior(t.role) if alpha is None else alpha
            return measured.energy * self.fallback_importance * prior
        per = t.shape[0] * (t.shape[1] if len(t.shape) > 1 else 1)
        ts = self.imatrix.get(t.name) if self.imatrix is not None else None
        if ts is not None:
            return float(sum(ts.importance)) * per
        n_mat = t.n_elements // per if per else 1
        return self.fallback_importance * no_data_prior(t.role) * per * n_mat

    def weight(self, t: TensorInfo) -> float:
        return self.energy(t) * self.depth(t)


def band(t: TensorInfo, trunk: int) -> Optional[str]:
    """The depth band of T: first, early, mid, late, last (trunk thirds between), mtp; None for globals."""
    if t.mtp:
        return "mtp"
    if t.layer is None:
        return None
    if t.layer == 0:
        return "first"
    if t.layer >= trunk - 1:
        return "last"
    third = 3 * t.layer // max(1, trunk - 1)
    return ("early", "mid", "late")[min(third, 2)]


def alpha_of(alpha: dict[str, float], t: TensorInfo, trunk: int) -> Optional[float]:
    """The probes' multiplier for T: its own name (per-tensor probes), else `ROLE@BAND`, else `ROLE`;
    None when no probe measured it."""
    if t.name in alpha:
        return alpha[t.name]
    b = band(t, trunk)
    if b is not None and f"{t.role}@{b}" in alpha:
        return alpha[f"{t.role}@{b}"]
    return alpha.get(t.role)


def weigher(recipe: Recipe, out_model: ModelInfo, imatrix: ImatrixStats | None,
            errors: ErrorFile | None = None) -> Weigher:
    """The weigher for OUT_MODEL's tensors (the fallback importance is the median of its data)."""
    imps: list[float] = []
    if imatrix is not None:
        for t in out_model.tensors:
            ts = imatrix.get(t.name)
            if ts is not None:
                imps.append(float(sum(ts.importance)) / max(1, len(ts.importance)))
    fallback = statistics.median(imps) if imps else 1.0
    return Weigher(recipe, imatrix, out_model.trunk_layers, fallback, errors, layer_context(out_model))
