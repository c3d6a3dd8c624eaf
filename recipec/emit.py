"""Emit: a Plan -> the kit's files (plan.lock.json, tensor-types.txt, quantize.sh, serve.sh, measure.sh,
card.md).

Templates are dumb: a sandboxed, StrictUndefined Jinja environment renders them from a context
computed here, every value that reaches a shell goes through `shquote`, and nothing depends on
the clock or the machine, so the same plan renders to the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from recipec import hardware
from recipec.version import __version__
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.files import base_name
from recipec.llamacpp import Rule
from recipec.plan import PROVENANCE_KEYS, Plan, kv_string, layer_ranges
from recipec.rules import format_rules

KIT_FILES = ("plan.lock.json", "tensor-types.txt", "quantize.sh", "serve.sh", "measure.sh", "card.md")
# Tensor names the scripts carry as data (one `NAME TYPE` line each, split on white space).
_SCRIPTABLE_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_SHARD = re.compile(r"-00001-of-(\d{5})\.gguf$")
_GIB, _GB = 1 << 30, 10**9


# --- filters ------------------------------------------------------------------------------------

def shquote(value: Any) -> str:
    """VALUE as one shell word, always single-quoted (a bare word could read as a command)."""
    text = str(value)
    quoted = shlex.quote(text)
    return quoted if quoted.startswith("'") else f"'{text}'"


def oneline(value: Any) -> str:
    """VALUE safe inside a `#` comment or a table cell: control characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))


def md(value: Any) -> str:
    """VALUE as literal Markdown text (one line, no markup)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", oneline(value))


def comment(value: Any) -> str:
    """VALUE safe inside an HTML comment: one line (controls escaped) and never two dashes in a row,
    so neither `-->` nor `--!>` can close the comment early (`--->` becomes `- - ->`)."""
    return re.sub(r"-(?=-)", "- ", oneline(value))


def fence(text: str) -> str:
    """A backtick fence longer than any backtick run in TEXT."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


# --- environment --------------------------------------------------------------------------------

def _template_dir() -> Any:
    packed = resources.files("recipec").joinpath("_data", "templates")
    if packed.is_dir():
        return packed
    return Path(__file__).resolve().parent.parent / "templates"


def _load(name: str):
    """Template NAME's source; a file that is not a `.jinja` template is included byte for byte.

    Such a file is a partial under templates/partials/ (the awk gate) or a module of this package
    named `recipec/NAME.py` (the file check), so the kit carries the very code the tests lint and run.
    """
    package = "recipec/"
    if name.startswith(package):
        entry = resources.files("recipec").joinpath(name[len(package):])
    else:
        entry = _template_dir().joinpath(name)
    if not entry.is_file():
        return None
    text = entry.read_text(encoding="utf-8")
    if not name.endswith(".jinja"):
        if "endraw" in text:
            raise jinja2.TemplateError(f"{name} says `endraw` and cannot be included verbatim")
        text = "{% raw %}" + text + "{% endraw %}"
    return text, None, lambda: True


