"""KLD probes (`recipec measure … --kld TEXT`): α per group from the real llama-perplexity.

    source ─llama-perplexity─► base logits of TEXT (once)
    source ─llama-quantize─► all-high file, probe-type file (each quantized whole, once)
    per group: all-high file with the group's tensors spliced in from the probe-type file ─► KLD

ΔKLD_g = KLD(probe g) − KLD(all-high); α_g = ΔKLD_g / D_g (recipec.measure.fit). Every result is
kept in the work directory under a key of the model, the imatrix, the text's sha256, the settings
and both binaries' sha256, written as it finishes: a killed run resumes, a rerun at another
granularity runs only the probes it lacks. The large files (logits, the two quantized copies,
the probe file) are deleted once every probe of the run is done.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from recipec import ggml, jsonio
from recipec.defaults import DEFAULT_CTX, DEFAULT_GRANULARITY, DEFAULT_HIGH_TYPE, DEFAULT_PROBE_TYPE, GRANULARITIES
from recipec.diagnostics import Diagnostic, Severity, error
from recipec.errorfile import ErrorFile, tensors_digest
from recipec.measure import fit, perplexity, quantizer
from recipec.measure.run import Inputs, Progress, _read_json, _stderr, _write_atomic, file_sha256, measured_tensors
from recipec.measure.splice import splice
from recipec.modelinfo import TensorInfo
from recipec.resolve.weights import band

_LARGE = ("base.kld", "high.gguf", "low.gguf", "probe.gguf")


@dataclass(frozen=True)
class ProbeOptions:
    """The probe protocol's settings."""

    text: Path
    llama_perplexity: str
    granularity: str = DEFAULT_GRANULARITY
    probe_type: str = DEFAULT_PROBE_TYPE
    high_type: str = DEFAULT_HIGH_TYPE
    ctx: int = DEFAULT_CTX
    chunks: Optional[int] = None
    threads: Optional[int] = None
    retries: int = perplexity.DEFAULT_RETRIES


def check_types(popts: ProbeOptions) -> tuple[str, str]:
    """The canonical probe and high types (U001 when not writable, or the high type not above the probe type)."""
    out = []
    for flag, name in (("--probe-type", popts.probe_type), ("--high-type", popts.high_type)):
        t = ggml.canonical_type(name)
        if t is None or t not in ggml.TARGET_TYPES:
            raise error("U001", f"{flag}: {name} is not a type llama-quantize can write")
        out.append(t)
    if ggml.bits_per_weight(out[1]) <= ggml.bits_per_weight(out[0]):
        raise error("U001", f"--high-type {out[1]} must have more bits per weight than --probe-type {out[0]}")
    return out[0], out[1]


def group_key(t: TensorInfo, granularity: str, trunk: int) -> str:
    """The probe group of T: its role, `ROLE@BAND` (globals: the role), or its own name."""
    if granularity == "tensor":
        return t.name
    b = band(t, trunk) if granularity == "band" else None
    return f"{t.role}@{b}" if b else t.role


def groups(inp: Inputs, errors: ErrorFile, granularity: str, probe_type: str) -> dict[str, list[TensorInfo]]:
    """Group -> its tensors, in file order: the measured tensors with a non-zero t² at the probe type."""
    out: dict[str, list[TensorInfo]] = {}
    for t in measured_tensors(inp.model):
        te = errors.tensors.get(t.name)
        if te is not None and te.t2.get(probe_type, 0.0) > 0:
            out.setdefault(group_key(t, granularity, inp.model.trunk_layers), []).append(t)
    return out


def unweighted_scale(inp: Inputs) -> float:
    """The median imatrix importance: compile's energy scale for a tensor without imatrix data."""
    if inp.imatrix is None:
        return 1.0
    imps = [sum(ts.importance) / max(1, len(ts.importance))
            for t in inp.model.tensors if (ts := inp.imatrix.get(t.name)) is not None]
    return float(statistics.median(imps)) if imps else 1.0


