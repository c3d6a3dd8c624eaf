"""Rule lists as people paste them: `--tensor-type-file` tokens, model-card command lines, ik_llama.cpp
`--custom-q` lists, with comments and blank lines; read into rules and llama-quantize options.

Two forms, told apart line by line:

* **token lines** (the --tensor-type-file format, more forgiving): `PATTERN=TYPE` tokens separated by
  white space or commas; `#` starts a comment; backslashes are regex escapes;
* **command lines**: a line holding a `llama-quantize` word or an option (`--…`), continued by `\\`
  and read with shell quoting, as llama-quantize's argument parser reads its argv
  (tools/quantize/quantize.cpp): every option that changes types is applied, every other one is named.

Nothing is dropped: each rule is kept with its file:line:col, and every word that is not applied is
the subject of a diagnostic (S208 when it cannot be read as a rule; S212–S214 for options).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from recipec import ggml
from recipec.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from recipec.matcher import PatternError, Rule, compile_pattern
from recipec.shellvars import Variable, read_assignment, reference, referenced
from recipec.shellwords import Word, shell_words
from recipec.source import SourceFile, Span

# Types and FTYPEs only ik_llama.cpp knows (ggml/src/ggml.c type_traits and
# examples/quantize/quantize.cpp QUANT_OPTIONS there); `_r4`/`_r8`/`_r16` are its row-interleaved
# repacks, of these and of mainline types.
FORK_TYPES = frozenset({
    "iq1_bn", "iq2_bn", "iq2_k", "iq3_k", "iq4_k", "iq5_k", "iq6_k", "iq2_ks", "iq3_ks", "iq4_ks",
    "iq4_kss", "iq5_ks", "iq2_kl", "iq3_kl", "iq1_kt", "iq2_kt", "iq3_kt", "iq4_kt", "q6_0", "q8_kv",
    "q8_k_r8", "q4_0_4_4", "q4_0_4_8", "q4_0_8_8",
})
_REPACKED = re.compile(r"^(.+)_r(4|8|16)$")
# llama_ftype numbers in QUANT_OPTIONS order (the FTYPE argument may be a number; the first
# option with that number wins: 12 is `Q3_K`, 0 is `F32`).
_FTYPE_NUMBERS = (
    ("Q1_0", 40), ("Q2_0", 41), ("Q4_0", 2), ("Q4_1", 3), ("MXFP4_MOE", 38), ("Q5_0", 8), ("Q5_1", 9),
    ("IQ2_XXS", 19), ("IQ2_XS", 20), ("IQ2_S", 28), ("IQ2_M", 29), ("IQ1_S", 24), ("IQ1_M", 31),
    ("TQ1_0", 36), ("TQ2_0", 37), ("Q2_K", 10), ("Q2_K_S", 21), ("IQ3_XXS", 23), ("IQ3_S", 26),
    ("IQ3_M", 27), ("Q3_K", 12), ("IQ3_XS", 22), ("Q3_K_S", 11), ("Q3_K_M", 12), ("Q3_K_L", 13),
    ("IQ4_NL", 25), ("IQ4_XS", 30), ("Q4_K", 15), ("Q4_K_S", 14), ("Q4_K_M", 15), ("Q5_K", 17),
    ("Q5_K_S", 16), ("Q5_K_M", 17), ("Q6_K", 18), ("Q8_0", 7), ("F16", 1), ("BF16", 32), ("F32", 0),
    ("COPY", 0),
)
# Options of the pinned llama-quantize, by what the reader does with them.
VALUE_OPTIONS = frozenset({"--tensor-type", "--tensor-type-file", "--output-tensor-type",
                           "--token-embedding-type", "--imatrix", "--include-weights", "--exclude-weights",
                           "--prune-layers", "--override-kv", "--max-buffer-size"})
FLAG_OPTIONS = frozenset({"--leave-output-tensor", "--pure", "--dry-run", "--allow-requantize",
                          "--keep-split"})
# ik_llama.cpp's options (mainline rejects all but the ones above); --custom-q is applied as rules.
FORK_VALUE_OPTIONS = frozenset({"--custom-q", "--attn-q-type", "--attn-k-type", "--attn-v-type",
                                "--attn-qkv-type", "--attn-output-type", "--ffn-gate-type", "--ffn-down-type",
                                "--ffn-up-type", "--ffn-gate-inp-type", "--extra-output-tensor",
                                "--repack-pattern"})
FORK_FLAG_OPTIONS = frozenset({"--hide-imatrix", "--ignore-imatrix-rules", "--repack", "--symmetric-q40",
                               "--slow-iq2ks", "--partial-requant"})
_NOT_TYPES = {
    "--dry-run": "writes nothing; recipec simulates the types a real run writes",
    "--allow-requantize": "lets an already quantized source be quantized again; types are simulated "
                          "from the model as given",
    "--keep-split": "changes the output's sharding, not its types",
    "--max-buffer-size": "changes memory use, not types",
    "--override-kv": "changes the output's metadata; recipec decides types with the model's own "
                     "hyper-parameters",
    "--include-weights": "limits which tensors get imatrix data; types are simulated as with an imatrix "
                         "(they differ only if no entry is left)",
    "--exclude-weights": "limits which tensors get imatrix data; types are simulated as with an imatrix "
                         "(they differ only if no entry is left)",
}
# Words that open a shell loop, condition or function: the arguments they build are not known.
_SHELL_KEYWORDS = {"for": "loop", "while": "loop", "until": "loop", "select": "loop",
                   "if": "condition", "case": "condition", "function": "function"}
_COMMAND_WORD = re.compile(r"(^|[/\\])(llama-)?quantize(\.exe)?$")


@dataclass(frozen=True)
class RuleEntry:
    """One rule as written. RULE is None for a type only a fork knows (FORK_TYPE)."""

    text: str
    span: Span
    origin: str  # list | --tensor-type | --tensor-type-file | --custom-q | argument
    rule: Rule | None
    fork_type: str | None = None


@dataclass(frozen=True)
class RuleList:
    """What a pasted list or command asks llama-quantize to do."""

    entries: tuple[RuleEntry, ...] = ()
    ftype: str | None = None  # canonical FTYPE name (aliases resolved), None when not given
    ftype_written: str | None = None
    ftype_span: Span | None = None
    token_embedding_type: str | None = None
    output_tensor_type: str | None = None
    leave_output: bool = False
    pure: bool = False
    imatrix: str | None = None  # the --imatrix argument
    prune_layers: tuple[int, ...] = ()
    prune_span: Span | None = None
    options: tuple[tuple[str, Span], ...] = ()  # every option applied, as written
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def rules(self) -> list[Rule]:
        """The rules llama-quantize would apply, in order (fork-only types left out)."""
        return [e.rule for e in self.entries if e.rule is not None]


@dataclass
class _State:
    source: SourceFile
    entries: list[RuleEntry] = field(default_factory=list)
    diags: list[Diagnostic] = field(default_factory=list)
    bad: list[Diagnostic] = field(default_factory=list)  # S208: the list cannot be read
    opts: dict = field(default_factory=dict)
    applied: list[tuple[str, Span]] = field(default_factory=list)
    commands: int = 0
    file_format_notes: set = field(default_factory=set)
    comment_lines: bool = False
    variables: dict[str, Variable] = field(default_factory=dict)  # shell variables assigned so far
    expanded: dict[Span, Variable] = field(default_factory=dict)  # command words that were `"$NAME"`
    used: set = field(default_factory=set)  # variables a command (or a `$(…)` it uses) reads
    expands: frozenset = frozenset()  # every name the file expands somewhere
    has_command: bool = False  # the file holds a llama-quantize command (its other lines are a script)
    unclosed: set = field(default_factory=set)  # openings of assignments that never close
    read_spans: set = field(default_factory=set)  # command words replaced by a variable's value

    def note(self, code: str, message: str, span: Span | None, hint: str | None = None, severity=None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint, severity=severity))


def parse_rule_list(source: SourceFile) -> RuleList:
    """SOURCE read as a rule list or pasted command; raises DiagnosticError (S208, Q203) when it
    cannot be read, with every such problem found."""
    st = _State(source, expands=referenced(source.text), has_command=_has_command(source.text))
    lines = source.text.splitlines()
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            if text:
                st.comment_lines = True
            i += 1
        elif (after := _assignment(lines, i, st)) is not None:
            i = after
        elif _is_command(text):
            cmd = shell_words(source.path, lines, i)
            i = cmd.next_line
            words = [x for w in cmd.words for x in _expand(w, st)]
            for w in cmd.expansions:
                if w.span not in st.read_spans:
                    st.note("S212", f"`{w.raw}` holds a shell expansion: recipec reads it as written, the "
                            "shell would expand it first", w.span)
            if cmd.stopped_at is not None:
                st.note("S212", f"ignored from `{cmd.stopped_text[:40]}`: redirections, pipes and further "
                        "commands are not llama-quantize's arguments", cmd.stopped_at)
            if cmd.windows is not None:
                st.note("S212", "a Windows command (a line continued by a backtick or a caret): its words are "
                        "read as PowerShell and cmd.exe split them (quotes removed, backslashes kept)", cmd.windows)
            _read_command(words, st)
        elif st.has_command and text.split(None, 1)[0] in _SHELL_KEYWORDS:
            # the rules a loop or condition builds are unknown: simulating without them would mislead
            st.bad.append(Diagnostic("S208", f"`{text[:40]}` is a shell {_SHELL_KEYWORDS[text.split(None, 1)[0]]}: "
                                     "recipec does not run it, so the arguments it builds are unknown",
                                     _line_span(st, lines, i),
                                     hint="paste the rules as --tensor-type options, or as a list of "
                                          "PATTERN=TYPE lines"))
            i += 1
        elif text.startswith(("```", "~~~")):
            st.note("S212", "ignored: a markdown code fence", _span(st, i + 1, 1, text))
            i += 1
        elif st.has_command and "=" not in text.split("#", 1)[0]:
            st.note("S212", f"ignored: `{text[:40]}` is a line of the script, not llama-quantize's arguments "
                    "or a rule", _line_span(st, lines, i))
            i += 1
        else:
            _read_token_line(lines[i], i + 1, st)
            i += 1
    _unused_rule_variables(st)
    if st.commands > 1:
        st.bad.append(Diagnostic("S208", f"{source.path} holds {st.commands} llama-quantize commands",
                                 Span.of_file(source.path), hint="simulate one command at a time"))
    if st.comment_lines and any(e.origin == "list" for e in st.entries):
        st.file_format_notes.add("`#` comments")
    if st.file_format_notes:
        st.note("S212", f"this list uses {' and '.join(sorted(st.file_format_notes))}: fine here, but "
                "llama-quantize's --tensor-type-file accepts neither", Span.of_file(source.path),
                hint="give llama-quantize the rules one per line, or as --tensor-type options")
    if st.bad:
        raise DiagnosticError(st.bad + st.diags)
    o = st.opts
    return RuleList(tuple(st.entries), o.get("ftype"), o.get("ftype_written"), o.get("ftype_span"),
                    o.get("token"), o.get("output"), bool(o.get("leave")), bool(o.get("pure")),
                    o.get("imatrix"), tuple(o.get("prune", ())), o.get("prune_span"), tuple(st.applied),
                    tuple(st.diags))


def _has_command(text: str) -> bool:
    """Whether TEXT holds a llama-quantize command (a word naming it outside a comment)."""
    for line in text.splitlines():
        for w in line.split():
            if w.startswith("#"):
                break
            if _COMMAND_WORD.search(w):
                return True
    return False


def _is_command(text: str) -> bool:
    """A line of a command: it has an option (`--…`) or a llama-quantize word."""
    for w in text.split():
        if w.startswith("#"):
            return False
        if w.startswith("--") or _COMMAND_WORD.search(w):
            return True
    return False


# ----------------------------------------------------------------------------- token lines

def _read_token_line(line: str, lineno: int, st: _State) -> None:
    """PATTERN=TYPE tokens of one line, split at white space and commas; `#` ends the line."""
    for m in re.finditer(r"\S+", line):
        tok, col = m.group(), m.start() + 1
        if tok.startswith("#"):
            st.file_format_notes.add("`#` comments")
            return
        if tok == "\\":
            continue  # a continuation left over from a shell paste
        if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"":
            st.note("S212", f"quotes around `{tok[1:-1]}` removed: llama-quantize's --tensor-type-file "
                    "would keep them as part of the pattern", _span(st, lineno, col, tok))
            tok, col = tok[1:-1], col + 1
        for item, offset in _split_commas(tok):
            if offset or len(item) < len(tok):
                st.file_format_notes.add("commas between rules")
            _add_rule(st, item, _span(st, lineno, col + offset, item), "list")


def _split_commas(text: str) -> list[tuple[str, int]]:
    """TEXT split at commas into PATTERN=TYPE items; a piece without `=` belongs to the next one
    (a comma inside a pattern, as in `{1,3}`). Items come with their offset in TEXT."""
    pieces, start = [], 0
    for part in text.split(","):
        pieces.append((part, start))
        start += len(part) + 1
    out: list[tuple[str, int]] = []
    carry: tuple[str, int] | None = None
    for part, offset in pieces:
        if carry is not None:
            part, offset = carry[0] + "," + part, carry[1]
            carry = None
        if "=" not in part and (part or offset == 0):
            carry = (part, offset)
            continue
        if part:
            out.append((part, offset))
    if carry is not None and carry[0]:
        out.append(carry)
    return out


def _line_span(st: _State, lines: list[str], i: int) -> Span:
    """LINES[I] (0-based) without its indentation and trailing blanks."""
    text = lines[i].strip()
    return _span(st, i + 1, len(lines[i]) - len(lines[i].lstrip()) + 1, text)


def _span(st: _State, line: int, col: int, text: str) -> Span:
    return Span(st.source.path, line, col, line, col + max(len(text), 1))


# ----------------------------------------------------------------------------- the argv

def _read_command(words: list[Word], st: _State) -> None:
    """WORDS as llama-quantize's argv: options first, then input, [output,] FTYPE, [threads]."""
    at = next((n for n, w in enumerate(words) if _COMMAND_WORD.search(w.text)), None)
    if at is not None:
        st.commands += 1
        if at:
            st.note("S212", f"ignored before the command: {' '.join(w.raw for w in words[:at])}",
                    words[0].span)
        words = words[at + 1:]
    rest: list[Word] = []
    first: Word | None = None  # the first positional argument: llama-quantize's options end there
    k = 0
    while k < len(words):
        w = words[k]
        if w.text.startswith("--"):
            if first is not None and at is not None:
                st.note("S213", f"`{w.text}` comes after the positional argument `{first.text}`: "
                        "llama-quantize reads options only before it, and takes this one as a positional "
                        "argument", w.span, hint="move every option before the input model")
            k = _option(words, k, st)
            continue
        first = first or w
        if not _positional_rule(w, st, at is not None):
            rest.append(w)
        k += 1
    if at is not None or rest:
        _positionals(rest, st)


