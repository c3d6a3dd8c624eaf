"""Measuring: inputs, the work directory (cache and resume), the per-type runs, the ErrorFile.

Each stage's result is kept in a work directory under a key of everything it depends on (the
model's tensor table and header hashes, the imatrix's sha256, the sampling, the llama-quantize
binary's sha256): the sampled copy, its reference numbers, and one result file per type, each
written atomically as it finishes. A killed run resumes from what is there; a rerun with more
types measures only the new ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from recipec import ggml, jsonio
from recipec.diagnostics import Diagnostic, error
from recipec.files import file_sha256, write_text_atomically
from recipec.errorfile import ErrorFile, ModelRef, Protocol, TensorErrors, tensors_digest
from recipec.imatrix import ImatrixStats
from recipec.measure import compare, quantizer
from recipec.measure.sample import Sampling, source_readers, write_sample
from recipec.mixture import is_quantizable
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec.defaults import DEFAULT_MIN_ROWS, DEFAULT_ROW_FRACTION, DEFAULT_TYPES


@dataclass(frozen=True)
class Options:
    """What to measure and how."""

    llama_quantize: str
    work: Path
    types: tuple[str, ...] = DEFAULT_TYPES
    sampling: Sampling = field(default_factory=lambda: Sampling(DEFAULT_ROW_FRACTION, DEFAULT_MIN_ROWS, 0))


@dataclass(frozen=True)
class Inputs:
    """The model and imatrix as read, and where they are."""

    model_path: Path
    model: ModelInfo
    imatrix_path: Optional[Path]
    imatrix: Optional[ImatrixStats]
    imatrix_sha256: Optional[str]


def measured_tensors(model: ModelInfo) -> list[TensorInfo]:
    """The tensors llama-quantize quantizes, in file order."""
    return [t for t in model.tensors if is_quantizable(t, arch=model.arch)]


def _work_key(inp: Inputs, opts: Options, binary_sha: str) -> str:
    key = {"tensors": tensors_digest(inp.model.tensors),
           "headers": [(s.name, s.size, s.header_sha256) for s in inp.model.sources],
           "imatrix": inp.imatrix_sha256, "row_fraction": opts.sampling.row_fraction,
           "min_rows": opts.sampling.min_rows, "seed": opts.sampling.seed, "llama_quantize": binary_sha}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _write_atomic(path: Path, text: str) -> None:
    try:
        write_text_atomically(path, text)
    except OSError as exc:
        raise error("E401", f"{path}: cannot write: {exc.strerror or exc}") from None


def _read_json(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or damaged: measured again


Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"measure: {message}", file=sys.stderr, flush=True)


def load_inputs(model_path: str | os.PathLike, imatrix_path: Optional[str | os.PathLike]) -> Inputs:
    """Read the model (GGUF, single or split) and the imatrix (GGUF or .dat; not a summary)."""
    from recipec.loaders import load_imatrix, read_gguf_model
    from recipec.gguffile import sniff

    if sniff(model_path, "M101") != "gguf":
        raise error("M101", f"{model_path}: not a GGUF model (measuring needs the weights, not a manifest)",
                    hint="run `recipec measure` where the model GGUF is")
    model = read_gguf_model(model_path)
    if imatrix_path is None:
        return Inputs(Path(model_path), model, None, None, None)
    stats = load_imatrix(imatrix_path, model)
    if not stats.has_raw:
        raise error("I106", f"{imatrix_path}: a summary has no per-column data to weight errors with",
                    hint="give the imatrix GGUF (or .dat) that llama-imatrix wrote")
    try:
        digest = file_sha256(imatrix_path)
    except OSError as exc:
        raise error("I101", f"{imatrix_path}: cannot read: {exc.strerror or exc}") from None
    return Inputs(Path(model_path), model, Path(imatrix_path), stats, digest)


def select_types(requested: tuple[str, ...], has_imatrix: bool) -> tuple[tuple[str, ...], list[Diagnostic]]:
    """The canonical types to measure (U001 for a type llama-quantize cannot write), and notes."""
    out: list[str] = []
    notes: list[Diagnostic] = []
    for name in requested:
        t = ggml.canonical_type(name)
        if t is None or t not in ggml.TARGET_TYPES:
            raise error("U001", f"--types: {name} is not a type llama-quantize can write",
                        hint="e.g. Q3_K IQ4_XS Q4_K Q5_K Q6_K Q8_0")
        if t in out:
            continue
        if t in ggml.IMATRIX_TYPES and not has_imatrix:
            notes.append(Diagnostic("S209", f"{t} not measured: it needs an imatrix and none is given",
                                    hint="pass --imatrix"))
            continue
        out.append(t)
    if not out:
        raise error("U001", "no type left to measure", hint="pass --types, or --imatrix for IQ1/IQ2 types")
    return tuple(out), notes


def _prepare(inp: Inputs, opts: Options, measured: list[TensorInfo], work: Path, say: Progress) -> Path:
    """The sampled copy and its reference numbers in WORK (reused when there); the copy's path."""
    sample = work / "sample.gguf"
    if not sample.is_file():
        say(f"writing the row sample of {len(measured)} tensors to {sample}")
        readers = source_readers(inp.model_path, inp.model)
        write_sample(readers, inp.model.arch, {t.name for t in measured}, opts.sampling, sample)
    ref_path = work / "reference.json"
    if _read_json(ref_path) is None:
        from recipec.gguffile import open_gguf

        refs = compare.reference(open_gguf(sample, "U002"), {t.name: t.shape[1] for t in measured}, inp.imatrix)
        _write_atomic(ref_path, jsonio.dumps({n: vars(r) for n, r in refs.items()}))
    return sample