_SETTINGS = dict(keep_trailing_newline=True, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                 # bash's ${#array[@]} would open a default `{#` comment
                 comment_start_string="{#-jinja", comment_end_string="jinja-#}")


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """The templates compiled by an earlier run (Jinja's per-user cache directory; each entry is
    checked against its template's source and Jinja's version). A cache that cannot be read or
    written only makes the run slower: it never changes what is rendered."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry: compile afresh
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The cache of compiled templates, its entries named after recipec's version and the
    environment's settings (they change the compiled code too); None when no safe directory exists."""
    key = hashlib.sha256(repr(sorted(_SETTINGS.items())).encode()).hexdigest()[:12]
    try:
        return _BytecodeCache(pattern=f"__recipec_{__version__}_{key}_%s.cache")
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one Jinja environment: sandboxed, strict, byte-stable; templates compiled once."""
    env = SandboxedEnvironment(loader=jinja2.FunctionLoader(_load), undefined=jinja2.StrictUndefined,
                               bytecode_cache=_bytecode_cache(), **_SETTINGS)
    env.filters.update(shquote=shquote, oneline=oneline, md=md, comment=comment)
    return env


# --- context ------------------------------------------------------------------------------------



def _role_table(plan: Plan) -> list[dict]:
    """Rows (role, layers, type, count, bytes): the layers of one role with one type, sorted by role
    (trunk before MTP), then by first layer (global rows first), then by type."""
    rows: dict[tuple[str, bool, str], dict] = {}
    for t in plan.tensors:
        key = (t.role, t.mtp, t.type)
        row = rows.setdefault(key, {"role": t.role, "mtp": t.mtp, "type": t.type, "layers": [],
                                    "count": 0, "bytes": 0})
        if t.layer is not None:
            row["layers"].append(t.layer)
        row["count"] += 1
        row["bytes"] += t.bytes
    out = []
    for row in rows.values():
        layers = sorted(set(row["layers"]))
        where = "global" if not layers else layer_ranges(layers)
        out.append({**row, "where": ("MTP " if row["mtp"] else "") + where,
                    "mib": f"{row['bytes'] / (1 << 20):.1f}", "first": layers[0] if layers else -1})
    out.sort(key=lambda r: (r["role"], r["mtp"], r["first"], r["type"]))
    return out


_LEGEND = ".123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _heatmap(plan: Plan) -> tuple[list[str], list[dict]]:
    """A text heatmap, one row per block role, one column per layer; and its legend."""
    layers = sorted({t.layer for t in plan.tensors if t.layer is not None})
    if not layers:
        return [], []
    from recipec import ggml

    types = sorted({t.type for t in plan.tensors}, key=lambda ty: (ggml.bits_per_weight(ty), ty))
    symbol = {ty: _LEGEND[min(i + 1, len(_LEGEND) - 1)] for i, ty in enumerate(types)}
    roles: dict[str, dict[int, str]] = {}
    for t in plan.tensors:
        if t.layer is not None and t.reason != "not-quantized":
            roles.setdefault(t.role, {})[t.layer] = t.type
    if not roles:
        return [], []
    width = max(len(r) for r in roles)
    axis = "".join(str(n // 10 % 10) if n % 10 == 0 else " " for n in layers)
    lines = [f"{'layer':<{width}}  {axis}", f"{'':<{width}}  " + "".join(str(n % 10) for n in layers)]
    for role, by_layer in roles.items():
        lines.append(f"{oneline(role):<{width}}  " + "".join(symbol.get(by_layer.get(n, ""), " ")
                                                       for n in layers))
    used = {ty for r in roles.values() for ty in r.values()}
    legend = [{"symbol": symbol[ty], "type": ty, "bpw": f"{ggml.bits_per_weight(ty):.2f}"}
              for ty in types if ty in used]
    return lines, legend


def _shards(plan: Plan) -> list[dict]:
    """Per source shard: name, header bytes and header sha256 (as read at compile time)."""
    return [{"name": x.name, "header_bytes": x.header_bytes, "header_sha256": x.header_sha256}
            for x in plan.llama_quantize.shards]


def _script_options(lq) -> list[str]:
    """The options quantize.sh passes as they are (it supplies the rules file and imatrix itself)."""
    out: list[str] = []
    if lq.prune_layers:
        out += ["--prune-layers", ",".join(str(n) for n in lq.prune_layers)]
    for kv in lq.override_kv:
        out += ["--override-kv", kv]
    return out


def _measure_types(plan: Plan) -> list[str]:
    """The types measure.sh asks `recipec measure` for: the optimiser's candidate types on the tensors
    whose rows take every type as it is (ne0 a multiple of 256, so no shape fallback renames a type),
    cheapest first; every candidate type when no such tensor was decided. Empty: no decision was
    made, and `recipec measure` measures its default types."""
    from recipec import ggml

    rows = {t.name: t.shape[0] for t in plan.tensors}
    plain: set[str] = set()
    every: set[str] = set()
    for g in plan.problem.groups:
        types = {o.type.upper() for o in g.options}
        every |= types
        if all(rows.get(n, 1) % 256 == 0 for n in g.tensors):
            plain |= types
    return sorted(plain or every, key=lambda ty: (ggml.bits_per_weight(ty), ty))


_ABSOLUTE = re.compile(r"^(/|~|\\\\|[A-Za-z]:[\\/])")


def shown_path(path: str) -> str:
    """PATH as the user gave it when relative; its base name when absolute (a path of the compiling
    machine means nothing elsewhere)."""
    return base_name(path) if _ABSOLUTE.match(path) else path


def _is_summary(path: str) -> bool:
    return path.endswith(".json")


def _model_facts(plan: Plan) -> dict:
    """The source model as the kit names it: its file name when the plan knows it (a GGUF was given,
    or a manifest that records its source files), and the word the card's command uses for it."""
    lq = plan.llama_quantize
    given = plan.inputs.model.path
    if given and not _is_summary(given):
        return {"model_name": lq.input, "model_arg": shown_path(given), "model_note": None}
    if lq.shards:
        return {"model_name": lq.input, "model_arg": lq.input,
                "model_note": f"`{lq.input}` is the source GGUF the manifest {shown_path(given)} records"}
    return {"model_name": "", "model_arg": "MODEL.gguf",
            "model_note": f"`MODEL.gguf` stands for the source GGUF: the manifest {shown_path(given) or '(none)'} "
                          "records no source file name"}


