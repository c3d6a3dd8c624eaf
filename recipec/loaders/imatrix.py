"""imatrix readers: GGUF imatrix, legacy .dat, and the summary JSON (recipec.imatrix/1), both ways."""

from __future__ import annotations

import mmap
import os
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

from recipec import jsonio
from recipec.diagnostics import error
from recipec.gguffile import field_value, open_gguf, sniff
from recipec.imatrix import ImatrixStats, TensorStats, tensor_stats
from recipec.loaders.limits import read_json
from recipec.loaders.model import MANIFEST_SCHEMA
from recipec.modelinfo import ModelInfo

SUMMARY_SCHEMA = "recipec.imatrix/1"
_SUFFIXES = (".in_sum2", ".in_sum", ".counts")


def load_imatrix(path: str | os.PathLike, model: ModelInfo | None = None) -> ImatrixStats:
    """ImatrixStats from a GGUF imatrix, a legacy .dat or a summary JSON, told apart by the first bytes.

    MODEL, when given, lets a legacy .dat split MoE entries into one matrix per expert.
    """
    kind = sniff(path, "I101")
    if kind == "gguf":
        return read_gguf_imatrix(path)
    if kind == "json":
        return summary_to_stats(read_json(path, "I106", "an imatrix summary", _SUMMARY_HINT), str(path))
    return read_dat_imatrix(path, model)


def read_gguf_imatrix(path: str | os.PathLike) -> ImatrixStats:
    """ImatrixStats from a GGUF imatrix (`W.in_sum2`, `W.counts`, optional `W.in_sum`)."""
    reader = open_gguf(path, "I101")
    kind = field_value(reader, "general.type")
    groups: dict[str, dict[str, Any]] = {}
    for t in reader.tensors:
        for suffix in _SUFFIXES:
            if t.name.endswith(suffix):
                groups.setdefault(t.name[: -len(suffix)], {})[suffix] = t
                break
    arch = field_value(reader, "general.architecture")
    if kind != "imatrix" and (not groups or arch):
        if not isinstance(arch, str) or not arch:  # neither: say what is missing for each
            raise error("I101", f"{path}: neither an imatrix (general.type is {repr(kind)[:40]}, no "
                                f"*.in_sum2 tensors) nor a model (general.architecture is {repr(arch)[:40]})",
                        hint="the file is damaged, or not written by llama.cpp's tools")
        raise error("I102", f"{path}: this is a model, not an imatrix",
                    hint="pass the model with --model and the imatrix with --imatrix")
    tensors: dict[str, TensorStats] = {}
    for name in sorted(groups):
        g = groups[name]
        s2, counts = g.get(".in_sum2"), g.get(".counts")
        if s2 is None or counts is None:
            raise error("I103", f"{path}: {name} has {'no in_sum2' if s2 is None else 'no counts'}")
        for part in (s2, counts, g.get(".in_sum")):
            if part is not None and part.tensor_type.name != "F32":
                raise error("I103", f"{path}: {part.name} is {part.tensor_type.name}, must be F32")
        ne0 = int(s2.shape[0])
        n_mat = int(np.prod([int(d) for d in s2.shape[1:]], dtype=np.int64)) if len(s2.shape) > 1 else 1
        if int(counts.n_elements) != n_mat:
            raise error("I103", f"{path}: {name}: in_sum2 has {n_mat} matrices but counts has "
                                f"{int(counts.n_elements)} values")
        s1 = g.get(".in_sum")
        try:
            tensors[name] = tensor_stats(
                name, np.asarray(s2.data, dtype=np.float32).reshape(n_mat, ne0),  # a view of the map
                np.array(counts.data, dtype=np.float64).reshape(-1),
                None if s1 is None else np.asarray(s1.data, dtype=np.float32), where=str(path))
        except (ValueError, OSError) as exc:  # a truncated data region
            raise error("I101", f"{path}: cannot read {name}: {exc}") from None
    if not tensors:
        raise error("I101", f"{path}: the imatrix holds no entries")
    datasets = field_value(reader, "imatrix.datasets", [])
    counts = [_count_field(reader, key, path) for key in ("chunk_count", "chunk_size", "n_layer_nextn")]
    return ImatrixStats(
        tensors=tensors, datasets=tuple(str(d) for d in datasets) if isinstance(datasets, list) else (),
        chunk_count=counts[0], chunk_size=counts[1], n_layer_nextn=counts[2],
        format="gguf", sources=(Path(path).name,))


