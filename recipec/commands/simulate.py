"""Show what llama-quantize would do with a hand-written rule list or a pasted command, and its hazards.

RULES_FILE holds `PATTERN=TYPE` tokens (the --tensor-type-file format; `#` comments, blank lines and
comma-joined lists are fine), ik_llama.cpp `--custom-q "a=b,c=d"` lists, or whole `llama-quantize …`
command lines pasted from a model card (over several lines with `\\`): every option that changes
types is applied (--tensor-type, --tensor-type-file, --output-tensor-type, --token-embedding-type,
--pure, --leave-output-tensor, --prune-layers, --imatrix, the FTYPE), every other one is named.
Prints a summary (per rule, per type, the predicted file size); --tensors adds every tensor.
Exit 1 when a hazard is found, 2 when the list cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recipec import jsonio
from recipec.diagnostics import Diagnostic, DiagnosticError, error
from recipec.exitcodes import exit_code
from recipec.report import FORMATS, default_format, shown
from recipec.source import SourceFile

if TYPE_CHECKING:  # the model, matcher and rule-list modules are imported where they run
    from recipec.llamacpp import Outcome, SizePrediction
    from recipec.modelinfo import ModelInfo
    from recipec.rulelist import RuleEntry, RuleList

JSON_SCHEMA = "recipec.simulate/1"
DEFAULT_FTYPE = "Q4_K_M"
_WORD = set("abcdefghijklmnopqrstuvwxyz0123456789_")
_CASE_ESCAPES = ("\\D", "\\W", "\\S", "\\B", "\\P", "\\K", "\\X", "\\U", "\\C")
_EPILOG = """\
RULES_FILE: PATTERN=TYPE tokens (the --tensor-type-file format; `#` comments, blank lines and commas
are fine), ik_llama.cpp --custom-q lists, or a whole pasted llama-quantize command (continued with
`\\`): --tensor-type, --tensor-type-file, --output-tensor-type, --token-embedding-type, --pure,
--leave-output-tensor, --prune-layers, --imatrix and the FTYPE are applied; any other option is named.
A model card's script works too: rules kept in a shell variable (`custom="…"`, joined by a
`$(… | grep | sed)` that is not run) or in an array (`ARGS=( … )`, `"${ARGS[@]}"`); its other
lines are named and skipped.

examples:
  recipec simulate card-rules.txt --model model.gguf                  # summary, hazards on stderr
  recipec simulate quantize-command.sh --model m.manifest.json --tensors
  recipec simulate rules.txt --model m.gguf --ftype IQ4_XS --imatrix --format sarif > simulate.sarif

Rows decided by llama-quantize's own FTYPE mix are exact (the pinned build's mixture, imatrix-aware:
pass --imatrix, or paste --imatrix on the command line). A row is marked inexact only when a
diagnostic says why (S211: a pattern recipec cannot model; S214: a rule of a fork's type left out).
"""


def add_arguments(parser) -> None:
    """The command's options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument("rules_file", metavar="RULES_FILE",
                        help="rule tokens, a --custom-q list, a pasted llama-quantize command or a "
                             "script that keeps its rules in shell variables or arrays")
    parser.add_argument("--model", required=True, metavar="M", help="GGUF (first shard) or manifest JSON")
    parser.add_argument("--ftype", help="llama-quantize's positional FTYPE (default: the one on a pasted "
                        f"command line, else {DEFAULT_FTYPE})")
    parser.add_argument("--imatrix", action="store_true",
                        help="the run will be given an imatrix (implied by a pasted --imatrix)")
    parser.add_argument("--tensors", action="store_true", help="also print every tensor's row")
    parser.add_argument("--format", choices=("text", "json", "github", "sarif"), default=None,
                        help="text (default; github inside GitHub Actions), json (everything), or "
                        "github/sarif (the diagnostics, for a PR check; the summary goes to stderr)")
    parser.add_argument("--last-match", action="store_true", help="simulate an older last-match build")


