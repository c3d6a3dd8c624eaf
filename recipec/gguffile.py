"""Safe GGUF opening: the gguf package's reader, bounded by the file size, errors as diagnostics."""

from __future__ import annotations

import gc
import os
import stat
import struct
import sys
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFValueType
from gguf.gguf_reader import ReaderField, ReaderTensor
from gguf.quants import quant_shape_to_byte_shape

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
# ggml types whose tensor data the gguf package exposes as numbers rather than bytes.
_PLAIN = {GGMLQuantizationType.F16: np.float16, GGMLQuantizationType.F32: np.float32,
          GGMLQuantizationType.F64: np.float64, GGMLQuantizationType.I8: np.int8,
          GGMLQuantizationType.I16: np.int16, GGMLQuantizationType.I32: np.int32,
          GGMLQuantizationType.I64: np.int64}
_MAX_DIM = 1 << 40
MAX_NAME = 63  # bytes of a tensor name: ggml's GGML_MAX_NAME (64) less the terminating NUL
MAX_TENSORS = 1 << 18  # tensors in one file (real models have a few thousand; memory grows ~1.5 KB each)
MAX_STRINGS = 1 << 21  # items of one string array in the metadata (vocabularies hold ~300,000)


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
            if itype == int(GGUFValueType.STRING) and alen > MAX_STRINGS:
                raise _Corrupt(f"a metadata array of {alen} strings: more than the {MAX_STRINGS} recipec reads")
        return super()._get_field_parts(orig_offs, raw_type)

    def _order(self) -> str:
        native = "<" if sys.byteorder == "little" else ">"
        return native if self.byte_order == "I" else ("<" if native == ">" else ">")

    def _need(self, end: int) -> None:
        if end > len(self.data):
            raise _Corrupt(f"truncated in the {self.region}: needs bytes up to {end}, "
                           f"the file has {len(self.data)}")

    def _build_tensor_info(self, offs: int, count: int) -> Any:
        """The tensor infos read with struct, one pass over the bytes: the gguf package makes six
        numpy views per tensor, which dominates `inspect` on models with 100,000s of tensors."""
        self.region = "tensor infos"
        count = int(count)
        if count * 24 > self._left(offs):  # name length 8 + n_dims 4 + type 4 + offset 8
            raise _Corrupt(f"absurd tensor count {count} for a file of {len(self.data)} bytes")
        if count > MAX_TENSORS:
            raise _Corrupt(f"{count} tensors: more than the {MAX_TENSORS} recipec reads in one file")
        if type(self.data) is np.memmap:
            self.data = self.data.view(np.ndarray)
        buf, e, infos = memoryview(self.data), self._order(), []
        offs = int(offs)
        for _ in range(count):
            self._need(offs + 8)
            (n,) = struct.unpack_from(e + "Q", buf, offs)
            if n > MAX_NAME:
                raise _Corrupt(f"a tensor name of {n} bytes (llama.cpp reads at most {MAX_NAME})")
            self._need(offs + 8 + n + 4)
            name = str(buf[offs + 8: offs + 8 + n], encoding="utf-8")
            p = offs + 8 + n
            (n_dims,) = struct.unpack_from(e + "I", buf, p)
            if n_dims > MAX_DIMS:
                raise _Corrupt(f"tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
            self._need(p + 4 + 8 * n_dims + 12)
            dims = struct.unpack_from(f"{e}{n_dims}Q", buf, p + 4)
            raw_type, t_off = struct.unpack_from(e + "IQ", buf, p + 4 + 8 * n_dims)
            infos.append((offs, name, dims, raw_type, t_off))
            offs = p + 4 + 8 * n_dims + 12
        return offs, infos

    def _build_tensors(self, start_offs: int, fields: list) -> None:
        self.region = "tensor data"
        tensors, names = [], set()
        for offs, name, dims, raw_type, t_off in fields:
            if any(d <= 0 or d > _MAX_DIM for d in dims):
                raise _Corrupt(f"tensor {name!r} has absurd dimensions {list(dims)}")
            if name in names:
                raise ValueError(f"Found duplicated tensor with name {name}")
            names.add(name)
            ggml_type = GGMLQuantizationType(raw_type)
            n_elems = 1
            for d in dims:
                n_elems *= d
            block_size, type_size = GGML_QUANT_SIZES[ggml_type]
            np_dims = tuple(reversed(dims))
            item = _PLAIN.get(ggml_type)
            if item is None:
                item, count, np_dims = np.uint8, n_elems * type_size // block_size, \
                    quant_shape_to_byte_shape(np_dims, ggml_type)
            else:
                count = n_elems
            data_offs = int(start_offs) + t_off
            tensors.append(ReaderTensor(
                name=name, tensor_type=ggml_type, shape=np.array(dims, dtype=np.uint64), n_elements=n_elems,
                n_bytes=n_elems * type_size // block_size, data_offset=data_offs,
                data=self._get(data_offs, item, count).reshape(np_dims), field=ReaderField(offs, name)))
        self.tensors = tensors


def printable_path(path: str | os.PathLike) -> str:
    """PATH as text that any output can carry: bytes that are not UTF-8 shown as \\xNN."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_path(path: str | os.PathLike, code: str) -> None:
    """Refuse a path that is not valid UTF-8 (error CODE): plans, scripts and JSON record input
    paths as text, which cannot carry it."""
    text = os.fspath(path)
    try:
        (text if isinstance(text, str) else text.decode("utf-8")).encode("utf-8")
    except UnicodeError:
        raise error(code, f"{printable_path(path)}: the file name is not valid UTF-8",
                    hint="rename the file (or link it) to a UTF-8 name") from None


def check_regular(path: str | os.PathLike, code: str) -> None:
    """Refuse what is not a regular file: a device such as /dev/zero never ends, a FIFO may block
    forever, a directory has no bytes (error CODE)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise error(code, f"{printable_path(path)}: cannot read: {exc.strerror or exc}",
                    hint="check the path and permissions") from None
    if not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
        raise error(code, f"{printable_path(path)}: not a regular file ({what})",
                    hint="pass the file itself")


def sniff(path: str | os.PathLike, code: str) -> str:
    """What PATH holds by its first bytes: "gguf", "json" or "other" (unreadable: error CODE)."""
    check_path(path, code)
    check_regular(path, code)
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
    check_path(path, code)
    check_regular(path, code)
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
    # The reader allocates a few objects per tensor, none in a cycle: the collector's passes over
    # them would cost a quarter of the time on 100,000s of tensors.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _CheckedReader(path, "r")
    except _Corrupt as exc:
        raise error(code, f"{path}: {exc}", hint="the file is damaged or incomplete; download it again") from None
    except DiagnosticError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, ArithmeticError, struct.error,
            RecursionError, MemoryError, OSError) as exc:
        raise error(code, f"{path}: not a readable GGUF file: {type(exc).__name__}: {exc}",
                    hint="the file is damaged or incomplete; download it again") from None
    finally:
        if collecting:
            gc.enable()


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