def _imatrix_facts(plan: Plan) -> dict:
    """The imatrix as the kit names it: the file the plan was made from, or a placeholder when compile
    was given a summary (a summary records the statistics, not the file they came from)."""
    ref = plan.inputs.imatrix[0] if plan.llama_quantize.imatrix and plan.inputs.imatrix else None
    if ref is None:
        return {"imatrix_used": False, "imatrix_name": "", "imatrix_arg": "", "imatrix_note": None,
                "imatrix_sha256": ""}
    if _is_summary(ref.path):
        return {"imatrix_used": True, "imatrix_name": "", "imatrix_arg": "IMATRIX.gguf",
                "imatrix_sha256": "",
                "imatrix_note": f"`IMATRIX.gguf` stands for the imatrix the summary {shown_path(ref.path)} was made "
                                "from: the plan was compiled against the summary, which records the statistics "
                                "but not the file's name or hash"}
    return {"imatrix_used": True, "imatrix_name": base_name(ref.path), "imatrix_arg": shown_path(ref.path),
            "imatrix_sha256": ref.sha256, "imatrix_note": None}


def _serve_settings(plan: Plan) -> list[dict]:
    """serve.sh's llama-server settings: each with its flag, value, where it comes from (a `serve`
    statement or the target profile) and the variable that overrides it."""
    profile = hardware.profile(plan.target) if plan.target else None
    defaults = dict(profile.serve) if profile else {}
    rows = []
    for key, flag, var, value in (("ctx", "-c", "CTX", plan.serve.ctx),
                                  ("flash_attn", "-fa", "FLASH_ATTN", plan.serve.flash_attn),
                                  ("cache_type", "-ctk/-ctv", "CACHE_TYPE", plan.serve.cache_type),
                                  ("ngl", "-ngl", "NGL", plan.serve.ngl)):
        source = "recipe (`serve`)"
        if value is None and defaults.get(key) is not None:
            value, source = defaults[key], f"target profile {plan.target}"
        if value is not None:
            value = str(value).lower() if key == "cache_type" else str(value)
        rows.append({"key": key, "flag": flag, "var": var, "value": "" if value is None else value,
                     "source": source if value is not None else ""})
    return rows


def _body_note(plan: Plan) -> str | None:
    """When the trunk's quantized weights are mostly a type other than the base FTYPE's default
    type: that type (which names the file) and its share, and that `general.file_type` is the FTYPE."""
    from recipec import ggml
    from recipec.plan import body_type

    ftype = plan.llama_quantize.ftype
    default = ggml.FTYPE_DEFAULT.get(ftype.upper())
    body = body_type(plan.tensors)
    if not default or body is None or body[0] == default.upper():
        return None
    dominant, share = body
    none = default.upper() not in {t.type.upper() for t in plan.tensors}
    squash = lambda text: re.sub(r"[^a-z0-9]", "", text.lower())  # noqa: E731  (as assemble names files)
    named = ", which names the file" if squash(dominant) in squash(plan.llama_quantize.output) else ""
    return ((f"no tensor is {default}, the FTYPE's default type: " if none else "")
            + f"the quantized body is mostly {dominant} ({100.0 * share:.1f}% of the trunk's quantized bytes)"
            f"{named}; general.file\\_type is {ftype}, the FTYPE llama-quantize is given")


def _check(plan: Plan) -> None:
    problems = []
    if plan.serve.spec_mtp and plan.mtp.policy in ("drop", "none"):
        why = "its MTP blocks are dropped (`mtp drop`)" if plan.mtp.policy == "drop" else "the model has no MTP block"
        problems.append(Diagnostic("E403", f"`serve spec mtp {plan.serve.spec_mtp}` asks for MTP drafting but {why}",
                                   hint="keep the MTP block (`mtp keep Q6_K`) or remove `serve spec mtp`"))
    bad = [t.name for t in plan.tensors if not _SCRIPTABLE_NAME.match(t.name)]
    if bad:
        problems.append(Diagnostic("E404", f"{len(bad)} tensor name(s) cannot be carried in the scripts' plan data",
                                   notes=tuple(oneline(b) for b in bad[:10]),
                                   hint="rename the tensors to letters, digits and `_.+-`"))
    if problems:
        raise DiagnosticError(problems)


