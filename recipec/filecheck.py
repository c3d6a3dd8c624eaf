"""The file-against-plan check: a GGUF (all shards) vs plan.lock.json, tensor by tensor.

One self-contained module that imports only the standard library and `gguf`: `recipec verify`
compares with it, and quantize.sh carries it verbatim as the check it runs when recipec is not
installed (`python3 - PLAN GGUF... <<'...'`), so both report the same differences.

    python -m recipec.filecheck PLAN GGUF...

Prints one line per difference on stdout and a summary on stderr; exit 0 when the files are what
the plan says, 1 when they differ, 2 when the plan or a file cannot be read.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import gguf

# Runs under whatever python3 the quantizing machine has: no syntax or library newer than 3.8.

PLAN_SCHEMA_PREFIX = "recipec.plan/"  # any version: every one lists tensors with name, type, shape, bytes
USAGE = "usage: python -m recipec.filecheck PLAN GGUF... (every shard of a split file)"


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor as the plan describes it."""

    name: str
    type: str
    shape: Tuple[int, ...]
    bytes: int


@dataclass(frozen=True)
class FileTensor:
    """One tensor as the written file describes it."""

    name: str
    type: str
    shape: Tuple[int, ...]
    bytes: int
    file: str


@dataclass(frozen=True)
class Difference:
    """One way the file differs from the plan."""

    name: str
    kind: str  # type | shape | bytes | missing | extra | duplicate
    planned: str
    found: str

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.name}: missing from the file (planned {self.planned})"
        if self.kind == "extra":
            return f"{self.name}: in the file ({self.found}) but not in the plan"
        if self.kind == "duplicate":
            return f"{self.name}: in more than one shard ({self.found})"
        return f"{self.name}: {self.kind} planned {self.planned}, file has {self.found}"


def type_name(raw: Any) -> str:
    """The ggml type name of a GGUF tensor type number (`type#N` for one this gguf does not know)."""
    try:
        return gguf.GGMLQuantizationType(int(raw)).name
    except ValueError:
        return f"type#{int(raw)}"


def file_tensors(reader: Any, path: str) -> List[FileTensor]:
    """The tensors of an open gguf.GGUFReader, in file order, tagged with PATH."""
    return [FileTensor(str(t.name), type_name(t.tensor_type), tuple(int(d) for d in t.shape), int(t.n_bytes), path)
            for t in reader.tensors]


def plan_tensors(doc: Any) -> List[PlannedTensor]:
    """The tensors of a parsed plan.lock.json (ValueError if it is not a recipec plan)."""
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(PLAN_SCHEMA_PREFIX):
        raise ValueError("not a recipec plan (no recipec.plan/N schema)")
    try:
        return [PlannedTensor(str(t["name"]), str(t["type"]), tuple(int(d) for d in t["shape"]), int(t["bytes"]))
                for t in doc["tensors"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed tensor list ({exc!r})") from None


def compare(planned: Sequence[PlannedTensor], tensors: Sequence[FileTensor]) -> List[Difference]:
    """The differences between the PLANNED tensors and the file's TENSORS, in plan order then file order."""
    found = {}
    diffs: List[Difference] = []
    for t in tensors:
        if t.name in found:
            diffs.append(Difference(t.name, "duplicate", "", f"{found[t.name].file}, {t.file}"))
        found.setdefault(t.name, t)
    names = {p.name for p in planned}
    for p in planned:
        f = found.get(p.name)
        if f is None:
            diffs.append(Difference(p.name, "missing", p.type, ""))
            continue
        if f.type != p.type:
            diffs.append(Difference(p.name, "type", p.type, f.type))
        if f.shape != tuple(p.shape):
            diffs.append(Difference(p.name, "shape", str(list(p.shape)), str(list(f.shape))))
        if f.bytes != p.bytes:
            diffs.append(Difference(p.name, "bytes", str(p.bytes), str(f.bytes)))
    for t in tensors:
        if t.name not in names:
            diffs.append(Difference(t.name, "extra", "", t.type))
    return diffs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check the GGUF files against the plan (ARGV: PLAN GGUF...); print the differences; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(args) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    plan_path, paths = args[0], args[1:]
    try:
        with open(plan_path, encoding="utf-8") as fh:
            planned = plan_tensors(json.load(fh))
    except (OSError, ValueError) as exc:
        print(f"verify: {plan_path}: cannot read the plan: {exc}", file=sys.stderr)
        return 2
    tensors: List[FileTensor] = []
    for path in paths:
        try:
            reader = gguf.GGUFReader(path)
            tensors += file_tensors(reader, path)
        except Exception as exc:  # noqa: BLE001 - the reader fails on corrupt files in many ways
            print(f"verify: {path}: not a readable GGUF file: {exc}", file=sys.stderr)
            return 2
    diffs = compare(planned, tensors)
    for d in diffs:
        print(d)
    if diffs:
        names = len({d.name for d in diffs})
        print(f"verify: {names} of {len(planned)} tensor(s) differ from the plan", file=sys.stderr)
        return 1
    print(f"verify: all {len(planned)} tensors match the plan", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