def _positional_rule(w: Word, st: _State, in_command: bool) -> bool:
    """A bare PATTERN=TYPE word among the arguments: kept as a rule (never lost)."""
    if "=" not in w.text or w.text.startswith("="):
        return False
    if in_command:
        st.note("S213", f"`{w.text}` stands without `--tensor-type`: llama-quantize would read it as a "
                "file name or FTYPE", w.span, hint=f"write --tensor-type {w.raw}")
    _add_rule(st, w.text, w.span, "argument")
    return True


def _option(words: list[Word], k: int, st: _State) -> int:
    """Apply the option at K; return the index after it (and its value)."""
    w = words[k]
    name, eq, inline = w.text.partition("=")
    takes_value = name in VALUE_OPTIONS or name in FORK_VALUE_OPTIONS
    known = name in VALUE_OPTIONS or name in FLAG_OPTIONS
    if eq and known:
        st.note("S213", f"llama-quantize does not know `{name}=…` (it prints its usage and exits)", w.span,
                hint=f"write {name} {inline}" if takes_value else f"write {name} alone")
    if eq and takes_value:
        value: Word | None = Word(inline, w.raw, w.span)
        nxt = k + 1
    elif takes_value:
        value = words[k + 1] if k + 1 < len(words) else None
        nxt = k + 2
        if value is None:
            st.note("S213", f"`{name}` needs a value", w.span)
            return k + 1
    else:
        value, nxt = None, k + 1
    if name in FLAG_OPTIONS or name in VALUE_OPTIONS:
        _mainline_option(name, value, w, st)
    elif name == "--custom-q":
        st.note("S212", "--custom-q is ik_llama.cpp's option: its rules are simulated as mainline "
                "--tensor-type options", w.span, hint="mainline llama-quantize takes each rule as --tensor-type")
        var = st.expanded.get(value.span)
        if var is not None and len(var.segments) > 1 and var.via is None:
            st.note("S212", f"`{value.raw}` passes the lines of `{var.name}` as they are, new lines and `#` "
                    "lines included; model cards join its rules with commas first (grep -v '^#' | sed …): "
                    "recipec reads them as that would", value.span)
        for item, span in _value_items(value, st):
            _add_rule(st, item, span, "--custom-q")
    elif name in FORK_VALUE_OPTIONS or name in FORK_FLAG_OPTIONS:
        st.note("S213", f"`{name}` is an ik_llama.cpp option; mainline llama-quantize rejects it "
                "(it prints its usage and exits)", w.span)
    else:
        known = sorted(VALUE_OPTIONS | FLAG_OPTIONS)
        guess = did_you_mean(name, known)
        st.note("S213", f"llama-quantize does not know `{name}` (it prints its usage and exits)", w.span,
                hint=f"did you mean {guess}?" if guess else f"its options: {', '.join(known)}")
        if not eq and _looks_like_value(words, k + 1):
            value = words[k + 1]
            if "=" in value.text:  # `--tensor-typ a=q8_0`: the rule is kept all the same
                _add_rule(st, value.text, value.span, "argument")
            return k + 2
    return nxt


