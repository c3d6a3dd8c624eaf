"""The release card: REL/README.md (a Hugging Face model card) and its pictures in REL/images/.

Read from the release alone: release.json, each variant's plan.lock.json, metrics/VARIANT.json
(written by eval.sh), metrics/VARIANT.mtp.json (bench-mtp.sh) and the GGUFs when they exist.
A number the card shows comes from one of those files; a variant without metrics is "not measured", never estimated.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Optional

from recipec.diagnostics import Diagnostic, DiagnosticError, Severity
from recipec.emit import md
from recipec.files import base_name, file_sha256
from recipec.output import write_atomically
from recipec.plan import Plan
from recipec.release import svg
from recipec.release.kldlog import SCHEMA as METRICS_SCHEMA
from recipec.release.mtpbench import SCHEMA as MTP_SCHEMA
from recipec.release.scripts import SCHEMA

_GB, _GIB = 10**9, 1 << 30
_NUMBERS = ("ppl", "ppl_err", "kld", "kld_err", "kld_p95", "kld_p99", "same_top", "same_top_err")


@dataclass(frozen=True)
class Member:
    """One variant as found on disk."""

    name: str
    record: dict  # its entry in release.json
    plan: Plan
    plan_sha256: str
    actual_bytes: Optional[int]  # the GGUF's size when it exists
    metrics: Optional[dict]  # metrics/NAME.json when present and valid

    @property
    def stock(self) -> bool:
        """Whether the variant is llama-quantize's own mix of its FTYPE (a reference point)."""
        return self.record.get("stock") is True
    mtp: Optional[dict] = None  # metrics/NAME.mtp.json (bench-mtp.sh) when present and valid


@dataclass(frozen=True)
class Release:
    """A release as found on disk: release.json, its variants, and warnings about its metrics."""

    record: dict
    members: tuple[Member, ...]
    warnings: tuple[Diagnostic, ...] = field(default_factory=tuple)


def _not_a_release(rel: str, why: str) -> DiagnosticError:
    return DiagnosticError(Diagnostic("U005", f"{rel}: {why}",
                                      hint="give the directory `recipec compile A.recipe B.recipe … -o DIR` wrote"))