@dataclass(frozen=True)
class Simulation:
    """One simulated run: its inputs as read, every tensor's outcome, and why rows are inexact."""

    rules: RuleList
    entries: tuple[RuleEntry, ...]  # the simulated rules' entries: outcome.rule indexes these
    model: ModelInfo
    ftype: str
    imatrix: bool
    first_match: bool
    outcomes: tuple[Outcome, ...]
    inexact: dict  # tensor name -> why
    size: SizePrediction | None


def parse_rules(source: SourceFile) -> tuple[list, list, dict]:
    """(rules, their spans, the pasted options) of SOURCE: a short form of recipec.rulelist's
    parse_rule_list for callers that want the rules alone."""
    from recipec.rulelist import parse_rule_list

    rl = parse_rule_list(source)
    entries = [e for e in rl.entries if e.rule is not None]
    flags = {k: v for k, v in (("ftype", rl.ftype), ("--token-embedding-type", rl.token_embedding_type),
                                ("--output-tensor-type", rl.output_tensor_type), ("--imatrix", rl.imatrix),
                                ("--leave-output-tensor", rl.leave_output), ("--pure", rl.pure)) if v}
    return [e.rule for e in entries], [e.span for e in entries], flags


def run(args) -> int:
    """Simulate the list on the model; print the summary and the hazards; return the exit code."""
    from recipec.rulelist import parse_rule_list

    fmt = args.format or default_format()
    try:
        source = SourceFile.read(args.rules_file)
    except OSError as exc:
        raise error("Q203", f"{args.rules_file}: cannot read: {exc.strerror or exc}") from None
    try:
        rl = parse_rule_list(source)
        sim, notes = _simulate(rl, args)
    except DiagnosticError as exc:
        _emit_diagnostics(fmt, exc.diagnostics, source)
        return exit_code(exc.diagnostics)
    diags = list(rl.diagnostics) + notes + hazards(sim)
    if fmt == "json":
        sys.stdout.write(jsonio.dumps(_document(sim, diags)))
    elif fmt == "text":
        sys.stdout.write(shown(summary_text(sim, tensors=args.tensors)))
        _emit_diagnostics("text", diags, source)
    else:
        sys.stderr.write(summary_text(sim, tensors=args.tensors))
        sys.stdout.write(FORMATS[fmt](diags, {source.path: source}))
    return exit_code(diags, strict=True)  # every hazard is a finding: simulate exists to find them


def _emit_diagnostics(fmt: str, diags: list[Diagnostic], source: SourceFile) -> None:
    if fmt in ("text", "json"):
        if diags:
            sys.stderr.write(FORMATS["text"](diags, {source.path: source}))
    else:
        sys.stdout.write(FORMATS[fmt](diags, {source.path: source}))


def _simulate(rl: RuleList, args) -> tuple[Simulation, list[Diagnostic]]:
    from recipec.llamacpp import simulate
    from recipec.loaders import load_model
    from recipec.mixture import prune_layers

    notes: list[Diagnostic] = []
    ftype = _ftype(rl, args.ftype, notes)
    model = original = load_model(args.model)
    if rl.prune_layers:
        missing = [n for n in rl.prune_layers if n >= model.block_count]
        if missing:
            notes.append(Diagnostic("S212", f"--prune-layers: the model has no block {missing[0]} "
                                    f"(it has {model.block_count}); nothing is removed for it", rl.prune_span))
        model = prune_layers(model, rl.prune_layers)
    entries = tuple(e for e in rl.entries if e.rule is not None)
    imatrix = bool(args.imatrix or rl.imatrix is not None)
    first = not args.last_match
    outcomes = tuple(simulate(rl.rules, model, ftype, first_match=first,
                              token_embedding_type=rl.token_embedding_type,
                              output_tensor_type=rl.output_tensor_type, leave_output=rl.leave_output,
                              pure=rl.pure, imatrix=imatrix))
    inexact = _inexact(rl, entries, outcomes, first)
    if inexact:
        notes.append(Diagnostic("S211", f"{len(inexact)} tensor(s) are inexact: what llama-quantize "
                                "writes for them is not known exactly (the notes say why)", None,
                                notes=tuple(f"{n}: {why}" for n, why in list(inexact.items())[:10])))
    size = _file_size(model, original, outcomes, args.model, rl.imatrix)
    sim = Simulation(rl, entries, model, ftype, imatrix, first, outcomes, inexact, size)
    return sim, notes