def _looks_like_value(words: list[Word], k: int) -> bool:
    """Whether WORDS[K] reads as an unknown option's value rather than the input file: a rule
    (`a=q8_0`), or a number with at least two words after it (so not the thread count)."""
    if k >= len(words) or words[k].text.startswith("-"):
        return False
    text = words[k].text
    if "=" in text and not text.startswith("="):
        return True
    return k + 2 < len(words) and re.fullmatch(r"[+-]?\d+(\.\d*)?", text) is not None


def _value_items(value: Word, st: _State) -> list[tuple[str, Span]]:
    """The PATTERN=TYPE items of an option's VALUE, split at commas, each with where it was written
    (in a variable's assignment when VALUE was `"$NAME"`: its lines, `#` lines dropped)."""
    var = st.expanded.get(value.span)
    if var is None:
        return [(item, _value_span(value, item, offset)) for item, offset in _split_commas(value.text)]
    return _variable_items(var)


def _variable_items(var: Variable) -> list[tuple[str, Span]]:
    """The rules of VAR's lines: split at white space and commas; `#` starts a comment."""
    out = []
    for seg in var.segments:
        for m in re.finditer(r"\S+", seg.text):
            tok = m.group()
            if tok.startswith("#"):
                break
            for item, offset in _split_commas(tok):
                at = seg.col + m.start() + offset
                exact = seg.raw == seg.text
                out.append((item, Span(var.span.file, seg.line, at if exact else seg.col, seg.line,
                                       at + len(item) if exact else seg.col + len(seg.raw))))
    return out