def _work_key(inp: Inputs, popts: ProbeOptions, quantize_sha: str, text_sha: str) -> str:
    key = {"tensors": tensors_digest(inp.model.tensors),
           "headers": [(s.name, s.size, s.header_sha256) for s in inp.model.sources],
           "imatrix": inp.imatrix_sha256, "text": text_sha, "ctx": popts.ctx, "chunks": popts.chunks,
           "probe_type": popts.probe_type, "high_type": popts.high_type, "llama_quantize": quantize_sha,
           "llama_perplexity": file_sha256(popts.llama_perplexity)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", name)


class _Work:
    """The probe work directory: the large files made when first needed, every result cached."""

    def __init__(self, inp: Inputs, popts: ProbeOptions, llama_quantize: str, root: Path, say: Progress):
        self.inp, self.popts, self.llama_quantize, self.root, self.say = inp, popts, llama_quantize, root, say
        self.runner = perplexity.Runner(popts.llama_perplexity, popts.threads, popts.retries)

    def base(self) -> Path:
        """The base logits (the unquantized model on the text)."""
        path = self.root / "base.kld"
        if not path.is_file() or _read_json(self.root / "base.json") is None:
            self.say(f"llama-perplexity: base logits of {self.popts.text} (ctx {self.popts.ctx})")
            got = perplexity.base_logits(self.runner, self.inp.model_path, self.popts.text, path,
                                         self.popts.ctx, self.popts.chunks)
            _write_atomic(self.root / "base.json", jsonio.dumps(got))
        return path

    def quantized(self, which: str, type_name: str) -> Path:
        """The whole model quantized at TYPE_NAME (every tensor that can take it), as in the t² runs."""
        path = self.root / f"{which}.gguf"
        if not path.is_file():
            data = self.inp.imatrix.tensors if self.inp.imatrix is not None else {}
            measured = measured_tensors(self.inp.model)
            names = [t.name for t in measured if quantizer.cannot_write(t, type_name, t.name in data) is None]
            start = time.monotonic()
            self.say(f"llama-quantize: the whole model at {type_name}")
            imatrix = str(self.inp.imatrix_path) if self.inp.imatrix_path else None
            quantizer.quantize(self.llama_quantize, self.inp.model_path, path, type_name, names,
                               len(names) == len(measured), imatrix)
            self.say(f"llama-quantize: {type_name} done in {time.monotonic() - start:.1f} s")
        return path

    def high(self, high_type: str) -> dict:
        """KLD of the all-high file (cached)."""
        cached = _read_json(self.root / "high.json")
        if cached is not None:
            return cached
        model = self.quantized("high", high_type)
        got = perplexity.kl_divergence(self.runner, model, self.base(), self.root / "high.log", f"all {high_type}")
        _write_atomic(self.root / "high.json", jsonio.dumps(got))
        return got

    def probe(self, key: str, names: list[str], high_type: str, probe_type: str) -> tuple[dict, bool]:
        """KLD of group KEY (tensors NAMES) at the probe type, the rest high; whether it was cached."""
        path = self.root / f"probe-{_safe(key)}.json"
        cached = _read_json(path)
        if cached is not None and cached.get("group") == key and cached.get("tensors") == names:
            return cached, True
        start = time.monotonic()
        out = self.root / "probe.gguf"
        splice(self.quantized("high", high_type), self.quantized("low", probe_type), set(names), out)
        spliced = round(time.monotonic() - start, 3)
        got = perplexity.kl_divergence(self.runner, out, self.base(), self.root / "probe.log", f"probe {key}")
        result = {"group": key, "tensors": names, **got, "splice_seconds": spliced}
        _write_atomic(path, jsonio.dumps(result))
        out.unlink(missing_ok=True)
        return result, False

    def clean(self) -> None:
        """Delete the large files (every result they gave is kept)."""
        for name in _LARGE:
            (self.root / name).unlink(missing_ok=True)


def _record(key: str, tensors: list[TensorInfo], result: dict, high: dict, errors: ErrorFile, ctx: dict) -> dict:
    """One probe's entry in the error file: what was measured, ΔKLD, D and α."""
    den = 0.0
    for t in tensors:
        te = errors.tensors[t.name]
        den += te.energy * (1.0 if te.weighted else ctx["scale"]) * te.t2[ctx["probe_type"]]
    delta = round(result["kld"] - high["kld"], 12)  # both as printed: no float noise
    used = max(delta, fit.MIN_DELTA)
    first = tensors[0]
    measured = {k: result[k] for k in ("kld", "kld_err", "kld_p99", "same_top", "kld_text")}
    return {"kind": "probe", "group": key, "granularity": ctx["granularity"], "role": first.role,
            "band": None if ctx["granularity"] == "role" else band(first, ctx["trunk"]),
            "tensors": [t.name for t in tensors], **measured, "delta_kld": delta, "delta_kld_used": used,
            "denominator": den, "alpha": used / den if den > 0 else None}


_RUN_DETAILS = ("attempts", "seconds", "splice_seconds")  # how a run went, not what it measured


def _timeless(entry: dict) -> dict:
    """ENTRY without timings and retry counts: the same inputs write the same file."""
    return {k: v for k, v in entry.items() if k not in _RUN_DETAILS}


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (" …" if len(names) > 3 else "")


def _assess(probes: list[dict]) -> tuple[Optional[float], int, list[Diagnostic]]:
    """Leave-one-out predictions into PROBES; the rank correlation, its pairs, and the notes."""
    notes = []
    for p, pred in zip(probes, fit.leave_one_out(probes)):
        p["loo_predicted"] = pred
    pairs = [(p["loo_predicted"], p["delta_kld_used"]) for p in probes if p["loo_predicted"] is not None]
    rho = fit.spearman([a for a, _ in pairs], [b for _, b in pairs])
    weak = [p["group"] for p in probes if p["delta_kld"] < fit.MIN_DELTA]
    empty = [p["group"] for p in probes if p["alpha"] is None]
    if empty:
        notes.append(Diagnostic("M108", f"{len(empty)} probe(s) have no energy x t² to divide by "
                                        f"({_some(empty)}): no α", hint="their tensors keep α = 1"))
    if weak:
        notes.append(Diagnostic("M108", f"{len(weak)} probe(s) measured ΔKLD below {fit.MIN_DELTA:g} "
                                        f"({_some(weak)}): taken as {fit.MIN_DELTA:g}",
                                hint="probe at a lower --probe-type or on a longer text"))
    if rho is None:
        notes.append(Diagnostic("M107", f"{len(pairs)} probe(s): too few, or too alike, to judge the fit by "
                                        "leave-one-out", hint="probe at a finer --probe granularity",
                                severity=Severity.NOTE))
    elif rho < fit.POOR_SPEARMAN:
        notes.append(Diagnostic("M107", f"the probes' fit predicts held-out probes poorly (leave-one-out Spearman "
                                        f"{rho:.2f} over {len(pairs)} probes)",
                                hint="probe on a longer text (--chunks), or at a finer --probe granularity"))
    return rho, len(pairs), notes


def _root(inp: Inputs, popts: ProbeOptions, llama_quantize: str, work: Path) -> tuple[Path, str]:
    try:
        text_sha = file_sha256(popts.text)
    except OSError as exc:
        raise error("U002", f"--kld {popts.text}: cannot read: {exc.strerror or exc}") from None
    root = work / f"kld-{_work_key(inp, popts, quantizer.check_binary(llama_quantize), text_sha)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error("E401", f"{root}: cannot create the work directory: {exc.strerror or exc}") from None
    return root, text_sha


def probe(inp: Inputs, errors: ErrorFile, popts: ProbeOptions, llama_quantize: str, work: Path,
          say: Progress = _stderr) -> tuple[ErrorFile, list[Diagnostic]]:
    """Run the probes on top of ERRORS (which must hold the probe type's t²): ERRORS with alpha and
    probes filled in, and the notes raised."""
    probe_type, high_type = check_types(popts)
    if popts.granularity not in GRANULARITIES:
        raise error("U001", f"--probe {popts.granularity}: not one of {', '.join(GRANULARITIES)}")
    by_group = groups(inp, errors, popts.granularity, probe_type)
    if not by_group:
        raise error("U001", f"no tensor has a measured error at the probe type {probe_type}",
                    hint="measure it with --types, or pick another --probe-type")
    root, text_sha = _root(inp, popts, llama_quantize, work)
    w = _Work(inp, popts, llama_quantize, root, say)
    high = w.high(high_type)
    say(f"all {high_type}: mean KLD {high['kld']:.6f} ± {high['kld_err']:.6f}")
    results = []
    for i, (key, tensors) in enumerate(by_group.items(), start=1):
        r, cached = w.probe(key, [t.name for t in tensors], high_type, probe_type)
        say(f"[probe {i}/{len(by_group)}] {key} ({len(tensors)} tensors) at {probe_type}: mean KLD {r['kld']:.6f}"
            + (" (cached)" if cached else f" in {r['seconds']:.1f} s"))
        results.append(r)
    w.clean()
    ctx = {"scale": unweighted_scale(inp), "probe_type": probe_type, "granularity": popts.granularity,
           "trunk": inp.model.trunk_layers}
    records = [_record(k, by_group[k], r, high, errors, ctx) for k, r in zip(by_group, results)]
    rho, pairs, notes = _assess(records)
    settings = {"kind": "fit", "granularity": popts.granularity, "probe_type": probe_type, "high_type": high_type,
                "text_sha256": text_sha, "ctx": popts.ctx, "chunks": popts.chunks,
                "llama_perplexity": perplexity.version(w.runner), "unweighted_scale": ctx["scale"],
                "loo_spearman": rho, "loo_pairs": pairs, "probes": len(records)}
    base = {"kind": "base", **(_read_json(root / "base.json") or {})}
    entries = tuple(_timeless(e) for e in (base, {"kind": "high", "type": high_type, **high}, *records, settings))
    data = {**errors.model_dump(mode="json", by_alias=True), "alpha": fit.alphas(records), "probes": entries}
    return ErrorFile.model_validate(data), notes
