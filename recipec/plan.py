"""The plan (`plan.lock.json`): what every tensor becomes and why, versioned and byte-stable.

Schema `recipec.plan/2`. Everything emit (`recipec render`), verify and diff need is in here:
nothing reads the recipe or the model again. Lists keep their meaningful order (tensors in the order
llama-quantize writes them, rules in the order they are passed); object keys are sorted.
"""

from __future__ import annotations

import json
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recipec import jsonio
from recipec.llamacpp import string_kv_bytes
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.source import Span

SCHEMA = "recipec.plan/2"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Frozen):
    """An input file: the path as it was given and the sha256 of its bytes."""

    path: str
    sha256: str


class Inputs(_Frozen):
    recipe: FileRef
    model: FileRef  # the GGUF (first shard) or manifest JSON given to compile
    imatrix: tuple[FileRef, ...] = ()
    errors: Optional[FileRef] = None  # the measured error file (recipec measure), if any


class RuleEntry(_Frozen):
    """One `--tensor-type PATTERN=TYPE` rule (TYPE in canonical spelling; `text` as written)."""

    pattern: str
    type: str
    text: str  # PATTERN=type exactly as in tensor-types.txt


class ShardEntry(_Frozen):
    """One file of the source model: its name, header bytes and the sha256 of those bytes."""

    name: str
    header_bytes: int
    header_sha256: str


class LlamaQuantize(_Frozen):
    """How to run llama-quantize: the structured options, and `options`/`args` as passed."""

    ftype: str
    input: str  # the source GGUF (first shard) file name
    output: str  # suggested output file name
    shards: tuple[ShardEntry, ...] = ()  # the source model's files, as read at compile time
    tensor_type_file: str = "tensor-types.txt"
    imatrix: Optional[str] = None  # the imatrix file name passed with --imatrix, if any
    prune_layers: tuple[int, ...] = ()  # MTP blocks removed (`mtp drop`)
    override_kv: tuple[str, ...] = ()  # --override-kv KEY=TYPE:VALUE, in order
    options: tuple[str, ...]  # every option, in order (they all come before the positionals)
    args: tuple[str, ...]  # options + [input, output, ftype]
    rules: tuple[RuleEntry, ...] = ()


def quantize_options(tensor_type_file: str, imatrix: Optional[str], prune_layers: tuple[int, ...],
                     override_kv: tuple[str, ...]) -> tuple[str, ...]:
    """The llama-quantize options for the structured fields, in the order they are passed."""
    out = ["--tensor-type-file", tensor_type_file]
    if imatrix:
        out += ["--imatrix", imatrix]
    if prune_layers:
        out += ["--prune-layers", ",".join(str(n) for n in prune_layers)]
    for kv in override_kv:
        out += ["--override-kv", kv]
    return tuple(out)


class Totals(_Frozen):
    tensor_bytes: int  # data bytes of every tensor of the output (no padding)
    file_bytes: int  # predicted size of the output file (header + padded data)
    file_bytes_slack: Optional[int] = None  # the prediction is within [file_bytes, file_bytes + slack]
    bpw: float  # 8 x tensor_bytes / elements of the output
    budget: Optional[str] = None  # the budget as written (`19.4 GiB`, `4.5 bpw`, `fit 24 GiB …`)
    budget_kind: Optional[Literal["size", "bpw", "fit"]] = None
    budget_bytes: Optional[int] = None  # what the counted tensors may use, in the budget's measure
    counted_bytes: Optional[int] = None  # what they use (same measure as budget_bytes)
    kv_cache_bytes: Optional[int] = None  # fit budgets: the KV cache / recurrent state figured in
    objective: float  # sum of weight x error over the optimised groups
    bound: float  # a proven lower bound on the objective
    gap: float  # (objective - bound) / objective, 0 when proven optimal
    solver: Literal["optimal", "greedy", "none"]


class StockEntry(_Frozen):
    """llama-quantize's own mix for the plan's FTYPE (no rules), measured like the plan."""

    ftype: str
    file_bytes: int  # predicted file size
    tensor_bytes: int
    bpw: float
    objective: Optional[float] = None  # the plan's objective over the same decided groups (None: not measured)


class TensorEntry(_Frozen):
    name: str
    role: str
    layer: Optional[int]  # None for global tensors
    mtp: bool
    shape: tuple[int, ...]  # ggml order, ne0 first
    source_type: str
    type: str  # the type llama-quantize will write
    bytes: int
    reason: str  # pin@LINE floor@LINE ceiling@LINE solver not-quantized mtp-keep@LINE fallback:A->B …
    group: Optional[int] = None  # index into problem.groups when the solver decided it

    @property
    def quantized(self) -> bool:
        """Whether llama-quantize decides this tensor's type (rules must cover it)."""
        return self.reason != "not-quantized"


class OptionEntry(_Frozen):
    type: str
    bytes: int
    cost: float