def _assignment(lines: list[str], i: int, st: _State) -> int | None:
    """A shell variable assigned at LINES[I] (kept for the command that uses it): the index of the
    line after it, or None when the line is no assignment on its own."""
    got = read_assignment(st.source.path, lines, i, st.variables, st.unclosed)
    if got is None:
        return None
    var, after = got
    if var.plain and var.name not in st.expands and (not st.has_command or _type_word(var.text)):
        return None  # `attn_v=q8_0`: a rule of a token list
    if var.via is not None and not var.known:
        st.note("S212", f"`{var.name}` is set by a command recipec does not run: its value is unknown", var.via)
    elif var.via is not None:
        source = st.variables[var.reads]
        whose = "its lines" if var.reads == var.name else f"the lines of `{var.reads}`"
        st.note("S212", f"`$(…)` is not run: recipec reads `{var.name}` as {whose} assigned at line "
                f"{source.span.line}, a rule list (`#` lines dropped, rules separated by new lines or commas)",
                var.via, hint="check that the pipeline does no more than that")
    st.variables[var.name] = var
    return after


def _type_word(text: str) -> bool:
    """Whether TEXT names a ggml type (mainline or ik_llama.cpp's), as the type of a rule does."""
    return ggml.canonical_type(text) is not None or is_fork_type(text)