def _measure_type(inp: Inputs, opts: Options, measured: list[TensorInfo], sample: Path, type_name: str,
                  work: Path) -> dict:
    """Quantize the sample to TYPE_NAME, compare, and return the per-type result (also written)."""
    from recipec.gguffile import open_gguf

    data = inp.imatrix.tensors if inp.imatrix is not None else {}
    why = {t.name: quantizer.cannot_write(t, type_name, t.name in data) for t in measured}
    names = [t.name for t in measured if why[t.name] is None]
    out = work / f"{type_name}.gguf"
    llama_cpp = quantizer.version("")
    found: dict = {}
    if names:
        llama_cpp = quantizer.quantize(opts.llama_quantize, sample, out, type_name, names,
                                       len(names) == len(measured), inp.imatrix_path)
        found = compare.errors(open_gguf(sample, "U002"), open_gguf(out, "U002"), set(names), inp.imatrix)
        out.unlink(missing_ok=True)
    result = {"type": type_name, "llama_cpp": llama_cpp,
              "tensors": {n: {"t2": t2, "written": w} for n, (t2, w) in found.items()},
              "absent": {n: r for n, r in why.items() if r is not None}}
    _write_atomic(work / f"{type_name}.json", jsonio.dumps(result))
    return result


def _assemble(inp: Inputs, opts: Options, measured: list[TensorInfo], refs: dict, results: list[dict]) -> ErrorFile:
    tensors = {}
    for t in measured:
        r = refs[t.name]
        got = [(res["type"], res["tensors"][t.name]) for res in results if t.name in res["tensors"]]
        tensors[t.name] = TensorErrors(weighted=r["weighted"], energy=r["energy"], rows_sampled=r["rows_sampled"],
                                       t2={ty: v["t2"] for ty, v in got}, written={ty: v["written"] for ty, v in got})
    versions = sorted({res["llama_cpp"] for res in results if res["tensors"]}) or ["unknown"]
    s = opts.sampling
    protocol = Protocol(row_fraction=s.row_fraction, min_rows=s.min_rows, seed=s.seed, llama_cpp=versions[0],
                        imatrix_sha256=inp.imatrix_sha256, types=tuple(res["type"] for res in results))
    model = ModelRef(arch=inp.model.arch, tensors_sha256=tensors_digest(inp.model.tensors),
                     tensor_count=len(inp.model.tensors))
    return ErrorFile(model=model, protocol=protocol, tensors=tensors)


def _absent_notes(results: list[dict]) -> list[Diagnostic]:
    """One warning per type and reason: the tensors left without a number for that type."""
    notes = []
    for res in results:
        by_reason: dict[str, list[str]] = {}
        for name, why in sorted(res["absent"].items()):
            by_reason.setdefault(why, []).append(name)
        for why, names in sorted(by_reason.items()):
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            notes.append(Diagnostic("S207", f"{res['type']} not measured on {len(names)} tensor(s) ({shown}): {why}",
                                    hint="the error file has no number for them at this type"))
    return notes


def measure(inp: Inputs, opts: Options, say: Progress = _stderr) -> tuple[ErrorFile, list[Diagnostic]]:
    """Measure every quantized tensor of INP at every type of OPTS; the file and the notes raised."""
    types, notes = select_types(opts.types, inp.imatrix is not None)
    binary_sha = quantizer.check_binary(opts.llama_quantize)
    measured = measured_tensors(inp.model)
    if not measured:
        raise error("M104", f"{inp.model_path}: no tensor llama-quantize would quantize")
    work = opts.work / _work_key(inp, opts, binary_sha)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error("E401", f"{work}: cannot create the work directory: {exc.strerror or exc}") from None
    sample = _prepare(inp, opts, measured, work, say)
    results = []
    for i, type_name in enumerate(types, start=1):
        cached = _read_json(work / f"{type_name}.json")
        if cached is not None and cached.get("type") == type_name:
            say(f"[{i}/{len(types)}] {type_name}: cached")
            results.append(cached)
            continue
        start = time.monotonic()
        say(f"[{i}/{len(types)}] {type_name}: quantizing the sample")
        results.append(_measure_type(inp, opts, measured, sample, type_name, work))
        say(f"[{i}/{len(types)}] {type_name}: done in {time.monotonic() - start:.1f} s")
    refs = _read_json(work / "reference.json") or {}
    return _assemble(inp, opts, measured, refs, results), notes + _absent_notes(results)


def write_errors(errors: ErrorFile, path: str | os.PathLike) -> None:
    """Write the error file atomically (a temporary name beside it, then a rename)."""
    _write_atomic(Path(path), errors.to_json())
