"""The row sample: which rows of each tensor are measured, and the sampled copy of the model.

K and IQ quantization is row-independent (each row is quantized on its own, with the imatrix of
its columns), so quantizing a random sample of rows gives exactly the errors those rows would get
in the whole model. The sampled copy keeps every tensor's name, ne0 and outer dimensions (experts)
and every metadata key but the split keys, so llama-quantize loads it as the model and the model's
own imatrix still fits it (llama-quantize checks ne0 × n_expert only). It is written one tensor
at a time from memory-mapped readers: memory stays at one sampled tensor.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import gguf
import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType

from recipec.diagnostics import error
from recipec.gguffile import open_gguf
from recipec.llamacpp import SPLIT_KEYS
from recipec.loaders import shard_paths
from recipec.mixture import n_dims
from recipec.modelinfo import ModelInfo

_PLAIN = (GGMLQuantizationType.F32, GGMLQuantizationType.F16)


@dataclass(frozen=True)
class Sampling:
    """How many rows of each tensor are measured, and which (seeded)."""

    row_fraction: float
    min_rows: int
    seed: int

    def count(self, rows: int, outer: int = 1) -> int:
        """Rows sampled per matrix of ROWS rows (OUTER matrices: the experts of a stack): the
        fraction, at least min_rows over the whole tensor, at most all."""
        return min(rows, max(math.ceil(self.row_fraction * rows), math.ceil(self.min_rows / max(outer, 1))))

    def rows(self, name: str, rows: int, outer: int = 1) -> np.ndarray:
        """The sorted row indices sampled from tensor NAME (the same for every expert of a stack)."""
        k = self.count(rows, outer)
        if k >= rows:
            return np.arange(rows)
        digest = hashlib.sha256(f"{self.seed}\0{name}".encode("utf-8")).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return np.sort(rng.choice(rows, size=k, replace=False))


def source_readers(path: str | os.PathLike, info: ModelInfo) -> list[GGUFReader]:
    """Memory-mapped readers of every shard of the model at PATH (its first shard), advised for
    random access: only the sampled rows' pages are read, not the whole file by read-ahead."""
    path = Path(path)
    paths = shard_paths(path, len(info.sources)) if len(info.sources) > 1 else [path]
    readers = [open_gguf(p, "M101") for p in paths]
    for r in readers:
        _advise_random(r.data)
    return readers


def _advise_random(data: np.ndarray) -> None:
    base = data
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and hasattr(mmap, "MADV_RANDOM"):
        try:
            base.madvise(mmap.MADV_RANDOM)
        except OSError:  # advice only
            pass


def iter_tensors(readers: list[GGUFReader]) -> Iterator[gguf.ReaderTensor]:
    """Every tensor of the model in file order."""
    for r in readers:
        yield from r.tensors


def _as_rows(t: gguf.ReaderTensor) -> np.ndarray:
    """The tensor's data as [outer, ne1, row] (row in elements for F32/F16, in bytes otherwise)."""
    data = t.data
    shape = [int(d) for d in t.shape]
    outer = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return data.reshape(outer, shape[1], -1)


def sampled_rows(t: gguf.ReaderTensor, sampling: Sampling) -> tuple[np.ndarray, GGMLQuantizationType]:
    """The sampled rows of T as a numpy array in numpy order, and the ggml type to store them as.

    F32 and F16 are kept as they are; any other source type (BF16, quantized) is dequantized to
    F32, so the quantizer never requantizes and the reference is exactly what it reads.
    """
    rows = _as_rows(t)
    idx = sampling.rows(t.name, rows.shape[1], rows.shape[0])
    part = np.ascontiguousarray(rows[:, idx, :])
    qtype = GGMLQuantizationType(int(t.tensor_type))
    if qtype not in _PLAIN:
        part = gguf.quants.dequantize(part, qtype).astype(np.float32)
        qtype = GGMLQuantizationType.F32
    shape = [int(d) for d in t.shape]
    return part.reshape(*reversed(shape[2:]), len(idx), shape[0]), qtype


def _copy_fields(src: GGUFReader, w: gguf.GGUFWriter) -> None:
    for field in src.fields.values():
        if field.name.startswith("GGUF.") or field.name in SPLIT_KEYS or field.name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        w.add_key_value(field.name, field.contents(), vtype, sub)


def _plan(t: gguf.ReaderTensor, sampling: Sampling, measured: bool) -> tuple[tuple[int, ...], GGMLQuantizationType, int]:
    """(numpy shape, stored type, bytes) of T in the sampled copy, without reading its data."""
    shape = [int(d) for d in t.shape]
    qtype = GGMLQuantizationType(int(t.tensor_type))
    if n_dims(shape) >= 2:
        shape[1] = sampling.count(shape[1], int(np.prod(shape[2:], dtype=np.int64)))
    if measured and qtype not in _PLAIN:
        qtype = GGMLQuantizationType.F32
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n = int(np.prod(shape, dtype=np.int64))
    return tuple(reversed(shape)), qtype, n // block * size


def _data(t: gguf.ReaderTensor, sampling: Sampling, measured: bool) -> np.ndarray:
    """The bytes T contributes to the sampled copy (sampled rows; 1-D tensors whole)."""
    if n_dims([int(d) for d in t.shape]) < 2:
        return np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
    if measured:
        part, _ = sampled_rows(t, sampling)
        return part.view(np.uint8).reshape(-1)
    rows = _as_rows(t)
    return np.ascontiguousarray(rows[:, sampling.rows(t.name, rows.shape[1], rows.shape[0]), :]).view(np.uint8).reshape(-1)


def write_sample(readers: list[GGUFReader], arch: str, measured: set[str], sampling: Sampling,
                 out: Path) -> None:
    """Write the sampled copy of the model to OUT (atomically: a temporary name, then a rename)."""
    tmp = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(tmp, arch)
    _copy_fields(readers[0], w)
    tensors = list(iter_tensors(readers))
    for t in tensors:
        np_shape, qtype, nbytes = _plan(t, sampling, t.name in measured)
        byte_shape = (*np_shape[:-1], nbytes // max(1, int(np.prod(np_shape[:-1], dtype=np.int64))))
        w.add_tensor_info(t.name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=qtype)
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        for t in tensors:
            w.write_tensor_data(_data(t, sampling, t.name in measured))
        w.close()
    except OSError as exc:
        raise error("E401", f"{out}: cannot write the sampled copy: {exc.strerror or exc}",
                    hint="give --work a directory with free space") from None
    os.replace(tmp, out)