def _expand(w: Word, st: _State) -> list[Word]:
    """W, or the value of the variable it names: an array's words (`"${ARGS[@]}"`, each where it
    was written), a string as one word (`"$NAME"`) or split at white space (`$NAME`)."""
    ref = reference(w.raw)
    var = st.variables.get(ref.name) if ref else None
    if var is None or not var.known or (var.words is not None and not ref.array):
        return [w]  # unknown, or `$ARGS` of an array (its first element): read as written, and named
    st.used.update(n for n in (var.name, var.reads) if n)
    st.read_spans.add(w.span)
    if var.words is not None:
        return list(var.words)
    if ref.quoted:
        st.expanded[w.span] = var
        return [Word(var.text, w.raw, w.span)]
    return [Word(part, w.raw, w.span) for part in var.text.split()]


def _unused_rule_variables(st: _State) -> None:
    """Variables holding nothing but rules that no command passes on: read as a list, in order."""
    for var in st.variables.values():
        if var.name in st.used or var.via is not None or var.segments is None:
            continue
        items = _variable_items(var)
        if items and all("=" in item and not item.startswith("-") for item, _ in items):
            st.note("S212", f"`{var.name}` is not passed to a llama-quantize command here: its rules are "
                    "read as a list", var.span)
            for item, span in items:
                _add_rule(st, item, span, "list")


