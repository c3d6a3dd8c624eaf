"""Safe GGUF opening: the gguf package's reader, bounded by the file size, errors as diagnostics."""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
from gguf import GGUFReader, GGUFValueType

from recipec.diagnostics import DiagnosticError, error

GGUF_MAGIC = b"GGUF"
MAX_DIMS = 4  # GGML_MAX_DIMS

# Smallest encoding of one value of each GGUF type, so a count can be checked against the bytes left.
_MIN_SIZE = {
    GGUFValueType.UINT8: 1, GGUFValueType.INT8: 1, GGUFValueType.BOOL: 1,
    GGUFValueType.UINT16: 2, GGUFValueType.INT16: 2,
    GGUFValueType.UINT32: 4, GGUFValueType.INT32: 4, GGUFValueType.FLOAT32: 4,
    GGUFValueType.UINT64: 8, GGUFValueType.INT64: 8, GGUFValueType.FLOAT64: 8,
    GGUFValueType.STRING: 8, GGUFValueType.ARRAY: 12,
}


_ARRAY = int(GGUFValueType.ARRAY)


class _Corrupt(Exception):
    """A count or offset in the file cannot be right (raised inside the reader, translated once)."""


class _CheckedReader(GGUFReader):
    """GGUFReader that never reads past the end and checks every count against the bytes left."""

    region = "header"

    def _get(self, offset: int, dtype: Any, count: int = 1, override_order: Any = None) -> np.ndarray:
        if type(self.data) is np.memmap:  # slicing a plain view of the map is much cheaper
            self.data = self.data.view(np.ndarray)
        count, offset, dt = int(count), int(offset), np.dtype(dtype)
        end = offset + dt.itemsize * count
        if offset < 0 or count < 0 or end > len(self.data):
            raise _Corrupt(f"truncated in the {self.region}: needs bytes up to {end}, "
                           f"the file has {len(self.data)}")
        arr = self.data[offset:end].view(dt)
        order = self.byte_order if override_order is None else override_order
        return arr if order == "I" else arr.view(arr.dtype.newbyteorder(order))

    def _left(self, offs: int) -> int:
        return len(self.data) - int(offs)

    def _build_fields(self, offs: int, count: int) -> int:
        self.region = "metadata"
        if int(count) * 13 > self._left(offs):  # key length 8 + type 4 + at least 1 byte of value
            raise _Corrupt(f"absurd metadata count {int(count)} for a file of {len(self.data)} bytes")
        return super()._build_fields(offs, count)

    def _get_field_parts(self, orig_offs: int, raw_type: int) -> Any:
        if raw_type == _ARRAY:
            itype = int(self._get(orig_offs, np.uint32)[0])
            alen = int(self._get(orig_offs + 4, np.uint64)[0])
            size = _MIN_SIZE.get(itype)
            if size is None:
                raise _Corrupt(f"unknown array item type {itype} in the metadata")
            if alen * size > self._left(orig_offs + 12):
                raise _Corrupt(f"absurd array length {alen} in the metadata")
        return super()._get_field_parts(orig_offs, raw_type)

    def _build_tensor_info(self, offs: int, count: int) -> Any:
        self.region = "tensor infos"
        if int(count) * 24 > self._left(offs):  # name length 8 + n_dims 4 + type 4 + offset 8
            raise _Corrupt(f"absurd tensor count {int(count)} for a file of {len(self.data)} bytes")
        return super()._build_tensor_info(offs, count)

    def _get_tensor_info_field(self, orig_offs: int) -> Any:
        field = super()._get_tensor_info_field(orig_offs)
        n_dims = int(field.parts[2][0])
        if n_dims > MAX_DIMS:
            raise _Corrupt(f"tensor {field.name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
        return field

    def _build_tensors(self, start_offs: int, fields: list) -> None:
        self.region = "tensor data"
        for f in fields:
            dims = [int(d) for d in f.parts[3]]
            if any(d <= 0 or d > 1 << 40 for d in dims):
                raise _Corrupt(f"tensor {f.name!r} has absurd dimensions {dims}")
        super()._build_tensors(start_offs, fields)


def sniff(path: str | os.PathLike, code: str) -> str:
    """What PATH holds by its first bytes: "gguf", "json" or "other" (unreadable: error CODE)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise error(code, f"{path}: cannot read: {exc.strerror or exc}",
                    hint="check the path and permissions") from None
    if head[:4] == GGUF_MAGIC:
        return "gguf"
    if head.lstrip()[:1] == b"{" and b"\x00" not in head[:4]:
        return "json"
    return "other"


def open_gguf(path: str | os.PathLike, code: str = "M101") -> GGUFReader:
    """A GGUFReader for PATH; any read failure becomes a DiagnosticError with CODE naming the file."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise error(code, f"{path}: cannot read: {exc.strerror or exc}",
                    hint="check the path and permissions") from None
    if len(head) < 4 or head[:4] != GGUF_MAGIC:
        raise error(code, f"{path}: not a GGUF file (wrong magic {head[:4]!r})",
                    hint="pass a .gguf file written by llama.cpp's tools")
    if len(head) < 8:
        raise error(code, f"{path}: truncated in the header ({size} bytes)")
    version = struct.unpack("<I", head[4:8])[0]
    if version not in (2, 3):
        raise error(code, f"{path}: unsupported GGUF version {version} (this reader knows 2 and 3)",
                    hint="re-convert the file with a current llama.cpp")
    try:
        return _CheckedReader(path, "r")
    except _Corrupt as exc:
        raise error(code, f"{path}: {exc}", hint="the file is damaged or incomplete; download it again") from None
    except DiagnosticError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error,
            RecursionError, MemoryError, OSError) as exc:
        raise error(code, f"{path}: not a readable GGUF file: {type(exc).__name__}: {exc}",
                    hint="the file is damaged or incomplete; download it again") from None


def field_value(reader: GGUFReader, key: str, default: Any = None) -> Any:
    """The value of metadata KEY (scalars as Python values, arrays as lists), or DEFAULT."""
    f = reader.fields.get(key)
    if f is None:
        return default
    try:
        if f.types and f.types[0] == GGUFValueType.ARRAY:
            if len(f.types) > 1 and f.types[1] == GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]
            return [f.parts[i].tolist()[0] for i in f.data]
        if f.types and f.types[0] == GGUFValueType.STRING:
            return bytes(f.parts[-1]).decode("utf-8", "replace")
        return f.parts[-1].tolist()[0]
    except (IndexError, ValueError, TypeError):
        return default


def array_length(reader: GGUFReader, key: str) -> int | None:
    """The element count of array metadata KEY without decoding it, or None."""
    f = reader.fields.get(key)
    if f is None or not f.types or f.types[0] != GGUFValueType.ARRAY:
        return None
    return len(f.data)
