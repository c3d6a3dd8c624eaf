"""Shell variables of a pasted script, as model cards use them to hold a rule list:

    custom="
    # Attention
    blk\\..*\\.attn_q_b\\.weight=q8_0
    ...
    "
    custom=$(echo "$custom" | grep -v '^#' | sed -Ez 's:\\n+:,:g;s:,$::;s:^,::')
    llama-quantize --custom-q "$custom" ... input.gguf output.gguf IQ4_XS

An assignment (`NAME=VALUE`, `export NAME=VALUE`, `NAME+=VALUE`; the value quoted over several
lines or one plain word, nothing after it) is read with its lines and where each was written; an
array (`ARGS=( --tensor-type "attn_v=q8_0" … )` over any number of lines, `ARGS+=( … )`) with its
words, each where it was written, for `"${ARGS[@]}"`. A reassignment by a
command substitution (`NAME=$(…)`) is not run: when it reads exactly one known variable it stands
for that variable's lines (callers read them as a rule list: `#` lines dropped, rules separated by
new lines or commas, which is what the pipeline above does); otherwise its value is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recipec.shellwords import Word, shell_words
from recipec.source import Span

ASSIGNMENT = re.compile(r"^(\s*)(?:(?:export|local|declare|readonly)\s+(?:-[A-Za-z]+\s+)*)?"
                        r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=")
_REFERENCE = re.compile(r'^(")?\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(\[[@*]\])?\})(")?$')
_USES = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
_DQ_ESCAPES = frozenset('$`"\\')


@dataclass(frozen=True)
class Segment:
    """One line of a value: TEXT as the shell keeps it, RAW as written, starting at LINE:COL."""

    text: str
    raw: str
    line: int
    col: int  # 1-based column of RAW's first character


@dataclass(frozen=True)
class Variable:
    """A variable's value by lines (None: not known, e.g. set by a command that is not run)."""

    name: str
    segments: tuple[Segment, ...] | None
    span: Span  # the assignment's first line
    via: Span | None = None  # a `$(…)` reassignment taken to keep the value it reads
    reads: str | None = None  # the variable that `$(…)` reads
    plain: bool = False  # `NAME=WORD` with no quotes and no keyword: it could be a rule `attn_v=q8_0`
    words: list[Word] | None = None  # an array's words (then SEGMENTS is None); `+=` extends it

    @property
    def known(self) -> bool:
        return self.segments is not None or self.words is not None

    @property
    def text(self) -> str:
        if self.words is not None:
            return " ".join(w.text for w in self.words)
        return "\n".join(s.text for s in self.segments or ())


@dataclass(frozen=True)
class Reference:
    """A word that is one variable's expansion: `$X`, `${X}`, `"$X"`, `"${X[@]}"`."""

    name: str
    quoted: bool  # unquoted, the shell splits a string's value into words
    array: bool  # `${X[@]}` or `${X[*]}`: every element


def reference(raw: str) -> Reference | None:
    """The expansion a word written as RAW consists of, or None."""
    m = _REFERENCE.match(raw)
    if not m or bool(m.group(1)) != bool(m.group(5)):
        return None
    return Reference(m.group(2) or m.group(3), bool(m.group(1)), bool(m.group(4)))


def referenced(text: str) -> frozenset[str]:
    """The names TEXT expands anywhere (`$NAME`, `${NAME}`)."""
    return frozenset(a or b for a, b in _USES.findall(text))


def read_assignment(path: str, lines: list[str], i: int, known: dict[str, Variable],
                    unclosed: set[str]) -> tuple[Variable, int] | None:
    """The assignment starting at LINES[I] (0-based) and the index of the line after it; None when
    the line is not an assignment alone (`CUDA_VISIBLE_DEVICES=0 llama-quantize …` is a command).
    A plain `NAME=WORD` comes back marked `plain`: the caller decides whether it is the rule
    `attn_v=q8_0` of a token list. UNCLOSED remembers the openings (a quote, `$(`) that found no
    end before the end of the file, so a file of unclosed openings is read in linear time."""
    m = ASSIGNMENT.match(lines[i])
    if not m:
        return None
    name, append, at = m.group(2), bool(m.group(3)), m.end()
    span = Span(path, i + 1, len(m.group(1)) + 1, i + 1, len(lines[i].rstrip()) + 1)
    rest = lines[i][at:]
    before = known.get(name) if append else None
    if rest.startswith("("):
        got = None if "(" in unclosed else _array(path, lines, i, at)
        if got is None:
            unclosed.add("(")
            return None
        words, end_line, after = got
        if not _nothing_after(lines[end_line][after:]):
            return None
        if before is not None and before.words is not None:
            before.words.extend(words)  # in place: a script of appends is read in linear time
            words = before.words
        elif append and before is not None:  # `+=( … )` onto a string or an unknown value
            return Variable(name, None, span), end_line + 1
        return Variable(name, None, span, words=words), end_line + 1
    got = _string(path, lines, i, at, name, span, known, unclosed)
    if got is None or not append or before is None:
        return got
    var, after = got
    if before.segments is None or var.segments is None:
        return Variable(name, None, span), after
    return Variable(name, before.segments + var.segments, span), after