def _value_span(value: Word, item: str, offset: int) -> Span:
    """Where ITEM (at OFFSET in VALUE's text) was written: exact when the raw text holds it."""
    s = value.span
    at = value.raw.find(item, offset)  # quotes and escapes only lengthen the raw text
    if at < 0 or s.end_line != s.line:
        return s
    return Span(s.file, s.line, s.col + at, s.line, s.col + at + len(item))


def _mainline_option(name: str, value: Word | None, w: Word, st: _State) -> None:
    o = st.opts
    if name == "--tensor-type":
        items = _value_items(value, st)
        if len(items) > 1:
            st.note("S213", f"llama-quantize reads `{value.text}` as one rule whose type runs to the end: "
                    "give each rule its own --tensor-type", value.span)
        for item, span in items or [(value.text, value.span)]:
            _add_rule(st, item, span, "--tensor-type")
        return
    st.applied.append((name if value is None else f"{name} {value.raw}", w.span))
    if name == "--tensor-type-file":
        _read_type_file(value, st)
    elif name in ("--output-tensor-type", "--token-embedding-type"):
        typ = _flag_type(name, value, st)
        if typ:
            o["output" if name == "--output-tensor-type" else "token"] = typ
    elif name == "--imatrix":
        o["imatrix"] = value.text
    elif name == "--prune-layers":
        _prune(value, st)
    elif name == "--leave-output-tensor":
        o["leave"] = True
    elif name == "--pure":
        o["pure"] = True
    else:
        st.applied.pop()
        st.note("S212", f"`{name}` {_NOT_TYPES[name]}", w.span)


