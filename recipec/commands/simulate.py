"""Show what llama-quantize would do with a list of --tensor-type rules, and flag their hazards.

RULES_FILE holds `PATTERN=TYPE` tokens (the --tensor-type-file format), or shell lines pasted
from a model card (`--tensor-type "PAT=TYPE" \\`, quoted or not). Exit 1 when a hazard is found.
"""

from __future__ import annotations

import re
import shlex
import sys

from recipec import ggml, jsonio
from recipec.diagnostics import Diagnostic, error
from recipec.exitcodes import exit_code
from recipec.llamacpp import (Outcome, Rule, compile_pattern, ftype_enables_rules, is_quantizable,
                              needs_imatrix, simulate)
from recipec.report import FORMATS
from recipec.source import SourceFile, Span

JSON_SCHEMA = "recipec.simulate/1"
# Escapes whose meaning lower-casing changes (\D -> \d ...).
_CASE_ESCAPES = re.compile(r"\\[DWSBPKX]")
_FLAGS_WITH_VALUE = {"--tensor-type", "--token-embedding-type", "--output-tensor-type", "--imatrix",
                     "--tensor-type-file", "--override-kv", "--prune-layers", "--include-weights",
                     "--exclude-weights", "--max-buffer-size"}
_WORD = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("rules_file", metavar="RULES_FILE")
    parser.add_argument("--model", required=True, metavar="M", help="GGUF (first shard) or manifest JSON")
    parser.add_argument("--ftype", help="llama-quantize's positional FTYPE (default: the one on a "
                        "pasted command line, else Q4_K_M)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--last-match", action="store_true", help="simulate an older last-match build")
    parser.add_argument("--imatrix", action="store_true", help="the run will be given an imatrix")


def parse_rules(source: SourceFile) -> tuple[list[Rule], list[Span], dict]:
    """Rules (in order), their spans, and the flags and FTYPE of a pasted command line."""
    rules: list[Rule] = []
    spans: list[Span] = []
    flags: dict = {}
    shell = "--tensor-type" in source.text
    for lineno, line in enumerate(source.text.splitlines(), 1):
        text = line.strip().removesuffix("\\")
        try:
            tokens = shlex.split(text, comments=True) if shell else text.split()
        except ValueError as exc:
            raise error("S208", f"cannot split the line: {exc}", Span(source.path, lineno, 1)) from None
        i = 0
        while i < len(tokens):
            tok, value = tokens[i], None
            if shell:
                if tok.startswith("--tensor-type="):
                    value = tok.split("=", 1)[1]
                elif tok in _FLAGS_WITH_VALUE and i + 1 < len(tokens):
                    i += 1
                    if tok == "--tensor-type":
                        value = tokens[i]
                    else:
                        flags[tok] = tokens[i]
                elif tok.startswith("-"):
                    flags[tok] = True
                elif ggml.canonical_ftype(tok):
                    flags["ftype"] = ggml.canonical_ftype(tok)
            else:
                value = tok
            if value is not None:
                col = line.find(value) + 1 or line.find(tok) + 1 or 1
                rules.append(_parse_token(value, Span(source.path, lineno, col)))
                spans.append(Span(source.path, lineno, col))
            i += 1
    return rules, spans, flags


def _parse_token(tok: str, span: Span) -> Rule:
    pattern, sep, typ = tok.partition("=")
    if not sep or not pattern or not typ:
        raise error("S208", f"`{tok}` is not PATTERN=TYPE", span)
    canon = ggml.canonical_type(typ)
    if canon is None:
        raise error("S208", f"`{typ}` is not a ggml type name", span)
    try:
        compile_pattern(pattern)
    except re.error as exc:
        raise error("S208", f"`{pattern}` is not a valid regex: {exc}", span) from None
    return Rule(pattern, canon)


def _captures(rx: re.Pattern, name: str) -> bool:
    """Whether every match of RX in NAME cuts through a word (`output` inside `attn_output`)."""
    for m in rx.finditer(name):
        a, b = m.start(), m.end()
        starts = a == 0 or name[a - 1] not in _WORD or (a < len(name) and name[a] not in _WORD)
        ends = b == len(name) or name[b] not in _WORD or (b > 0 and name[b - 1] not in _WORD)
        if starts and ends:
            return False
    return True


