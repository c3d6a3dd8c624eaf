"""imatrix readers: GGUF imatrix, legacy .dat, and the summary JSON (recipec.imatrix/1), both ways."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from recipec import jsonio
from recipec.diagnostics import error
from recipec.gguffile import field_value, open_gguf, sniff
from recipec.imatrix import ImatrixStats, TensorStats, tensor_stats
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
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise error("I106", f"{path}: not valid JSON: {exc}") from None
        return summary_to_stats(data, str(path))
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
    if kind != "imatrix" and (not groups or field_value(reader, "general.architecture")):
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
    return ImatrixStats(
        tensors=tensors, datasets=tuple(str(d) for d in datasets) if isinstance(datasets, list) else (),
        chunk_count=int(field_value(reader, "imatrix.chunk_count", 0) or 0),
        chunk_size=int(field_value(reader, "imatrix.chunk_size", 0) or 0),
        n_layer_nextn=int(field_value(reader, "imatrix.n_layer_nextn", 0) or 0),
        format="gguf", sources=(Path(path).name,))


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
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error("I101", f"{path}: cannot read: {exc.strerror or exc}") from None
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


def summary_to_stats(data: Any, path: str = "<summary>") -> ImatrixStats:
    """ImatrixStats (without raw arrays) from parsed summary DATA; errors are I106."""
    def bad(what: str) -> Exception:
        return error("I106", f"{path}: {what}", hint="regenerate it with `recipec inspect IMATRIX -o OUT.json`")

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("schema") != SUMMARY_SCHEMA:
        if data.get("schema") == MANIFEST_SCHEMA:
            raise error("I102", f"{path}: this is a model manifest, not an imatrix", hint="pass it with --model")
        raise bad(f"schema is {data.get('schema')!r}, expected {SUMMARY_SCHEMA!r}")
    rows = data.get("tensors")
    if not isinstance(rows, dict):
        raise bad("tensors must be an object")
    tensors = {}
    for name, row in sorted(rows.items()):
        try:
            counts = np.array(row["counts"], dtype=np.float64).reshape(-1)
            imp = tuple(float(x) for x in row["importance"])
            ne0, fp = int(row["ne0"]), str(row["fingerprint"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"{name}: needs ne0, counts, importance and fingerprint") from None
        if len(imp) != counts.size or counts.size < 1 or ne0 < 1 or np.any(~np.isfinite(counts)) or np.any(counts < 0):
            raise error("I103", f"{path}: {name}: {counts.size} counts but {len(imp)} importances")
        tensors[name] = TensorStats(name=name, ne0=ne0, counts=counts, importance=imp, fingerprint=fp)
    try:
        return ImatrixStats(tensors=tensors, datasets=tuple(str(d) for d in data.get("datasets", [])),
                            chunk_count=int(data.get("chunk_count", 0)), chunk_size=int(data.get("chunk_size", 0)),
                            n_layer_nextn=int(data.get("n_layer_nextn", 0)), format="summary",
                            sources=(Path(path).name,))
    except (TypeError, ValueError):
        raise bad("datasets, chunk_count, chunk_size must be a list and integers") from None