def _read_json(path: str, rel: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise _not_a_release(rel, f"cannot read {os.path.basename(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(data, dict):
        raise _not_a_release(rel, f"{os.path.basename(path)} is not a JSON object")
    return data


def _metrics(path: str, plan_sha256: str) -> tuple[Optional[dict], Optional[Diagnostic]]:
    """metrics/NAME.json, or None (with a warning when it exists but is not a metrics file, or was
    measured for another plan of the variant)."""
    if not os.path.isfile(path):
        return None, None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        ok = (isinstance(data, dict) and data.get("schema") == METRICS_SCHEMA
              and all(isinstance(data.get(k), (int, float)) and math.isfinite(data[k]) for k in _NUMBERS))
    except (OSError, ValueError):
        ok = False
    if not ok:
        return None, Diagnostic("U002", f"{path}: not a recipec.metrics/1 file; shown as not measured",
                                hint="run eval.sh again for this variant", severity=Severity.WARNING)
    if data.get("plan_sha256") not in (None, "", plan_sha256):
        return None, Diagnostic("U002", f"{path}: measured for another plan of this variant; shown as not measured",
                                hint="run eval.sh again for this variant", severity=Severity.WARNING)
    return data, None


def _mtp_metrics(path: str, plan_sha256: str) -> tuple[Optional[dict], Optional[Diagnostic]]:
    """metrics/NAME.mtp.json (written by bench-mtp.sh), or None (with a warning when it exists but is
    not one, or was measured for another plan of the variant)."""
    if not os.path.isfile(path):
        return None, None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        ok = (isinstance(data, dict) and data.get("schema") == MTP_SCHEMA and isinstance(data.get("runs"), list)
              and all(isinstance(r, dict) and r.get("spec") in ("none", "draft-mtp") for r in data["runs"]))
    except (OSError, ValueError):
        ok = False
    why = None if ok else f"not a {MTP_SCHEMA} file"
    if ok and data.get("plan_sha256") not in (None, "", plan_sha256):
        why = "measured for another plan of this variant"
    if why:
        return None, Diagnostic("U002", f"{path}: {why}; MTP speed shown as not measured",
                                hint="run bench-mtp.sh again for this variant", severity=Severity.WARNING)
    return data, None


def _gguf_bytes(gguf: str, shards: int) -> Optional[int]:
    """The size of a variant's GGUF, or of all its shards when its kit kept a split model's split
    (GGUF-without-.gguf-0000I-of-0000N.gguf, as quantize.sh names them); None while any is missing."""
    if os.path.isfile(gguf) or shards < 2:
        return os.path.getsize(gguf) if os.path.isfile(gguf) else None
    stem = gguf[: -len(".gguf")] if gguf.endswith(".gguf") else gguf
    files = [f"{stem}-{i:05d}-of-{shards:05d}.gguf" for i in range(1, shards + 1)]
    return sum(os.path.getsize(f) for f in files) if all(os.path.isfile(f) for f in files) else None


def load_release(rel: str, gguf_dir: Optional[str] = None) -> Release:
    """The release in REL (GGUFs looked for under GGUF_DIR, default REL); U005 when it is not one."""
    record = _read_json(os.path.join(rel, "release.json"), rel)
    if record.get("schema") != SCHEMA or not isinstance(record.get("variants"), list) or not record["variants"]:
        raise _not_a_release(rel, f"release.json is not a {SCHEMA} file")
    members, warnings = [], []
    for entry in record["variants"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or name.startswith(".") or re.search(r"[\\/\x00-\x1f]", name):
            raise _not_a_release(rel, f"release.json names a variant {name!r} that cannot be a directory of it")
        plan_path = os.path.join(rel, name, "plan.lock.json")
        plan = Plan.load(plan_path)
        plan_sha256 = file_sha256(plan_path)
        gguf = os.path.join(gguf_dir or rel, name, plan.llama_quantize.output)
        metrics, warning = _metrics(os.path.join(rel, "metrics", f"{name}.json"), plan_sha256)
        mtp, mtp_warning = _mtp_metrics(os.path.join(rel, "metrics", f"{name}.mtp.json"), plan_sha256)
        warnings += [w for w in (warning, mtp_warning) if w]
        members.append(Member(name, entry, plan, plan_sha256,
                              _gguf_bytes(gguf, len(plan.llama_quantize.shards)), metrics, mtp))
    return Release(record, tuple(members), tuple(warnings))


def _size(nbytes: int, unit: int) -> str:
    """NBYTES in GB or GiB: two decimals, or three significant digits below one unit (small files)."""
    x = nbytes / unit
    return f"{x:.2f}" if x >= 1 else f"{x:.3g}"


def _num(x: float) -> str:
    """A measured number exactly as stored in its metrics file."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def type_summary(plan: Plan) -> str:
    """The output's types by share of its tensor bytes, largest first (`Q4_K 71.2 %, Q6_K 20.1 %`)."""
    by_type: dict[str, int] = {}
    for t in plan.tensors:
        by_type[t.type.upper()] = by_type.get(t.type.upper(), 0) + t.bytes
    total = sum(by_type.values()) or 1
    return ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])))


def bpw_cells(plan: Plan) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """The heat map of PLAN: roles, layer columns (MTP blocks as M<layer>), bits per weight per cell."""
    acc: dict[tuple[str, str], list[int]] = {}
    layers: dict[str, tuple[int, int]] = {}
    for t in plan.tensors:
        if t.layer is None or not t.quantized:
            continue
        col = f"M{t.layer}" if t.mtp else str(t.layer)
        layers[col] = (1 if t.mtp else 0, t.layer)
        cell = acc.setdefault((t.role, col), [0, 0])
        cell[0] += t.bytes
        cell[1] += math.prod(t.shape)
    rows = sorted({role for role, _ in acc})
    cols = sorted(layers, key=lambda c: layers[c])
    return rows, cols, {k: 8 * b / n for k, (b, n) in acc.items() if n}


def _measured_bytes(m: Member) -> int:
    """The size of the file a variant's metrics were measured on (as eval.sh recorded it)."""
    recorded = m.metrics.get("file_bytes") if m.metrics else None
    ok = isinstance(recorded, int) and recorded > 0
    return recorded if ok else (m.actual_bytes or m.plan.totals.file_bytes)


