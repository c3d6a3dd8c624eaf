"""Fitting α from KLD probes, and how well the fit predicts probes it did not see.

A probe puts one group of tensors at the probe type, the rest at the high type; its ΔKLD is its
mean KLD minus the all-high run's. The error model predicts ΔKLD_g ≈ α_g · D_g with

    D_g = Σ_{t∈g} energy_t · s_t · t²_t(probe type)

where s_t is 1 for a tensor the imatrix weights and, for one it has no data for (plain Σ W²),
the median imatrix importance that `compile` puts on such a tensor (recipec.resolve.weights), so
that compile's cost energy·s·α·t² is the predicted ΔKLD in both cases. So α_g = ΔKLD_g / D_g;
a ΔKLD below the printed resolution (noise can make it negative) is taken as that resolution.

Coarser keys get the pooled α (Σ ΔKLD / Σ D) of their probes, for tensors no probe covered:
`ROLE` from band or tensor probes, `ROLE@BAND` from tensor probes. Leave-one-out: each probe is
predicted from the pooled α of the other probes at the nearest coarser level that has any (same
ROLE@BAND, then same ROLE, then all), and the Spearman rank correlation of predicted and measured
ΔKLD says how far the fit generalises.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

MIN_DELTA = 1e-6  # llama-perplexity prints mean KLD to 6 decimals
POOR_SPEARMAN = 0.5  # below this, a warning


def levels(probe: dict) -> list[str]:
    """The probe's coarser keys, nearest first (ROLE@BAND for a tensor probe, then ROLE)."""
    out = []
    if probe["granularity"] == "tensor" and probe.get("band"):
        out.append(f"{probe['role']}@{probe['band']}")
    if probe["granularity"] in ("tensor", "band") and probe["group"] != probe["role"]:
        out.append(probe["role"])
    return out


def _pooled(probes: Sequence[dict]) -> Optional[float]:
    den = sum(p["denominator"] for p in probes)
    return sum(p["delta_kld_used"] for p in probes) / den if den > 0 else None


def alphas(probes: Sequence[dict]) -> dict[str, float]:
    """α per probe group, and pooled α for every coarser key no probe has as its group."""
    out = {p["group"]: p["alpha"] for p in probes if p.get("alpha") is not None}
    coarse: dict[str, list[dict]] = {}
    for p in probes:
        if p.get("alpha") is None:
            continue
        for key in levels(p):
            coarse.setdefault(key, []).append(p)
    for key, members in coarse.items():
        a = _pooled(members)
        if key not in out and a is not None:
            out[key] = a
    return dict(sorted(out.items()))


def leave_one_out(probes: Sequence[dict]) -> list[Optional[float]]:
    """Each probe's ΔKLD predicted without it (None where no other probe can say)."""
    fitted = [p for p in probes if p.get("alpha") is not None]
    out: list[Optional[float]] = []
    for p in probes:
        others = [q for q in fitted if q is not p]
        alpha = None
        for key in levels(p):
            alpha = _pooled([q for q in others if key in levels(q) or q["group"] == key])
            if alpha is not None:
                break
        if alpha is None:
            alpha = _pooled(others)
        out.append(None if alpha is None or p.get("alpha") is None else alpha * p["denominator"])
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        tied = x == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Spearman's rank correlation (None: fewer than 3 pairs, or a constant side)."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])