def kit_context(plan: Plan, plan_json: str | None = None) -> dict:
    """Everything the templates read, precomputed (the templates only loop and quote)."""
    plan_json = plan_json if plan_json is not None else plan.to_json()
    lq = plan.llama_quantize
    options = _script_options(lq)
    shards = _shards(plan)
    split = len(shards) > 1 or bool(_SHARD.search(lq.input))
    model = _model_facts(plan)
    imatrix = _imatrix_facts(plan)
    serve_rows = _serve_settings(plan)
    serve = {**{r["key"]: r["value"] for r in serve_rows}, "mmproj": plan.serve.mmproj,
             "spec_mtp": plan.serve.spec_mtp}
    totals = plan.totals
    predicted = totals.file_bytes + (totals.file_bytes_slack or 0)
    budget_used = None
    if totals.budget_bytes and totals.counted_bytes is not None:
        budget_used = f"{100.0 * totals.counted_bytes / totals.budget_bytes:.1f}"
    heat, legend = _heatmap(plan)
    name_kv = f"{PROVENANCE_KEYS[0]}=str:" + kv_string(plan.name)
    command = ["llama-quantize", *options, "--tensor-type-file", "tensor-types.txt"]
    if imatrix["imatrix_used"]:
        command += ["--imatrix", imatrix["imatrix_arg"]]
    command += [model["model_arg"], lq.output, lq.ftype]
    command_text = " ".join(shlex.quote(c) for c in command)
    return {
        "version": __version__,
        "plan": plan,
        "plan_sha256": hashlib.sha256(plan_json.encode("utf-8")).hexdigest(),
        "recipe_path": shown_path(plan.inputs.recipe.path),
        "model_path": shown_path(plan.inputs.model.path),
        "imatrix_paths": [{"path": shown_path(im.path), "sha256": im.sha256} for im in plan.inputs.imatrix],
        "relative_inputs": any(not _ABSOLUTE.match(p) and re.search(r"[\\/]", p)
                               for p in (model["model_arg"], imatrix["imatrix_arg"]) if p),
        **model,
        **imatrix,
        "body_note": _body_note(plan),
        "placeholders": [n for n in (model["model_note"], imatrix["imatrix_note"]) if n],
        "serve_rows": [r for r in serve_rows if r["value"]],
        "recipe_sha256": plan.inputs.recipe.sha256,
        "options": options,
        "keep_split": split,
        "split": split,
        "shards": shards,
        "output_name": lq.output,
        "ftype": lq.ftype,
        "predicted_bytes": predicted,
        "name_kv": name_kv,
        "tensors": [{"name": t.name, "type": t.type.upper()} for t in plan.tensors],
        "serve": serve,
        "mtp_kept": plan.mtp.policy in ("keep", "optimise"),
        "size_gb": f"{totals.file_bytes / _GB:.2f}",
        "size_gib": f"{totals.file_bytes / _GIB:.2f}",
        "stock_gb": f"{plan.stock.file_bytes / _GB:.2f}" if plan.stock else None,
        "errors_name": base_name(plan.inputs.errors.path) if plan.inputs.errors else "",
        "tensor_gib": f"{totals.tensor_bytes / _GIB:.2f}",
        "budget_used": budget_used,
        "budget_gib": f"{totals.budget_bytes / _GIB:.2f}" if totals.budget_bytes else None,
        "counted_gib": f"{totals.counted_bytes / _GIB:.2f}" if totals.counted_bytes is not None else None,
        "role_table": _role_table(plan),
        "heatmap": heat,
        "legend": legend,
        "command": command_text,
        "command_fence": fence(command_text),
        "n_tensors": len(plan.tensors),
        "measure_types": _measure_types(plan),
    }


def render_kit(plan: Plan) -> dict[str, str]:
    """The kit for PLAN, from the plan alone: file name -> exact content.

    Raises DiagnosticError (E403, E404) when the plan cannot be turned into working scripts, and
    X002 when a template fails (a recipec bug).
    """
    _check(plan)
    plan_json = plan.to_json()
    ctx = kit_context(plan, plan_json)
    env = environment()
    files = {
        "plan.lock.json": plan_json,
        "tensor-types.txt": format_rules(Rule(r.pattern, r.type) for r in plan.llama_quantize.rules),
    }
    for name in ("quantize.sh", "serve.sh", "measure.sh", "card.md"):
        try:
            files[name] = env.get_template(name + ".jinja").render(ctx)
        except jinja2.TemplateError as exc:  # a template bug, reported as one
            raise DiagnosticError(Diagnostic("X002", f"cannot render {name}: {exc}",
                                             hint="please report this with the plan")) from None
    return {name: files[name] for name in KIT_FILES}