def _flag_type(name: str, value: Word, st: _State) -> str | None:
    if is_fork_type(value.text):
        st.note("S214", f"`{value.text}` is an ik_llama.cpp type; mainline llama-quantize rejects "
                f"{name} {value.text}", value.span)
        return None
    typ = ggml.canonical_type(value.text)
    if typ is None:
        st.note("S213", f"`{value.text}` is not a ggml type name: llama-quantize rejects {name} "
                f"{value.text}", value.span, hint=_type_hint(value.text))
    return typ


def _prune(value: Word, st: _State) -> None:
    """--prune-layers L0,L1,…: block ids (parse_layer_prune: stoi each, sorted, unique)."""
    ids = []
    for part in value.text.split(","):
        m = re.match(r"\s*[+-]?\d+", part)
        n = int(m.group()) if m else -1
        if n < 0:
            st.note("S213", f"--prune-layers: `{part}` is not a layer number", value.span)
            return
        ids.append(n)
    st.opts["prune"] = sorted(set(ids) | set(st.opts.get("prune", ())))
    st.opts["prune_span"] = value.span


def _read_type_file(value: Word, st: _State) -> None:
    """--tensor-type-file F (relative to the rules file): white-space separated tokens, nothing else."""
    path = Path(value.text)
    if not path.is_absolute():
        path = Path(st.source.path).parent / path
    try:
        src = SourceFile.read(path)
    except OSError as exc:
        st.bad.append(Diagnostic("Q203", f"{path}: cannot read the --tensor-type-file: "
                                 f"{exc.strerror or exc}", value.span))
        return
    for lineno, line in enumerate(src.text.splitlines(), 1):
        for m in re.finditer(r"\S+", line):
            tok, span = m.group(), Span(src.path, lineno, m.start() + 1, lineno, m.end() + 1)
            if tok.startswith("#"):
                st.note("S213", "llama-quantize's --tensor-type-file has no comments: it fails on "
                        f"`{tok}` (`{line.strip()[:40]}` skipped here)", span)
                break
            items = _split_commas(tok)
            if len(items) > 1:
                st.note("S213", f"llama-quantize reads `{tok}` as one rule (its type ends at the end of the "
                        "token): separate rules by spaces or newlines", span)
            for item, offset in items:
                _add_rule(st, item, Span(src.path, lineno, span.col + offset, lineno,
                                         span.col + offset + len(item)), "--tensor-type-file")


def _positionals(words: list[Word], st: _State) -> None:
    """input [output] FTYPE [nthreads], read as llama-quantize reads them."""
    if not words:
        st.note("S212", "the command names no input model and no FTYPE", None)
        return
    if len(words) == 1:
        st.note("S213", "llama-quantize needs the input model and the FTYPE (bad arguments)", words[0].span)
        return
    k = 1
    if parse_ftype(words[1].text) is None and not is_fork_type(words[1].text):
        k = 2
        if len(words) < 3:
            st.note("S213", f"no FTYPE after the output `{words[1].text}` (missing ftype)", words[1].span)
            return
    w = words[k]
    ftype = parse_ftype(w.text)
    if ftype is None:
        fork = is_fork_type(w.text)
        st.note("S214" if fork else "S213", f"`{w.text}` is " + ("an ik_llama.cpp FTYPE: mainline "
                "llama-quantize rejects it" if fork else "not a llama-quantize FTYPE (invalid ftype)"), w.span,
                hint=None if fork else _ftype_hint(w.text))
    else:
        st.opts.update(ftype=ftype, ftype_written=w.text, ftype_span=w.span)
    rest = words[k + 1:]
    if rest and not re.match(r"\s*[+-]?\d", rest[0].text):
        st.note("S213", f"`{rest[0].text}` is not a thread count (invalid nthread)", rest[0].span)
    if len(rest) > 1:
        st.note("S212", f"ignored by llama-quantize: {' '.join(w.raw for w in rest[1:])}", rest[1].span)


