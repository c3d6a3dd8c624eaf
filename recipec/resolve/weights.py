"""Stage 3 of resolve: each tensor's weight, importance x depth.

A tensor's weight is its activation energy: for each matrix (each expert of a stack) the imatrix
importance (mean over columns of in_sum2 / counts) x ne0 x output rows, summed. Without an
imatrix the importance is 1, so the weight is the element count; tensors the imatrix has no data
for get the median importance of those it has. The depth multiplier is the last `depth`
statement naming the tensor's layer (MTP layers: 1 unless a `depth @mtp`-style statement names
them). A group's weight is the sum over its tensors.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Optional

from recipec.imatrix import ImatrixStats
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec.recipe import Recipe
from recipec.selectors import depth_of


@dataclass(frozen=True)
class Weigher:
    """Weights of one model's tensors under one recipe and imatrix."""

    recipe: Recipe
    imatrix: Optional[ImatrixStats]
    trunk: int
    fallback_importance: float  # the median importance: for tensors the imatrix has no data for

    def depth(self, t: TensorInfo) -> float:
        return depth_of(self.recipe.depth, t, self.trunk)

    def energy(self, t: TensorInfo) -> float:
        """The activation energy of T (importance x elements, per matrix)."""
        per = t.shape[0] * (t.shape[1] if len(t.shape) > 1 else 1)
        ts = self.imatrix.get(t.name) if self.imatrix is not None else None
        if ts is not None:
            return float(sum(ts.importance)) * per
        n_mat = t.n_elements // per if per else 1
        return self.fallback_importance * per * n_mat

    def weight(self, t: TensorInfo) -> float:
        return self.energy(t) * self.depth(t)


def weigher(recipe: Recipe, out_model: ModelInfo, imatrix: ImatrixStats | None) -> Weigher:
    """The weigher for OUT_MODEL's tensors (the fallback importance is the median of its data)."""
    imps: list[float] = []
    if imatrix is not None:
        for t in out_model.tensors:
            ts = imatrix.get(t.name)
            if ts is not None:
                imps.append(float(sum(ts.importance)) / max(1, len(ts.importance)))
    fallback = statistics.median(imps) if imps else 1.0
    return Weigher(recipe, imatrix, out_model.trunk_layers, fallback)