class GroupEntry(_Frozen):
    tensors: tuple[str, ...]
    weight: float
    options: tuple[OptionEntry, ...]
    chosen: int  # index into options


class Problem(_Frozen):
    """The optimisation exactly as solved: minimise the sum of chosen costs, bytes <= capacity."""

    capacity_bytes: Optional[int]  # None: no budget (every group takes its best option)
    groups: tuple[GroupEntry, ...]


class MtpEntry(_Frozen):
    policy: Literal["keep", "optimise", "drop", "none"]  # none: the model has no MTP blocks
    type: Optional[str] = None
    outside_budget: bool = False
    layers: tuple[int, ...] = ()  # the model's MTP blocks (removed when dropped)
    bytes: int = 0  # bytes of the MTP tensors in the output (0 when dropped)


class ServeEntry(_Frozen):
    ctx: Optional[int] = None
    flash_attn: Optional[str] = None
    cache_type: Optional[str] = None
    spec_mtp: Optional[int] = None
    mmproj: Optional[str] = None
    ngl: Optional[str] = None


class Plan(_Frozen):
    schema_: Literal["recipec.plan/2"] = Field(SCHEMA, alias="schema")
    recipec_version: str
    name: str  # the recipe's name
    arch: str  # the model's architecture
    target: Optional[str] = None  # hardware profile
    inputs: Inputs
    llama_quantize: LlamaQuantize
    totals: Totals
    mtp: MtpEntry
    serve: ServeEntry
    tensors: tuple[TensorEntry, ...]
    problem: Problem
    stock: Optional[StockEntry] = None  # the stock mix of llama_quantize.ftype, for comparison
    error_model: Literal["theoretical", "measured", "measured+kld"] = "theoretical"  # what the costs are
    notes: tuple[str, ...] = ()  # warnings and notes the compile raised, as text

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """Deterministic JSON (recipec.jsonio): sorted keys, indent 2, trailing newline."""
        return jsonio.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        return cls.model_validate(data)

    @classmethod
    def load(cls, path: str) -> "Plan":
        """Read a plan.lock.json; a bad file raises DiagnosticError V402."""
        where = Span.of_file(str(path))
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as exc:
            raise DiagnosticError(Diagnostic("V402", f"cannot read plan {path}: {exc.strerror or exc}",
                                             where, hint="check the path")) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DiagnosticError(Diagnostic("V402", f"{path} is not JSON: {exc}", where,
                                             hint="give the plan.lock.json that `recipec compile` wrote")) from None
        try:
            return cls.from_dict(data)
        except (ValueError, ValidationError) as exc:
            first = str(exc).strip().splitlines()
            detail = first[0] if first else "invalid"
            if isinstance(exc, ValidationError) and exc.errors():
                e = exc.errors()[0]
                detail = f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            raise DiagnosticError(Diagnostic("V402", f"{path} is not a recipec plan ({detail})", where,
                                             hint="recompile with `recipec compile`")) from None

    # --- lookups ------------------------------------------------------------------------------

    def tensor(self, name: str) -> TensorEntry | None:
        for t in self.tensors:
            if t.name == name:
                return t
        return None

    @property
    def types(self) -> dict[str, str]:
        """Tensor name -> planned type."""
        return {t.name: t.type for t in self.tensors}


def layer_ranges(layers) -> str:
    """`0-3, 5, 7-9` for layer numbers (any order, repeats allowed)."""
    out, start, prev = [], None, None
    for n in sorted(set(layers)) + [None]:
        if start is not None and n is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(out)


def body_type(tensors) -> tuple[str, float] | None:
    """The type holding the most bytes among the trunk's quantized weight tensors (on a tie, the
    first name in sorted order) and its share of those bytes; None when the trunk has none.
    The output file is named by it, and the card says so (globals and MTP blocks do not count)."""
    body: dict[str, int] = {}
    for t in tensors:
        if t.reason != "not-quantized" and t.layer is not None and not t.mtp:
            body[t.type.upper()] = body.get(t.type.upper(), 0) + t.bytes
    if not body:
        return None
    dominant = max(sorted(body), key=lambda ty: body[ty])
    return dominant, body[dominant] / max(1, sum(body.values()))


KV_STRING_MAX = 127  # llama.cpp's --override-kv string limit (bytes)
PROVENANCE_KEYS = ("recipec.recipe", "recipec.plan_sha256")  # written by quantize.sh


def kv_string(value: str) -> str:
    """VALUE cut to llama.cpp's --override-kv string limit, control characters replaced."""
    clean = "".join(c if c.isprintable() else "_" for c in value)
    return clean.encode("utf-8")[:KV_STRING_MAX].decode("utf-8", errors="ignore")


def provenance_kv_bytes(name: str) -> int:
    """Header bytes of the provenance keys quantize.sh adds (recipe name, plan sha256)."""
    values = (kv_string(name), "0" * 64)
    return sum(string_kv_bytes(k, len(v.encode("utf-8"))) for k, v in zip(PROVENANCE_KEYS, values))
