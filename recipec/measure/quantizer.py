"""Running the real llama-quantize on the sampled copy: one run per type, every tensor at that type.

The run uses FTYPE Q8_0 with `--pure` (no mixture), and `--tensor-type` rules that give each
tensor that can take the type exactly that type; llama-quantize's own shape fallback then decides
what is written, and the file says what it was. A tensor that cannot take the type at all (no
fallback for its row length; a type that needs imatrix data the imatrix lacks) gets no rule and is
left out of that type's results.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from recipec import ggml
from recipec.diagnostics import error
from recipec.files import file_sha256
from recipec.mixture import GGML_ABORTS_WITHOUT_DATA, needs_imatrix, shape_fallback
from recipec.modelinfo import TensorInfo

BASE_FTYPE = "Q8_0"  # quantized, so rules apply; with --pure nothing else changes a type
_VERSION = re.compile(r"^version: (.*)$", re.M)
_BUILT = re.compile(r"^built with (.*)$", re.M)


def check_binary(path: str | os.PathLike) -> str:
    """The sha256 of the llama-quantize binary at PATH (U003 when it is not there)."""
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        raise error("U003", f"llama-quantize not found or not executable: {p}",
                    hint="build llama.cpp's llama-quantize and pass it with --llama-quantize PATH")
    return file_sha256(p)


def cannot_write(t: TensorInfo, type_name: str, has_data: bool) -> Optional[str]:
    """Why llama-quantize cannot write T as TYPE_NAME at all (None: it can, maybe through a fallback)."""
    if shape_fallback(type_name, t.shape[0]) is None:
        return f"no shape fallback of {type_name} for rows of {t.shape[0]}"
    if not has_data and (needs_imatrix(t.name, type_name, BASE_FTYPE) or type_name in GGML_ABORTS_WITHOUT_DATA):
        return f"{type_name} needs imatrix data and the imatrix has none for this tensor"
    return None


def _rules(type_name: str, names: Sequence[str], every: bool, rules_file: Path) -> list[str]:
    tt = ggml.canonical_type(type_name).lower()
    if every:
        return ["--tensor-type", f".={tt}"]
    rules_file.write_text("".join(f"^{re.escape(n)}$={tt}\n" for n in names), encoding="utf-8")
    return ["--tensor-type-file", str(rules_file)]


def quantize(binary: str | os.PathLike, sample: Path, out: Path, type_name: str, names: Sequence[str],
             every: bool, imatrix: Optional[str]) -> str:
    """Quantize SAMPLE into OUT with tensors NAMES at TYPE_NAME; return llama.cpp's version line.

    EVERY: NAMES are all the quantizable tensors (one catch-all rule). A failed run is U002,
    naming the type, with the tail of llama-quantize's output; OUT appears only on success.
    """
    tmp = out.with_name(out.name + ".part.gguf")
    args = [str(binary), "--pure", *(["--imatrix", str(imatrix)] if imatrix else []),
            *_rules(type_name, names, every, out.with_name(out.name + ".rules.txt")),
            str(sample), str(tmp), BASE_FTYPE]
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace")
    except OSError as exc:
        raise error("U003", f"cannot run {binary}: {exc.strerror or exc}",
                    hint="pass a working llama-quantize with --llama-quantize PATH") from None
    if proc.returncode != 0 or not tmp.is_file():
        tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-3:]
        tmp.unlink(missing_ok=True)
        raise error("U002", f"llama-quantize failed writing {type_name} (exit {proc.returncode})",
                    hint="see its last lines below; measure the other types with --types",
                    notes=tuple(tail))
    os.replace(tmp, out)
    return version(proc.stdout)


def version(text: str) -> str:
    """llama.cpp's version and compiler, as llama-quantize prints them."""
    m, b = _VERSION.search(text), _BUILT.search(text)
    return (m.group(1).strip() if m else "unknown") + (f", built with {b.group(1).strip()}" if b else "")