def _ftype(rl: RuleList, given: str | None, notes: list[Diagnostic]) -> str:
    from recipec import ggml
    from recipec.rulelist import parse_ftype

    if given:
        ftype = parse_ftype(given)
        if ftype is None:
            raise error("U001", f"`{given}` is not a llama-quantize FTYPE",
                        hint=f"one of {', '.join(ggml.FTYPE_NAMES)}")
        if rl.ftype and rl.ftype != ftype:
            notes.append(Diagnostic("S212", f"--ftype {given} replaces the command's FTYPE {rl.ftype_written}",
                                    rl.ftype_span))
        return ftype
    if rl.ftype:
        return rl.ftype
    notes.append(Diagnostic("S212", f"no FTYPE given: simulating {DEFAULT_FTYPE}", None,
                            hint="give --ftype, or paste the whole llama-quantize command"))
    return DEFAULT_FTYPE


def _inexact(rl: RuleList, entries: tuple[RuleEntry, ...], outcomes, first_match: bool) -> dict:
    """Tensor -> why its row may differ from llama-quantize: a rule consulted before the decision
    is not modelled exactly (S211), or a fork-type rule left out could have matched first (S214)."""
    out: dict[str, str] = {}
    consulted = ("rule", "mixture", "pure", "default", "output-tensor-type")
    order = {id(e): n for n, e in enumerate(rl.entries)}
    for o in outcomes:
        if not o.exact:  # only a tensor decided alone can be a guess; a whole-model run never is
            out[o.name] = "decided by the FTYPE mixture, which this call could not model"
            continue
        if o.decided_by not in consulted or o.name == "output.weight" and o.decided_by == "output-tensor-type":
            continue  # decided before any rule is consulted
        limit = order[id(entries[o.rule])] if o.rule is not None and first_match else len(rl.entries)
        for e in rl.entries[:limit] if first_match else rl.entries:
            why = _may_match(e, o.name)
            if why:
                out[o.name] = why
                break
    return out


def _may_match(e: RuleEntry, name: str) -> str | None:
    from recipec.matcher import PatternError, compile_pattern

    try:
        rx = compile_pattern(e.text.partition("=")[0])
    except PatternError:
        return None
    if e.rule is None and rx.search(name):
        return f"rule `{e.text}` ({e.span}) of the fork type {e.fork_type} would match first"
    if e.rule is not None and not rx.exact:
        return f"rule `{e.text}` ({e.span}) is not modelled exactly"
    return None


def _file_size(model, original, outcomes, model_path: str, imatrix_path: str | None) -> SizePrediction | None:
    """The predicted output size (None when a tensor cannot be written at all)."""
    from recipec.llamacpp import (SizePrediction, imatrix_kv_bytes, predict_file_size, string_kv_bytes,
                                  tensor_info_bytes)

    types = {o.name: o.type for o in outcomes}
    if any(t is None for t in types.values()):
        return None
    extra = slack = 0
    if imatrix_path is not None:  # the keys --imatrix adds; the dataset name is unknown here
        extra = imatrix_kv_bytes(len(imatrix_path.encode()), None)
        slack = string_kv_bytes("quantize.imatrix.dataset", 127)
    kv = _kv_bytes(model_path)
    if kv is None and len(model.sources) == 1:  # the header estimate counts the source's tensor records
        extra += tensor_info_bytes(model.tensors) - tensor_info_bytes(original.tensors)
    pred = predict_file_size(model, types, kv_bytes=kv, extra_kv_bytes=extra)
    if slack and pred.slack is not None:
        return SizePrediction(pred.bytes, pred.slack + slack, pred.metadata_bytes, pred.data_bytes)
    return pred


