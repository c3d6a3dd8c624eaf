"""A probe file without a new quantization: the all-high file with some tensors taken, byte for
byte, from the file quantized whole at the probe type.

Both files come from the same source with the same options (llama-quantize `--pure`, one rule per
tensor), so a tensor's bytes at a type do not depend on the other tensors: the spliced file is
exactly what quantizing the source with those rules would write. gguf-py writes it one tensor at a
time from memory-mapped readers.
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType

from recipec.diagnostics import error
from recipec.gguffile import open_gguf
from recipec.measure.sample import _copy_fields


def _byte_shape(t: gguf.ReaderTensor) -> tuple[int, ...]:
    """The numpy shape of T's bytes: outer dimensions, then the bytes of one row."""
    np_shape = tuple(reversed([int(d) for d in t.shape]))
    outer = int(np.prod(np_shape[:-1], dtype=np.int64)) if len(np_shape) > 1 else 1
    return (*np_shape[:-1], int(t.n_bytes) // max(1, outer))


def splice(high: Path, low: Path, names: set[str], out: Path) -> None:
    """Write OUT: HIGH's metadata and tensors, with the tensors NAMES taken from LOW (atomically)."""
    hi, lo = open_gguf(high, "U002"), open_gguf(low, "U002")
    arch = hi.fields["general.architecture"].contents()
    lows = {t.name: t for t in lo.tensors}
    missing = sorted(n for n in names if n not in lows)
    if missing:
        raise error("U002", f"{low} has no tensor {missing[0]}")
    chosen = [lows[t.name] if t.name in names else t for t in hi.tensors]
    tmp = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(tmp, arch)
    _copy_fields(hi, w)
    for t in chosen:
        w.add_tensor_info(t.name, _byte_shape(t), np.dtype(np.uint8), int(t.n_bytes),
                          raw_dtype=GGMLQuantizationType(int(t.tensor_type)))
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        for t in chosen:
            w.write_tensor_data(np.ascontiguousarray(t.data).view(np.uint8).reshape(-1))
        w.close()
    except OSError as exc:
        raise error("E401", f"{out}: cannot write the probe file: {exc.strerror or exc}",
                    hint="give --work a directory with free space") from None
    os.replace(tmp, out)
