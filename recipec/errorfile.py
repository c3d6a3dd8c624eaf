"""The measured error file (`recipec measure … -o ERRORS.json`, schema `recipec.errors/1`).

For every quantized tensor of one model and every measured type: the relative weight-space error
t² = Σ w_j (W − Ŵ)²_ij / Σ w_j W²_ij over a sample of rows, with w_j the imatrix's mean squared
activation of column j (per expert for 3-D stacks; w = 1, flagged `weighted: false`, where the
imatrix has no data), Ŵ the real ggml quantizer's output for the type llama-quantize writes
(through the shape fallback), and `energy` = Σ w_j W²_ij over all rows (estimated from the sample).
The absolute error of a tensor at a type is energy × t². `alpha` holds multipliers fitted from
KLD probes (key: a tensor name, `ROLE@BAND`, or a role; the most specific one applies), and
`probes` every probe as measured (no timings: the same inputs write the same file).
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recipec import jsonio
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.source import Span

SCHEMA = "recipec.errors/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelRef(_Frozen):
    """The model measured: its architecture and a digest of its tensor table (names and shapes)."""

    arch: str
    tensors_sha256: str
    tensor_count: int


class Protocol(_Frozen):
    """How the numbers were measured."""

    row_fraction: float  # share of each tensor's rows sampled
    min_rows: int  # at least this many rows per tensor (or all of them)
    seed: int
    llama_cpp: str  # the llama-quantize build that quantized the sample
    imatrix_sha256: Optional[str] = None
    types: tuple[str, ...]  # the requested types measured


class TensorErrors(_Frozen):
    weighted: bool  # imatrix-weighted; False: plain squared error, the imatrix has no data
    energy: float = Field(ge=0)
    rows_sampled: int = Field(ge=0)
    t2: dict[str, float]  # requested type -> relative error of the type written
    written: dict[str, str]  # requested type -> type written (after the shape fallback)


class ErrorFile(_Frozen):
    schema_: Literal["recipec.errors/1"] = Field(SCHEMA, alias="schema")
    model: ModelRef
    protocol: Protocol
    tensors: dict[str, TensorErrors]
    alpha: dict[str, float] = {}  # tensor name, ROLE@BAND or role -> multiplier from KLD probes
    probes: tuple[dict, ...] = ()  # the KLD probes behind alpha, as measured

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    def to_json(self) -> str:
        return jsonio.dumps(self.model_dump(mode="json", by_alias=True))

    def absolute(self, name: str, type_name: str) -> Optional[float]:
        """energy × t² of tensor NAME at the requested TYPE_NAME (None when not measured)."""
        t = self.tensors.get(name)
        if t is None or type_name not in t.t2:
            return None
        return t.energy * t.t2[type_name]


def tensors_digest(tensors: Iterable) -> str:
    """sha256 of `name ne0,ne1,…` lines: the identity of a model's tensor table."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(f"{t.name} {','.join(str(int(d)) for d in t.shape)}\n".encode("utf-8"))
    return h.hexdigest()


def load_errors(path: str) -> ErrorFile:
    """Read an error file; a bad one raises DiagnosticError M105."""
    where = Span.of_file(str(path))
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise DiagnosticError(Diagnostic("U002", f"cannot read {path}: {exc.strerror or exc}", where,
                                         hint="check the path")) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DiagnosticError(Diagnostic("M105", f"{path} is not JSON: {exc}", where,
                                         hint="give the file `recipec measure` wrote")) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise DiagnosticError(Diagnostic("M105", f"{path} is not a recipec error file (schema {found!r}, "
                                                 f"expected {SCHEMA!r})", where,
                                         hint="give the file `recipec measure` wrote"))
    try:
        return ErrorFile.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        detail = f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        raise DiagnosticError(Diagnostic("M105", f"{path} is not a recipec error file ({detail})", where,
                                         hint="measure again with `recipec measure`")) from None