def _kv_bytes(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                return None
        from recipec.loaders import output_kv_bytes
        return output_kv_bytes(path)
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- hazards

def _captures(rx, name: str) -> bool:
    """Whether every match of RX in NAME cuts through a word (`output` inside `attn_output`)."""
    for m in rx.finditer(name):
        a, b = m.start(), m.end()
        starts = a == 0 or name[a - 1] not in _WORD or (a < len(name) and name[a] not in _WORD)
        ends = b == len(name) or name[b] not in _WORD or (b > 0 and name[b - 1] not in _WORD)
        if starts and ends:
            return False
    return True


def hazards(sim: Simulation) -> list[Diagnostic]:
    """The hazards of the simulated rules: captures, shadowing, dead rules, case, gate, fallbacks,
    failures, missing imatrix."""
    from recipec.llamacpp import ftype_enables_rules, is_quantizable

    out: list[Diagnostic] = []
    model, ftype = sim.model, sim.ftype
    quantized = {t.name for t in model.tensors if is_quantizable(t, arch=model.arch)}
    names = [t.name for t in model.tensors]
    if sim.entries and not ftype_enables_rules(ftype):
        out.append(Diagnostic("S205", f"FTYPE {ftype} makes llama-quantize ignore all {len(sim.entries)} "
                              "rule(s)", hint="give a quantized FTYPE such as Q8_0 or Q4_K_M"))
    for i, e in enumerate(sim.entries):
        out.extend(_rule_hazards(i, e, sim, names, quantized))
    return out


def _rule_hazards(i: int, e: RuleEntry, sim: Simulation, names: list[str], quantized: set) -> list[Diagnostic]:
    from recipec.llamacpp import ftype_enables_rules, needs_imatrix
    from recipec.matcher import compile_pattern

    out: list[Diagnostic] = []
    r, span, ftype = e.rule, e.span, sim.ftype
    rx = compile_pattern(r.pattern)
    if r.pattern != r.pattern.lower():
        bad = sorted({x for x in _CASE_ESCAPES if x in r.pattern}) or ["upper-case letters"]
        out.append(Diagnostic("S204", f"rule {i} `{r.pattern}`: llama-quantize lower-cases the pattern, "
                              f"which changes {', '.join(bad)}", span,
                              hint=f"write `{r.pattern.lower()}` if that is what you mean"))
    matched = [n for n in names if rx.search(n)]
    hit = [n for n in matched if n in quantized]
    decided = [o for o in sim.outcomes if o.rule == i]
    if not hit:
        what = "no tensor" if not matched else f"only tensors llama-quantize never quantizes ({matched[0]}…)"
        return out + [Diagnostic("S203", f"rule {i} `{r}` matches {what}", span)]
    if not decided and ftype_enables_rules(ftype):
        winners = sorted({o.rule for o in sim.outcomes if o.name in hit and o.rule is not None})
        out.append(Diagnostic("S202", f"rule {i} `{r}` never decides a tensor: rule(s) "
                              f"{', '.join(map(str, winners)) or '-'} win for all {len(hit)} it matches", span))
    captured = [o.name for o in decided if _captures(rx, o.name)]
    if captured:
        out.append(Diagnostic("S201", f"rule {i} `{r}` captures {len(captured)} tensor(s) through an "
                              "unanchored substring", span, notes=tuple(captured[:10]),
                              hint="anchor the pattern: ^...$ with \\. between name parts"))
    fell = [f"{o.name}: {o.requested} -> {o.type}" for o in decided if o.fell_back]
    if fell:
        out.append(Diagnostic("S206", f"rule {i} `{r}`: {len(fell)} tensor(s) fall back to another type",
                              span, notes=tuple(fell[:10])))
    need = [o.name for o in decided if o.type and needs_imatrix(o.name, o.type, ftype)]
    failed = [f"{o.name}: {o.error}" for o in decided if o.error and (o.type is None or o.name not in need)]
    if failed:
        out.append(Diagnostic("S207", f"rule {i} `{r}` makes llama-quantize fail", span, notes=tuple(failed[:10])))
    if need and not sim.imatrix:
        out.append(Diagnostic("S209", f"rule {i} `{r}`: {r.type} needs an imatrix for "
                              f"{len(need)} tensor(s)", span, notes=tuple(need[:10])))
    return out


# ----------------------------------------------------------------------------- output

def _bytes(o: Outcome, model) -> int:
    from recipec import ggml

    t = model.by_name[o.name]
    return ggml.tensor_bytes(o.type, t.shape) if o.type else 0


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def _decider(o: Outcome, sim: Simulation) -> str:
    """Who decided O, as the summary groups it."""
    from recipec.llamacpp import ggml_name

    if o.rule is not None:
        return f"rule {o.rule}"
    if o.decided_by == "mixture":
        return f"mixture ({sim.ftype}{', imatrix' if sim.imatrix else ''})"
    if o.decided_by == "token-embedding-type":
        return f"--token-embedding-type {ggml_name(sim.rules.token_embedding_type)}"
    if o.decided_by == "output-tensor-type":
        return f"--output-tensor-type {ggml_name(sim.rules.output_tensor_type)}"
    return {"not-quantized": "not quantized (source type kept)", "pure": f"--pure ({sim.ftype} default)",
            "ftype-gate": f"FTYPE {sim.ftype} (rules ignored)"}.get(o.decided_by, o.decided_by)


def summary(sim: Simulation) -> dict:
    """Per rule, per other decider and per type: tensors and bytes; the predicted file size."""
    rules = [{"index": i, "tensors": 0, "bytes": 0} for i in range(len(sim.entries))]
    others: dict[str, dict] = {}
    types: dict[str, dict] = {}
    for o in sim.outcomes:
        n = _bytes(o, sim.model)
        row = rules[o.rule] if o.rule is not None else others.setdefault(_decider(o, sim), {"tensors": 0, "bytes": 0})
        row["tensors"] += 1
        row["bytes"] += n
        key = o.type or "FAILS"
        types.setdefault(key, {"type": key, "tensors": 0, "bytes": 0})
        types[key]["tensors"] += 1
        types[key]["bytes"] += n
    size = sim.size
    return {"rules": rules, "others": [{"decided_by": k, **v} for k, v in others.items()],
            "types": sorted(types.values(), key=lambda r: (-r["bytes"], r["type"])),
            "tensor_bytes": sum(r["bytes"] for r in types.values()),
            "file": None if size is None else {"bytes": size.bytes, "slack": size.slack},
            "fails": sum(1 for o in sim.outcomes if o.error or o.type is None),
            "inexact": len(sim.inexact)}


def summary_text(sim: Simulation, *, tensors: bool = False) -> str:
    """The summary a person reads first; with TENSORS, every tensor's row after it."""
    s = summary(sim)
    model, rl = sim.model, sim.rules
    out = [f"{len(sim.entries)} rule(s) on {model.arch} ({len(sim.outcomes)} tensors), FTYPE {sim.ftype}"
           f"{', imatrix' if sim.imatrix else ', no imatrix'}, "
           f"{'first' if sim.first_match else 'last'} match wins"]
    if rl.options:
        out.append("options: " + ", ".join(text for text, _ in rl.options))
    out += ["", _table(["rule", "tensors", "size", "where"], _rule_rows(sim, s))]
    out += ["", _table(["type", "tensors", "size"],
                       [[r["type"], str(r["tensors"]), _size(r["bytes"])] for r in s["types"]]
                       + [["total", str(len(sim.outcomes)), _size(s["tensor_bytes"])]])]
    out += ["", _file_line(sim, s)]
    if s["inexact"]:
        out.append(f"inexact: {s['inexact']} tensor(s), see S211/S214")
    if tensors:
        out += ["", _tensor_table(sim)]
    elif sim.outcomes:
        out.append("(--tensors prints every tensor)")
    return "\n".join(out) + "\n"


def _rule_rows(sim: Simulation, s: dict) -> list[list[str]]:
    rows = []
    index = {id(e): i for i, e in enumerate(sim.entries)}
    for e in sim.rules.entries:
        if e.rule is None:
            rows.append([f"-  {e.text}", "-", "-", f"{e.span}  (not simulated: {e.fork_type} is ik_llama.cpp's)"])
            continue
        i = index[id(e)]
        r = s["rules"][i]
        rows.append([f"{i:<2} {e.rule}", str(r["tensors"]), _size(r["bytes"]) if r["tensors"] else "-", str(e.span)])
    rows += [[f"   {o['decided_by']}", str(o["tensors"]), _size(o["bytes"]), ""] for o in s["others"]]
    return rows


def _file_line(sim: Simulation, s: dict) -> str:
    if s["file"] is None:
        bad = sum(1 for o in sim.outcomes if o.type is None)
        return f"predicted file: none, llama-quantize cannot write {bad} tensor(s) (see S207)"
    f = s["file"]
    where = "exact" if f["slack"] == 0 else ("up to " + _size(f["slack"]) + " more" if f["slack"] else
                                             "key/value section unknown")
    line = f"predicted file: {f['bytes']:,} bytes ({_size(f['bytes'])}; {f['bytes'] / 1e9:.2f} GB), {where}"
    if s["fails"]:
        line += f"; but the run fails on {s['fails']} tensor(s) (see S207/S209)"
    return line


def _tensor_table(sim: Simulation) -> str:
    rows = []
    for o in sim.outcomes:
        final = o.type or "FAILS"
        flags = ", ".join(x for x in (f"from {o.requested}" if o.fell_back else "",
                                      "run fails" if o.error else "",
                                      "inexact" if o.name in sim.inexact else "") if x)
        rows.append([o.name, o.source_type, final, _decider(o, sim), _size(_bytes(o, sim.model)), flags])
    return _table(["tensor", "source", "type", "decided by", "size", ""], rows)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[k])) for r in [header] + rows) for k in range(len(header))]
    right = {"tensors", "size"}
    lines = []
    for r in [header] + rows:
        cells = [str(c).rjust(w) if h in right else str(c).ljust(w) for c, w, h in zip(r, widths, header)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _document(sim: Simulation, diags: list[Diagnostic]) -> dict:
    rl = sim.rules
    s = summary(sim)
    by_entry = {id(e): i for i, e in enumerate(sim.entries)}
    rules = []
    for e in rl.entries:
        i = by_entry.get(id(e))
        rules.append({"index": i, "text": str(e.rule) if e.rule else e.text, "written": e.text,
                      "pattern": e.rule.pattern if e.rule else e.text.partition("=")[0],
                      "type": e.rule.type if e.rule else e.fork_type, "origin": e.origin,
                      "span": e.span.to_dict(), "simulated": e.rule is not None,
                      "decides": s["rules"][i]["tensors"] if i is not None else 0,
                      "bytes": s["rules"][i]["bytes"] if i is not None else 0})
    return {"schema": JSON_SCHEMA, "ftype": sim.ftype, "first_match": sim.first_match, "imatrix": sim.imatrix,
            "options": {"token_embedding_type": rl.token_embedding_type,
                        "output_tensor_type": rl.output_tensor_type, "leave_output": rl.leave_output,
                        "pure": rl.pure, "imatrix": rl.imatrix, "prune_layers": list(rl.prune_layers)},
            "rules": rules, "summary": {k: v for k, v in s.items() if k != "rules"},
            "tensors": [_tensor_dict(o, sim) for o in sim.outcomes],
            "diagnostics": [d.to_dict() for d in diags]}


def _tensor_dict(o: Outcome, sim: Simulation) -> dict:
    rule = None if o.rule is None else {"index": o.rule, "text": str(sim.entries[o.rule].rule)}
    return {"name": o.name, "source_type": o.source_type, "type": o.type, "requested": o.requested,
            "decided_by": o.decided_by, "exact": o.name not in sim.inexact,
            "inexact_reason": sim.inexact.get(o.name), "error": o.error, "rule": rule,
            "bytes": _bytes(o, sim.model)}