def _string(path: str, lines: list[str], i: int, at: int, name: str, span: Span, known: dict[str, Variable],
            unclosed: set[str]) -> tuple[Variable, int] | None:
    """A string value at LINES[I][AT:]: quoted, `$(…)` or one plain word."""
    rest = lines[i][at:]
    if rest.startswith(("'", '"')):
        got = None if rest[0] in unclosed else _quoted(lines, i, at)
        if got is None:
            unclosed.add(rest[0])
            return None
        segments, end_line, after = got
        if not _nothing_after(lines[end_line][after:]):
            return None
        return Variable(name, tuple(segments), span), end_line + 1
    if rest.startswith("$("):
        end = None if "$(" in unclosed else _closing(lines, i, at + 2)
        if end is None:
            unclosed.add("$(")
            return None
        end_line, after = end[0], end[1] + 1
        if not _nothing_after(lines[end_line][after:]):
            return None
        body = "\n".join([lines[i][at:]] + lines[i + 1:end_line + 1])
        read = referenced(body) & set(known)
        via = Span(path, i + 1, at + 1, end_line + 1, after + 1)
        if len(read) == 1:
            source = known[next(iter(read))]
            return Variable(name, source.segments, span, via, source.name), end_line + 1
        return Variable(name, None, span, via), end_line + 1
    word = rest.split("#", 1)[0].strip() if not rest.startswith("#") else ""
    if " " in word or "\t" in word or "$" in word or "`" in word:
        return None
    keyword = lines[i].split(None, 1)[0] in ("export", "local", "declare", "readonly")
    return Variable(name, (Segment(word, word, i + 1, at + 1),), span, plain=not keyword), i + 1


def _array(path: str, lines: list[str], i: int, at: int) -> tuple[list[Word], int, int] | None:
    """The words of the array opening at LINES[I][AT] (`(`), each where it was written, its last
    line and the index after its `)`; None when it never closes."""
    end = _closing(lines, i, at + 1)
    if end is None:
        return None
    end_line, close = end
    cuts = {i: (at + 1, close)} if end_line == i else {i: (at + 1, None), end_line: (None, close)}
    body = _Blanked(lines, cuts, end_line + 1)
    words: list[Word] = []
    k = i
    while k <= end_line:
        cmd = shell_words(path, body, k)
        words += cmd.words
        k = max(cmd.next_line, k + 1)
    return words, end_line, close + 1


class _Blanked:
    """LINES up to END, with some lines cut (line -> (blank up to, cut from)), the columns of what
    is left kept: the array's body alone, for the shell-word reader."""

    def __init__(self, lines: list[str], cuts: dict[int, tuple[int | None, int | None]], end: int):
        self.lines, self.cuts, self.end = lines, cuts, end

    def __len__(self) -> int:
        return self.end

    def __getitem__(self, n: int) -> str:
        text = self.lines[n]
        upto, start = self.cuts.get(n, (None, None))
        if start is not None:
            text = text[:start]
        if upto is not None:
            text = " " * upto + text[upto:]
        return text


def _closing(lines: list[str], i: int, k: int) -> tuple[int, int] | None:
    """Where the `(` before LINES[I][K] closes: (line index, index of the `)`); quotes, escapes,
    nested parentheses and `#` comments counted. None when it never closes."""
    depth, quote, line = 1, "", i
    while line < len(lines):
        text = lines[line]
        while k < len(text):
            c = text[k]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"':
                    k += 1
            elif c in "'\"":
                quote = c
            elif c == "\\":
                k += 1
            elif c == "#" and (k == 0 or text[k - 1] in " \t("):
                break
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return line, k
            k += 1
        line, k = line + 1, 0
    return None


def _nothing_after(text: str) -> bool:
    text = text.strip()
    return not text or text.startswith("#")


def _quoted(lines: list[str], i: int, at: int) -> tuple[list[Segment], int, int] | None:
    """The lines of the quoted value opening at LINES[I][AT]: (segments, its last line, the index
    after the closing quote); None when the quote never closes."""
    quote = lines[i][at]
    segments: list[Segment] = []
    line, k = i, at + 1
    while line < len(lines):
        text, raw_start, chars = lines[line], k, []
        while k < len(text):
            c = text[k]
            if c == quote:
                segments.append(Segment("".join(chars), text[raw_start:k], line + 1, raw_start + 1))
                return segments, line, k + 1
            if quote == '"' and c == "\\" and k + 1 < len(text) and text[k + 1] in _DQ_ESCAPES:
                k += 1
                c = text[k]
            chars.append(c)
            k += 1
        segments.append(Segment("".join(chars), text[raw_start:], line + 1, raw_start + 1))
        line, k = line + 1, 0
    return None