def pictures(release: Release) -> dict[str, str]:
    """images/ file name -> SVG: KLD against size (measured variants only; stock mixes as squares)
    and a bpw map per variant."""
    files = {}
    measured = [(m.name, _measured_bytes(m) / _GB, m.metrics["kld"], m.stock)
                for m in release.members if m.metrics]
    if measured:
        files["kld-vs-size.svg"] = svg.scatter([p[:3] for p in measured if not p[3]], "file size (GB)",
                                               "mean KLD against the unquantized model", "KLD against size",
                                               reference=[p[:3] for p in measured if p[3]])
    for m in release.members:
        rows, cols, cells = bpw_cells(m.plan)
        if rows:
            files[f"bpw-{m.name}.svg"] = svg.heatmap(rows, cols, cells, f"{m.name}: bits per weight by role and layer")
    return files


def _file_row(m: Member) -> dict:
    predicted = m.plan.totals.file_bytes
    size = m.actual_bytes if m.actual_bytes is not None else predicted
    file = str(m.record.get("file", f"{m.name}/{m.plan.llama_quantize.output}"))
    shards = m.record.get("files")
    if isinstance(shards, list) and len(shards) > 1:  # a split output: the first shard, and how many follow
        file += f" and {len(shards) - 1} more shards"
    return {"name": md(m.name), "file": md(file),
            "gb": _size(size, _GB), "gib": _size(size, _GIB), "predicted": predicted,
            "actual": m.actual_bytes if m.actual_bytes is not None else "not quantized yet",
            "bpw": f"{m.plan.totals.bpw:.3f}"}


def _metric_row(m: Member) -> dict:
    x = m.metrics
    name = md(m.name) + (" (stock mix)" if m.stock else "")
    if x is None:
        return {"name": name, "measured": False}
    return {"name": name, "measured": True,
            "gb": _size(_measured_bytes(m), _GB),
            "ppl": f"{_num(x['ppl'])} ± {_num(x['ppl_err'])}",
            "kld": f"{_num(x['kld'])} ± {_num(x['kld_err'])}", "p95": _num(x["kld_p95"]), "p99": _num(x["kld_p99"]),
            "same_top": f"{_num(x['same_top'])} ± {_num(x['same_top_err'])}"}


def _measured_with(members: tuple[Member, ...]) -> list[str]:
    """How the metrics were measured (llama.cpp version, text hash, context), one line per distinct way."""
    ways = sorted({(str(m.metrics.get("llama_cpp", "unknown")), str(m.metrics.get("text_sha256", "")),
                    str(m.metrics.get("ctx", "")), str(m.metrics.get("chunks", ""))) for m in members if m.metrics})
    return [f"llama.cpp {md(v)}, text sha256 `{t}`, context {md(c)}, chunks {md(k) if k not in ('0', '') else 'all'}"
            for v, t, c, k in ways]


def _shown(x: object) -> str:
    """A number from an MTP metrics file exactly as stored; "not measured" when it is missing."""
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    return _num(x) if ok else "not measured"


def _mtp_run_row(name: str, run: dict) -> dict:
    drafted = run.get("spec") == "draft-mtp"
    per_pos = run.get("acceptance_by_position")
    return {
        "name": name, "mode": f"draft-mtp, n_max {_shown(run.get('n_max'))}" if drafted else "target only",
        "tokens": f"{_shown(run.get('predicted_n'))} in {_shown(run.get('requests'))} requests",
        "tok_s": _shown(run.get("tok_s")), "speedup": _shown(run.get("speedup")),
        "acceptance": (f"{_shown(run.get('acceptance'))} ({_shown(run.get('draft_n_accepted'))} of "
                       f"{_shown(run.get('draft_n'))})") if drafted else "–",
        "mean_len": _shown(run.get("mean_accepted_length")) if drafted else "–",
        "by_position": (", ".join(_shown(p) for p in per_pos) if isinstance(per_pos, list) and per_pos
                        else "not measured") if drafted else "–",
    }