def _count_field(reader: Any, key: str, path: str | os.PathLike) -> int:
    """imatrix.KEY as an integer >= 0 (0 when absent); another type or a negative value is I101."""
    v = field_value(reader, f"imatrix.{key}", 0)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 63:
        raise error("I101", f"{path}: imatrix.{key} = {repr(v)[:60]} is not a count")
    return v


class _Cursor:
    """Bounds-checked little-endian reads over the bytes of a .dat file."""

    def __init__(self, data: bytes, path: str):
        self.data, self.pos, self.path = data, 0, path

    def left(self) -> int:
        return len(self.data) - self.pos

    def int32(self, what: str) -> int:
        if self.left() < 4:
            raise error("I101", f"{self.path}: truncated at byte {self.pos} reading {what}")
        v = struct.unpack_from("<i", self.data, self.pos)[0]
        self.pos += 4
        return v

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.left():
            raise error("I101", f"{self.path}: {what} of {n} bytes at byte {self.pos} "
                                f"({self.left()} left): negative or past the end")
        self.pos += n
        return self.data[self.pos - n: self.pos]


def read_dat_imatrix(path: str | os.PathLike, model: ModelInfo | None = None) -> ImatrixStats:
    """ImatrixStats from a legacy .dat (values = mean square x ncall; one ncall per entry).

    With MODEL, an entry of a 3-D tensor with nval = ne0 x n_expert becomes one matrix per expert.
    """
    try:  # mapped, not read: a large file that is no imatrix fails on its first bytes
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except (OSError, ValueError) as exc:
        raise error("I101", f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    cur = _Cursor(data, str(path))
    n = cur.int32("the entry count")
    if n < 1 or n * 16 > cur.left():
        raise error("I101", f"{path}: not an imatrix (wrong magic {data[:4]!r}: not GGUF, not JSON; as a "
                            f"legacy .dat its entry count {n} is impossible for {len(data)} bytes)",
                    hint="pass an imatrix written by llama-imatrix, or its summary JSON")
    tensors: dict[str, TensorStats] = {}
    for i in range(n):
        length = cur.int32(f"the name length of entry {i + 1}")
        try:
            name = cur.take(length, f"name of entry {i + 1}").decode("utf-8")
        except UnicodeDecodeError:
            raise error("I101", f"{path}: entry {i + 1} has a name that is not UTF-8") from None
        ncall, nval = cur.int32(f"ncall of {name}"), cur.int32(f"nval of {name}")
        if ncall < 0 or nval < 1:
            raise error("I101", f"{path}: {name}: ncall {ncall} / nval {nval} out of range")
        raw = cur.take(4 * nval if nval < 1 << 29 else -1, f"values of {name}")
        values = np.frombuffer(raw, dtype="<f4")
        n_mat, ne0 = 1, nval
        t = model.tensor(name) if model is not None else None
        if t is not None and len(t.shape) >= 3 and nval == t.shape[0] * t.shape[2]:
            n_mat, ne0 = t.shape[2], t.shape[0]
        tensors[name] = tensor_stats(name, values.reshape(n_mat, ne0), np.full(n_mat, float(ncall)),
                                     where=str(path))
    chunk_count, datasets = 0, ()
    if cur.left() >= 4:
        chunk_count = cur.int32("the chunk count")
        if cur.left() >= 4:
            length = cur.int32("the dataset name length")
            if length > 0:
                datasets = (cur.take(length, "the dataset name").decode("utf-8", "replace"),)
    return ImatrixStats(tensors=dict(sorted(tensors.items())), datasets=datasets,
                        chunk_count=max(chunk_count, 0), chunk_size=0, format="dat",
                        sources=(Path(path).name,))


# --- the summary (schema recipec.imatrix/1) -------------------------------------------------------

def _sig(x: float) -> float:
    """X rounded to 6 significant digits (keeps summaries small and stable)."""
    return float(f"{x:.6g}")


def summary_dict(stats: ImatrixStats) -> dict[str, Any]:
    """The summary (schema recipec.imatrix/1): counts, importance per matrix, fingerprint."""
    return {
        "schema": SUMMARY_SCHEMA, "datasets": list(stats.datasets), "chunk_count": stats.chunk_count,
        "chunk_size": stats.chunk_size, "n_layer_nextn": stats.n_layer_nextn,
        "tensors": {name: {
            "ne0": t.ne0,
            "counts": [int(c) if float(c).is_integer() else _sig(c) for c in t.counts],
            "importance": [_sig(x) for x in t.importance],
            "fingerprint": t.fingerprint,
        } for name, t in sorted(stats.tensors.items())},
    }


def dumps_summary(stats: ImatrixStats) -> str:
    """The summary of STATS as deterministic JSON text (lists of numbers on one line)."""
    return jsonio.dumps(summary_dict(stats), inline_numbers=True)


_SUMMARY_HINT = "regenerate it with `recipec inspect IMATRIX -o OUT.json`"
_MAX_MATRICES = 1 << 16  # experts of one tensor


def _summary_count(data: dict, key: str, bad: Any) -> int:
    v = data.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 63:
        raise bad(f"{key} must be an integer >= 0, got {repr(v)[:60]}")
    return v


def _summary_row(name: str, row: Any, path: str, bad: Any) -> TensorStats:
    """One tensor of a summary: ne0 >= 1, counts and importances finite and >= 0, one of each a matrix."""
    if not isinstance(row, dict):
        raise bad(f"{name}: needs ne0, counts, importance and fingerprint")
    ne0, counts, imp, fp = (row.get(k) for k in ("ne0", "counts", "importance", "fingerprint"))
    if isinstance(ne0, bool) or not isinstance(ne0, int) or not isinstance(fp, str) \
            or not isinstance(counts, list) or not isinstance(imp, list):
        raise bad(f"{name}: needs ne0 (an integer), counts and importance (lists) and fingerprint (a string)")
    for what, values in (("counts", counts), ("importance", imp)):
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= sys.float_info.max:
                raise error("I103", f"{path}: {name}: {what} holds {repr(v)[:40]}; every value must be a "
                                    "finite number >= 0", hint=_SUMMARY_HINT)
    if len(imp) != len(counts) or not 1 <= len(counts) <= _MAX_MATRICES or not 1 <= ne0 <= 1 << 40:
        raise error("I103", f"{path}: {name}: {len(counts)} counts but {len(imp)} importances, ne0 {ne0}",
                    hint=_SUMMARY_HINT)
    return TensorStats(name=name, ne0=ne0, counts=np.array(counts, dtype=np.float64),
                       importance=tuple(float(x) for x in imp), fingerprint=fp)


def summary_to_stats(data: Any, path: str = "<summary>") -> ImatrixStats:
    """ImatrixStats (without raw arrays) from parsed summary DATA; errors are I106 (I103 for values)."""
    def bad(what: str) -> Exception:
        return error("I106", f"{path}: {what}", hint=_SUMMARY_HINT)

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("schema") != SUMMARY_SCHEMA:
        if data.get("schema") == MANIFEST_SCHEMA:
            raise error("I102", f"{path}: this is a model manifest, not an imatrix", hint="pass it with --model")
        raise bad(f"schema is {repr(data.get('schema'))[:60]}, expected {SUMMARY_SCHEMA!r}")
    rows = data.get("tensors")
    if not isinstance(rows, dict):
        raise bad("tensors must be an object")
    tensors = {name: _summary_row(name, row, path, bad) for name, row in sorted(rows.items())}
    datasets = data.get("datasets", [])
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        raise bad("datasets must be a list of strings")
    return ImatrixStats(tensors=tensors, datasets=tuple(datasets),
                        chunk_count=_summary_count(data, "chunk_count", bad),
                        chunk_size=_summary_count(data, "chunk_size", bad),
                        n_layer_nextn=_summary_count(data, "n_layer_nextn", bad), format="summary",
                        sources=(Path(path).name,))
