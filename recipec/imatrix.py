"""ImatrixStats: per-tensor activation statistics; merge, coverage against a model.

Full files (GGUF imatrix, legacy .dat) give raw arrays: `in_sum2` [n_mat, ne0] and `counts`
[n_mat]. A summary JSON (recipec.imatrix/1) stands in for a full file: it keeps `counts`,
`importance` (per matrix / expert) and `fingerprint`, which is all the compiler needs, and has
`in_sum2 = None`. Code that needs raw arrays checks `ImatrixStats.has_raw`. The readers live in
recipec.loaders.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

import numpy as np

from recipec.diagnostics import Diagnostic, Severity, error
from recipec.modelinfo import ModelInfo, TensorInfo

# Roles that are matrix multiplications llama-imatrix never sees (or that quantize ignores).
NO_DATA_ROLES = frozenset({"token_embd", "ssm_conv1d", "position_embd", "token_types",
                           "ffn_gate_inp", "shortconv.conv"})


@dataclass(frozen=True)
class TensorStats:
    """One weight's statistics: counts per matrix, importance per matrix, a fingerprint, raw sums."""

    name: str
    ne0: int  # columns (the row length of the weight)
    counts: np.ndarray  # [n_mat] float64: tokens seen per matrix (per expert for MoE)
    importance: tuple[float, ...]  # per matrix: mean over columns of the mean square
    fingerprint: str  # short hash of in_sum2: equal sums -> equal fingerprint
    in_sum2: np.ndarray | None = field(default=None, repr=False)  # [n_mat, ne0] float32 or None
    in_sum: np.ndarray | None = field(default=None, repr=False)  # optional plain sums

    @property
    def n_mat(self) -> int:
        """Matrices (experts for a MoE stack, else 1)."""
        return int(self.counts.shape[0])

    @property
    def has_raw(self) -> bool:
        """True when in_sum2 is present (read from a full file, not a summary)."""
        return self.in_sum2 is not None

    def mean_square(self) -> np.ndarray:
        """[n_mat, ne0] float64 in_sum2 / counts; a matrix without tokens is neutral (1.0)."""
        if self.in_sum2 is None:
            raise ValueError(f"{self.name}: a summary has no per-column data")
        return _mean_square(self.in_sum2, self.counts)