def hazards(rules: list[Rule], spans: list[Span], outcomes: list[Outcome], model, ftype: str,
            imatrix: bool) -> list[Diagnostic]:
    """The hazards of RULES on MODEL: captures, shadowing, dead rules, case, gate, fallbacks, crashes."""
    out: list[Diagnostic] = []
    quantized = {t.name for t in model.tensors if is_quantizable(t, arch=model.arch)}
    names = [t.name for t in model.tensors]
    if rules and not ftype_enables_rules(ftype):
        out.append(Diagnostic("S205", f"FTYPE {ftype} makes llama-quantize ignore all {len(rules)} rule(s)",
                              hint="give a quantized FTYPE such as Q8_0 or Q4_K_M"))
    for i, (r, span) in enumerate(zip(rules, spans)):
        rx = compile_pattern(r.pattern)
        if r.pattern != r.pattern.lower():
            bad = sorted(set(_CASE_ESCAPES.findall(r.pattern))) or ["upper-case letters"]
            out.append(Diagnostic("S204", f"rule {i} `{r.pattern}`: llama-quantize lower-cases the "
                                  f"pattern, which changes {', '.join(bad)}", span,
                                  hint=f"write `{r.pattern.lower()}` if that is what you mean"))
        matched = [n for n in names if rx.search(n)]
        hit = [n for n in matched if n in quantized]
        decided = [o for o in outcomes if o.rule == i]
        if not hit:
            what = "no tensor" if not matched else f"only tensors llama-quantize never quantizes ({matched[0]}…)"
            out.append(Diagnostic("S203", f"rule {i} `{r}` matches {what}", span))
            continue
        if not decided and ftype_enables_rules(ftype):
            winners = sorted({o.rule for o in outcomes if o.name in hit and o.rule is not None})
            out.append(Diagnostic("S202", f"rule {i} `{r}` never decides a tensor: rule(s) "
                                  f"{', '.join(map(str, winners)) or '-'} win for all {len(hit)} it matches",
                                  span))
        captured = [o.name for o in decided if _captures(rx, o.name)]
        if captured:
            out.append(Diagnostic("S201", f"rule {i} `{r}` captures {len(captured)} tensor(s) through an "
                                  "unanchored substring", span, notes=tuple(captured[:10]),
                                  hint="anchor the pattern: ^...$ with \\. between name parts"))
        fell = [f"{o.name}: {o.requested} -> {o.type}" for o in decided if o.fell_back]
        if fell:
            out.append(Diagnostic("S206", f"rule {i} `{r}`: {len(fell)} tensor(s) fall back to another type",
                                  span, notes=tuple(fell[:10])))
        failed = [f"{o.name}: {o.error}" for o in decided if o.error]
        if failed:
            out.append(Diagnostic("S207", f"rule {i} `{r}` makes llama-quantize fail", span,
                                  notes=tuple(failed[:10])))
        need = [o.name for o in decided if o.type and needs_imatrix(o.name, o.type, ftype)]
        if need and not imatrix:
            out.append(Diagnostic("S209", f"rule {i} `{r}`: {r.type} needs an imatrix for "
                                  f"{len(need)} tensor(s)", span, notes=tuple(need[:10])))
    return out


def _tensor_dict(o: Outcome, rules: list[Rule]) -> dict:
    return {"name": o.name, "source_type": o.source_type, "type": o.type, "requested": o.requested,
            "decided_by": o.decided_by, "exact": o.exact, "error": o.error,
            "rule": None if o.rule is None else {"index": o.rule, "text": str(rules[o.rule])}}


def run(args) -> int:
    """Simulate the rules file on the model; print the types and the hazards; return the exit code."""
    from recipec.loaders import load_model

    try:
        source = SourceFile.read(args.rules_file)
    except OSError as exc:
        raise error("Q203", f"{args.rules_file}: cannot read: {exc.strerror or exc}") from None
    rules, spans, flags = parse_rules(source)
    ftype = ggml.canonical_ftype(args.ftype or flags.get("ftype") or "Q4_K_M")
    if ftype is None:
        raise error("U001", f"`{args.ftype}` is not a llama-quantize FTYPE")
    model = load_model(args.model)
    tok = flags.get("--token-embedding-type")
    outp = flags.get("--output-tensor-type")
    outcomes = simulate(rules, model, ftype, first_match=not args.last_match,
                        token_embedding_type=ggml.canonical_type(tok) if isinstance(tok, str) else None,
                        output_tensor_type=ggml.canonical_type(outp) if isinstance(outp, str) else None,
                        leave_output=bool(flags.get("--leave-output-tensor")), pure=bool(flags.get("--pure")))
    diags = hazards(rules, spans, outcomes, model, ftype, args.imatrix or "--imatrix" in flags)
    if args.format == "json":
        doc = {"schema": JSON_SCHEMA, "ftype": ftype, "first_match": not args.last_match,
               "rules": [{"index": i, "text": str(r), "pattern": r.pattern, "type": r.type,
                          "decides": sum(1 for o in outcomes if o.rule == i)} for i, r in enumerate(rules)],
               "tensors": [_tensor_dict(o, rules) for o in outcomes],
               "diagnostics": [d.to_dict() for d in diags]}
        sys.stdout.write(jsonio.dumps(doc))
    else:
        width = max((len(o.name) for o in outcomes), default=10)
        for o in outcomes:
            why = f"rule {o.rule}" if o.rule is not None else o.decided_by
            final = o.type or f"FAILS ({o.error})"
            sys.stdout.write(f"{o.name:<{width}}  {o.source_type:>7} -> {final:<7}  {why}\n")
        if diags:
            sys.stderr.write(FORMATS["text"](diags, {source.path: source}))
    return exit_code(diags, strict=True)  # every hazard is a finding: simulate exists to find them