def mtp_rows(members: tuple[Member, ...]) -> list[dict]:
    """The MTP table: per variant that keeps an MTP block, a row per bench-mtp.sh run (target-only,
    then draft-mtp at each n_max), or one "not measured" row."""
    rows = []
    for m in members:
        if not any(t.mtp for t in m.plan.tensors):
            continue
        runs = [r for r in (m.mtp or {}).get("runs", []) if isinstance(r, dict)]
        if not runs:
            rows.append({"name": md(m.name), "mode": "not measured", **dict.fromkeys(
                ("tokens", "tok_s", "speedup", "acceptance", "mean_len", "by_position"), "not measured")})
        rows += [_mtp_run_row(md(m.name), r) for r in runs]
    return rows


def _mtp_measured_with(members: tuple[Member, ...]) -> list[str]:
    ways = sorted({(str(m.mtp.get("llama_cpp", "unknown")), str(m.mtp.get("prompts_sha256", "")),
                    str(m.mtp.get("max_tokens", ""))) for m in members if m.mtp})
    return [f"llama.cpp {md(v)}, prompts sha256 `{p}`, at most {md(t)} tokens per request" for v, p, t in ways]


def card_context(release: Release, images: dict[str, str]) -> dict:
    from urllib.parse import quote

    from recipec.version import __version__

    record, members = release.record, release.members
    model = record.get("model") or {}
    return {
        "version": __version__,
        "title": md(re.sub(r"-\d{5}-of-\d{5}$", "", os.path.splitext(base_name(str(model.get("path") or "model")))[0])),
        "model": md(model.get("path", "")), "model_sha256": model.get("sha256", ""),
        "imatrix": [{"path": md(i.get("path", "")), "sha256": i.get("sha256", "")} for i in record.get("imatrix", [])],
        "files": [_file_row(m) for m in members],
        "types": [{"name": md(m.name), "ftype": md(m.plan.llama_quantize.ftype), "summary": type_summary(m.plan),
                   "mtp": md(m.plan.mtp.policy if m.plan.mtp.policy == "none" or not m.plan.mtp.type
                             else f"{m.plan.mtp.policy} {m.plan.mtp.type}")} for m in members],
        "metrics": [_metric_row(m) for m in members],
        "measured_with": _measured_with(members),
        "mtp": mtp_rows(members),
        "mtp_measured_with": _mtp_measured_with(members),
        "kld_picture": "kld-vs-size.svg" in images,
        "stock_points": any(m.stock and m.metrics for m in members),
        "maps": [{"name": md(m.name), "src": "images/" + quote(f"bpw-{m.name}.svg")}
                 for m in members if f"bpw-{m.name}.svg" in images],
        "provenance": [{"name": md(m.name), "recipe": md(m.record.get("recipe", {}).get("path", "")),
                        "recipe_sha256": m.plan.inputs.recipe.sha256, "plan_sha256": m.plan_sha256,
                        "llama_cpp": md(m.metrics.get("llama_cpp", "unknown")) if m.metrics else "not measured"}
                       for m in members],
        "recipes": " ".join([*(shlex.quote(str(m.record.get("recipe", {}).get("path", m.name + ".recipe")))
                               for m in members if not m.stock),
                             *(f"--stock {shlex.quote(m.plan.llama_quantize.ftype)}" for m in members if m.stock)]),
        "stock": [md(m.name) for m in members if m.stock],
        "model_arg": shlex.quote(str(model.get("path") or "MODEL.gguf")),
        "imatrix_args": "".join(f" --imatrix {shlex.quote(str(i.get('path', '')))}" for i in record.get("imatrix", [])),
    }


def render_card(release: Release) -> dict[str, str]:
    """README.md and images/*: file name (relative to the release) -> content."""
    from recipec.emit import environment

    images = pictures(release)
    text = environment().get_template("release/README.md.jinja").render(card_context(release, images))
    return {"README.md": text, **{f"images/{k}": v for k, v in images.items()}}


def write_card(rel: str, gguf_dir: Optional[str] = None) -> Release:
    """Write REL/README.md and REL/images/ (pictures first, the card last, each all or nothing)."""
    release = load_release(rel, gguf_dir)
    files = render_card(release)
    images = {k.split("/", 1)[1]: v for k, v in files.items() if k.startswith("images/")}
    if images:
        write_atomically(os.path.join(rel, "images"), images)
    write_atomically(rel, {"README.md": files["README.md"]})
    return release