def _mean_square(in_sum2: np.ndarray, counts: np.ndarray) -> np.ndarray:
    c = counts.astype(np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ms = in_sum2.astype(np.float64) / np.where(c > 0, c, 1.0)
    return np.where(c > 0, ms, 1.0)


def _scan(in_sum2: np.ndarray) -> tuple[str, bool]:
    """(fingerprint, every value finite and >= 0) in one cache-friendly pass."""
    flat = np.ascontiguousarray(in_sum2, dtype="<f4").reshape(-1).view("<u4")
    h = hashlib.sha1(repr(tuple(in_sum2.shape)).encode())
    valid = True
    for start in range(0, flat.size, 1 << 18):  # cache-sized pieces: no large temporaries
        chunk = flat[start:start + (1 << 18)]
        if chunk.max() >= 0x7F800000:  # inf/NaN, or the sign bit: only -0.0 may pass
            valid = valid and not ((chunk & np.uint32(0x7FFFFFFF)) >= 0x7F800000).any() \
                and not (chunk > 0x80000000).any()
        bits = chunk & np.uint32(0x7FFFFFFF)  # drops the sign of -0.0
        bits >>= np.uint32(15)
        bits += np.uint32(1)
        bits >>= np.uint32(1)  # round to nearest, keep the top 16 bits (bfloat16 precision)
        h.update(memoryview(bits.astype("<u2")))
    return h.hexdigest()[:16], valid


def fingerprint(in_sum2: np.ndarray) -> str:
    """16 hex digits over the shape and the sums rounded to bfloat16 precision (8 mantissa bits).

    Tensors that read the same input have identical sums, hence equal fingerprints; rounding
    keeps the fingerprint stable across formats and float noise, and halves the bytes hashed.
    """
    return _scan(in_sum2)[0]


def tensor_stats(name: str, in_sum2: np.ndarray, counts: np.ndarray,
                 in_sum: np.ndarray | None = None, where: str = "") -> TensorStats:
    """TensorStats from raw arrays (in_sum2 [n_mat, ne0], counts [n_mat]); checks they agree."""
    counts = np.asarray(counts, dtype=np.float64).reshape(-1)
    in_sum2 = np.asarray(in_sum2, dtype=np.float32)
    pre = f"{where}: " if where else ""
    if in_sum2.ndim != 2 or in_sum2.shape[0] != counts.shape[0] or in_sum2.shape[1] < 1:
        raise error("I103", f"{pre}{name}: in_sum2 {list(in_sum2.shape)} does not match "
                            f"{counts.shape[0]} counts")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise error("I103", f"{pre}{name}: counts must be finite and >= 0")
    fp, valid = _scan(in_sum2)
    if not valid:  # checked before any arithmetic: inf - inf would be NaN (and a numpy warning)
        raise error("I103", f"{pre}{name}: in_sum2 holds negative or non-finite values")
    means = in_sum2.mean(axis=1, dtype=np.float64)
    if np.any(means[counts == 0] != 0):
        raise error("I103", f"{pre}{name}: a matrix with count 0 has non-zero in_sum2")
    if in_sum is not None:
        in_sum = np.asarray(in_sum, dtype=np.float32)
        if in_sum.size != in_sum2.size:
            raise error("I103", f"{pre}{name}: in_sum has {in_sum.size} values, in_sum2 {in_sum2.size}")
        in_sum = in_sum.reshape(in_sum2.shape)
    imp = np.where(counts > 0, means / np.where(counts > 0, counts, 1), 1.0)
    return TensorStats(name=name, ne0=int(in_sum2.shape[1]), counts=counts,
                       importance=tuple(float(x) for x in imp), fingerprint=fp,
                       in_sum2=in_sum2, in_sum=in_sum)


@dataclass(frozen=True)
class ImatrixStats:
    """The statistics of one imatrix (or of several merged), by tensor name."""

    tensors: Mapping[str, TensorStats]
    datasets: tuple[str, ...] = ()
    chunk_count: int = 0
    chunk_size: int = 0
    n_layer_nextn: int = 0  # MTP blocks collected (`llama-imatrix --nextn`)
    format: str = "gguf"  # gguf | dat | summary | merged
    sources: tuple[str, ...] = ()  # file names read

    @property
    def has_raw(self) -> bool:
        """True when every tensor has in_sum2 (full files, not summaries)."""
        return all(t.has_raw for t in self.tensors.values())

    @property
    def names(self) -> tuple[str, ...]:
        """Tensor names with data, sorted."""
        return tuple(sorted(self.tensors))

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def get(self, name: str) -> TensorStats | None:
        return self.tensors.get(name)

    def importance(self, name: str) -> tuple[float, ...] | None:
        """Importance per matrix of NAME (mean of its mean squares), or None without data."""
        t = self.tensors.get(name)
        return t.importance if t else None

    def fingerprint(self, name: str) -> str | None:
        """Fingerprint of NAME's in_sum2 (for `tie auto`), or None without data."""
        t = self.tensors.get(name)
        return t.fingerprint if t else None

    def mean_square(self, name: str) -> np.ndarray | None:
        """[n_mat, ne0] mean squares of NAME, or None without raw data."""
        t = self.tensors.get(name)
        return t.mean_square() if t is not None and t.has_raw else None


def _merge_pair(a: TensorStats, b: TensorStats) -> TensorStats:
    if a.ne0 != b.ne0 or a.n_mat != b.n_mat:
        raise error("I105", f"{a.name}: cannot merge [{a.n_mat} x {a.ne0}] with [{b.n_mat} x {b.ne0}]",
                    hint="merge only imatrices collected on the same model")
    if a.has_raw and b.has_raw:
        s2 = a.in_sum2.astype(np.float64) + b.in_sum2
        s1 = (a.in_sum.astype(np.float64) + b.in_sum) if a.in_sum is not None and b.in_sum is not None else None
        return tensor_stats(a.name, s2.astype(np.float32), a.counts + b.counts,
                            None if s1 is None else s1.astype(np.float32))
    # A summary: importance is a count-weighted mean; the fingerprint combines both.
    c = a.counts + b.counts
    ia, ib = np.array(a.importance) * (a.counts > 0), np.array(b.importance) * (b.counts > 0)
    imp = np.where(c > 0, (ia * a.counts + ib * b.counts) / np.where(c > 0, c, 1), 1.0)
    fp = hashlib.blake2b(f"{a.fingerprint}+{b.fingerprint}".encode(), digest_size=8).hexdigest()
    return TensorStats(a.name, a.ne0, c, tuple(float(x) for x in imp), fp)


def merge(stats: Iterable[ImatrixStats]) -> ImatrixStats:
    """Merge imatrices the way llama-imatrix does: sum in_sum2 and counts (never average means)."""
    items = list(stats)
    if not items:
        raise ValueError("nothing to merge")
    if len(items) == 1:
        return items[0]
    out: dict[str, TensorStats] = {}
    for s in items:
        for name, t in s.tensors.items():
            out[name] = _merge_pair(out[name], t) if name in out else t
    datasets = tuple(dict.fromkeys(d for s in items for d in s.datasets))
    size = next((s.chunk_size for s in items if s.chunk_size), 0)
    return ImatrixStats(tensors=dict(sorted(out.items())), datasets=datasets,
                        chunk_count=sum(s.chunk_count for s in items), chunk_size=size,
                        n_layer_nextn=min(s.n_layer_nextn for s in items), format="merged",
                        sources=tuple(x for s in items for x in s.sources))


def expects_data(t: TensorInfo) -> bool:
    """True for weights llama-imatrix collects and llama-quantize uses (2-D/3-D matmul weights)."""
    return (len(t.shape) >= 2 and t.name.endswith(".weight") and t.role not in NO_DATA_ROLES
            and not t.name.endswith("_norm.weight"))


def _listing(names: list[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def coverage(stats: ImatrixStats, model: ModelInfo, where: str = "imatrix") -> list[Diagnostic]:
    """I104 warnings: model tensors without data, entries the model lacks, shape mismatches."""
    diags: list[Diagnostic] = []
    missing = [t for t in model.tensors if expects_data(t) and t.name not in stats.tensors]
    mtp = [t.name for t in missing if t.mtp]
    trunk = [t.name for t in missing if not t.mtp]
    if trunk:
        diags.append(Diagnostic("I104", f"{where}: {len(trunk)} quantizable tensors have no data: "
                                        f"{_listing(trunk)}",
                                hint="collect the imatrix on this model", notes=tuple(trunk)))
    if mtp:
        diags.append(Diagnostic("I104", f"{where}: the MTP tensors have no data ({len(mtp)}: "
                                        f"{_listing(mtp)})",
                                hint="collect with `llama-imatrix --nextn`, or keep MTP on types "
                                     "that need no imatrix", notes=tuple(mtp)))
    extra = [n for n in stats.names if model.tensor(n) is None]
    if extra:
        diags.append(Diagnostic("I104", f"{where}: {len(extra)} entries name tensors the model lacks: "
                                        f"{_listing(extra)}",
                                hint="was the imatrix collected on another model?", notes=tuple(extra)))
    bad = []
    for name in stats.names:
        t, s = model.tensor(name), stats.tensors[name]
        if t is None:
            continue
        if not _fits(s, t):
            bad.append(f"{name} ({s.n_mat} x {s.ne0} vs {list(t.shape)})")
    if bad:
        diags.append(Diagnostic("I104", f"{where}: {len(bad)} entries do not fit the tensor's shape: "
                                        f"{_listing(bad)}",
                                hint="the imatrix comes from another model or variant", notes=tuple(bad)))
    return diags



# Below this share of the model's collectable matmul tensors, an imatrix is taken to be made for
# another model (or another variant of it) and `compile` refuses it (I107). Half is far below what
# any llama-imatrix run on the model itself gives (every collectable tensor), and far above what a
# foreign imatrix that happens to share some names reaches in practice.
MIN_COVERAGE = 0.5


def _fits(s: TensorStats, t: TensorInfo) -> bool:
    """True when S has the shape llama-imatrix collects for T (per expert, or one flat row)."""
    n_mat = t.shape[2] if len(t.shape) >= 3 else 1
    return (s.ne0 == t.shape[0] and s.n_mat == n_mat) or (s.n_mat == 1 and s.ne0 == t.shape[0] * n_mat)


def collectable(stats: ImatrixStats, model: ModelInfo) -> list[TensorInfo]:
    """The model's matmul tensors that this imatrix could hold: what coverage is measured against.

    llama-imatrix never collects token_embd (and the other NO_DATA_ROLES), `output` unless run
    with --process-output, nor the MTP blocks unless run with --nextn; the imatrix does not record
    those options, so `output` and the MTP tensors count only when it has data for them."""
    has_mtp = stats.n_layer_nextn > 0 or any(t.mtp and t.name in stats.tensors for t in model.tensors)
    return [t for t in model.tensors if expects_data(t)
            and not (t.mtp and not has_mtp) and not (t.name == "output.weight" and t.name not in stats.tensors)]


def mismatch(stats: ImatrixStats, model: ModelInfo, where: str = "imatrix",
             allow: bool = False) -> list[Diagnostic]:
    """I107 when the imatrix was not made for MODEL: any entry the model lacks or whose shape does
    not fit, or coverage of the collectable tensors below MIN_COVERAGE. An error, or a warning
    with ALLOW (`compile --allow-imatrix-mismatch`)."""
    extra = [n for n in stats.names if model.tensor(n) is None]
    bad = [n for n in stats.names if model.tensor(n) is not None and not _fits(stats.tensors[n], model.tensor(n))]
    wanted = collectable(stats, model)
    covered = sum(1 for t in wanted if t.name in stats.tensors and _fits(stats.tensors[t.name], t))
    share = covered / len(wanted) if wanted else 1.0
    if not extra and not bad and share >= MIN_COVERAGE:
        return []
    msg = (f"{where} does not match the model: {len(extra)} of {len(stats.tensors)} entries name tensors "
           f"the model lacks, {len(bad)} do not fit the tensor's shape; it covers {covered} of {len(wanted)} "
           f"quantized matmul tensors ({100 * share:.1f} %, at least {100 * MIN_COVERAGE:.0f} % needed)")
    notes = tuple([f"not in the model: {n}" for n in extra[:20]] + [f"shape differs: {n}" for n in bad[:20]])
    hint = ("collect the imatrix on this model" if not allow else
            "entries that do not fit are ignored; collect the imatrix on this model")
    return [Diagnostic("I107", msg, hint=hint, notes=notes, severity=Severity.WARNING if allow else None)]


def fitting(stats: ImatrixStats, model: ModelInfo) -> ImatrixStats:
    """STATS without the entries MODEL lacks or whose shape does not fit its tensor."""
    keep = {n: s for n, s in stats.tensors.items() if model.tensor(n) is not None and _fits(s, model.tensor(n))}
    if len(keep) == len(stats.tensors):
        return stats
    return replace(stats, tensors=keep)