def parse_ftype(text: str) -> str | None:
    """The FTYPE llama-quantize reads from TEXT (try_parse_ftype: a name in any case, or the
    leading number of llama_ftype), canonical, with the Q3_K/Q4_K/Q5_K aliases resolved."""
    name = ggml.canonical_ftype(text)
    if name is None:
        m = re.match(r"\s*([+-]?\d+)", text)
        if m:
            name = next((n for n, v in _FTYPE_NUMBERS if v == int(m.group(1))), None)
    return None if name is None else ggml.FTYPE_ALIASES.get(name, name)


def _ftype_hint(text: str) -> str | None:
    guess = did_you_mean(text, ggml.FTYPE_NAMES)
    return f"did you mean {guess}?" if guess else None


def is_fork_type(name: str) -> bool:
    """Whether NAME is a tensor type only ik_llama.cpp knows (including its `_rN` repacks)."""
    low = name.lower()
    m = _REPACKED.match(low)
    return low in FORK_TYPES or bool(m and (m.group(1) in FORK_TYPES or ggml.canonical_type(m.group(1))))


def _type_hint(text: str) -> str | None:
    ftype = ggml.canonical_ftype(text)
    if ftype and ftype not in ggml.TYPE_NAMES:
        return (f"`{text}` is an FTYPE (a mix); the tensor type of its body is "
                f"{ggml.FTYPE_DEFAULT[ftype].lower()}")
    guess = did_you_mean(text, ggml.TARGET_TYPES)
    return f"did you mean {guess.lower()}?" if guess else None


# ----------------------------------------------------------------------------- one rule

def _add_rule(st: _State, text: str, span: Span, origin: str) -> None:
    """TEXT as `PATTERN=TYPE`, split at the first `=` like parse_tensor_type, checked; kept in order."""
    pattern, sep, typ = text.partition("=")
    problem = None
    if not sep:
        problem = f"`{text}` is not PATTERN=TYPE"
    elif not pattern:
        problem = f"`{text}` has no pattern before `=`"
    elif not typ:
        problem = f"`{text}` has no type after `=`"
    if problem:
        st.bad.append(Diagnostic("S208", problem, span))
        return
    if is_fork_type(typ):
        st.note("S214", f"`{typ}` is an ik_llama.cpp type: mainline llama-quantize rejects `{text}` "
                "(this rule is left out of the simulation)", span,
                hint="use a mainline type (q4_K, iq4_xs, q5_K, q6_K …) or simulate with ik_llama.cpp")
        st.entries.append(RuleEntry(text, span, origin, None, typ))
        return
    canon = ggml.canonical_type(typ)
    if canon is None:
        hint = _type_hint(typ)
        if "(?" in pattern or "[[" in pattern:
            hint = ("llama-quantize splits a rule at its first `=`, so a pattern cannot hold `=`: no `(?=` "
                    "lookahead, no `[[=x=]]`")
        st.bad.append(Diagnostic("S208", f"`{typ}` is not a ggml type name", span, hint))
        return
    rule = Rule(pattern, canon)
    try:
        rx = compile_pattern(pattern)
    except PatternError as exc:
        at = replace(span, col=span.col + (exc.pos or 0), end_col=span.col + (exc.pos or 0) + 1) \
            if span.end_line == span.line else span
        st.bad.append(Diagnostic("S208", f"`{pattern}` is not a valid regex for llama-quantize's std::regex: "
                                 f"{exc.msg}", at))
        return
    for f in rx.findings:
        code = "S210" if f.kind == "dialect" else "S211"
        at = replace(span, col=span.col + f.offset) if span.end_line == span.line else span
        st.note(code, f"`{pattern}`: {f.message}", at)
    st.entries.append(RuleEntry(text, span, origin, rule))
