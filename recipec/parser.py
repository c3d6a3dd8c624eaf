"""The cached Lark LALR parser; syntax errors become diagnostics with caret context."""

from __future__ import annotations

import gc
import re
import threading
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from recipec import ast
from recipec.diagnostics import DiagnosticError, did_you_mean, error
from recipec.source import SourceFile, Span
from recipec.transformer import Run, ToAst

STATEMENT_KEYWORDS = ("recipe", "extends", "arch", "base", "ladder", "budget", "floor", "ceiling",
                      "pin", "tie", "depth", "mtp", "solver", "target", "serve", "errors")


def grammar_text() -> str:
    """The grammar: inside the installed package, or grammar/ beside it in a source checkout."""
    packed = resources.files("recipec").joinpath("_data", "grammar", "recipe.lark")
    if packed.is_file():
        return packed.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "recipe.lark").read_text(encoding="utf-8")


class _Tokens:
    """The post-lexer and comment callback: records the tokens of each parse run, comments included.

    The Lark parser, and so this callback and the transformer, is shared by every parse; each
    thread records into its own run, opened by `collect()`, so parses in several threads at once
    keep their tokens apart.
    """

    always_accept = ()  # as Lark's post-lexer: it adds no terminal

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, tok: Token) -> Token:
        """The lexer callback of comments (ignored tokens, which the parser never sees)."""
        run = getattr(self._local, "run", None)
        if run is not None:  # None: a direct lark_parser().parse() outside `collect()`
            run.tokens.append(tok)
        return tok

    def process(self, stream):
        """As Lark's post-lexer: every token the parser reads, recorded on its way. (A lexer
        callback misses keywords the lexer first matches as a WORD and then retypes, e.g. `auto`.)"""
        run = getattr(self._local, "run", None)
        if run is None:
            yield from stream
            return
        append = run.tokens.append
        for tok in stream:
            append(tok)
            yield tok

    def current(self) -> Run | None:
        """The parse run open in this thread."""
        return getattr(self._local, "run", None)

    @contextmanager
    def collect(self, file: str):
        """A fresh run of FILE for the parse inside the block (in this thread)."""
        outer = getattr(self._local, "run", None)
        self._local.run = run = Run(file)
        try:
            yield run
        finally:
            self._local.run = outer


_TOKENS = _Tokens()
_BUILD_LOCK = threading.Lock()


def lark_parser(strict: bool = False) -> Lark:
    """The one Lark parser (LALR, contextual lexer, the AST built as it parses): parse with
    `parse()`, which opens the run its transformer and post-lexer record into."""
    with _BUILD_LOCK:  # built once even when the first parses start in several threads at once
        return _build_parser(strict)


@lru_cache(maxsize=None)
def _build_parser(strict: bool) -> Lark:
    # The AST is built while Lark parses (its LALR `transformer=`): no parse tree, no second walk.
    # The spans come from the recorded tokens (recipec.transformer), not from Lark's positions.
    options = dict(parser="lalr", lexer="contextual", propagate_positions=False, maybe_placeholders=False,
                   strict=strict, transformer=ToAst(_TOKENS.current))
    if not strict:  # the analysed grammar is cached (keyed by the grammar's sha256) by Lark
        options["cache"] = True
    return Lark(grammar_text(), lexer_callbacks={"COMMENT": _TOKENS}, postlex=_TOKENS, **options)


@contextmanager
def gc_paused():
    """The cyclic garbage collector off for the block (back on after it, if it was on).

    A parse allocates a few objects per character, almost none in cycles; with the collector on,
    its full collections over them made a 100,000-statement recipe take twice as long to lint."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def parse(source: SourceFile) -> ast.Recipe:
    """Parse SOURCE into an ast.Recipe, or raise DiagnosticError (P0xx) at the first syntax error."""
    with gc_paused():
        return _parse(source)


def _parse(source: SourceFile) -> ast.Recipe:
    text = source.text
    if not text.endswith("\n"):
        text += "\n"
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise error("P001", "the file contains a NUL byte: is it a recipe?", Span(source.path, line, 1),
                    hint="recipes are UTF-8 text")
    parser = lark_parser()
    with _TOKENS.collect(source.path) as run:
        try:
            statements = parser.parse(text)
        except UnexpectedInput as exc:
            glued = _glued_word(source, text, run.tokens, (exc.line, exc.column))
            raise glued or _syntax_error(source, text, exc) from None
    tokens = run.tokens
    glued = _glued_word(source, text, tokens, None)
    if glued:
        raise glued
    if run.failed is not None:  # a rule's diagnostic, raised once the whole file parsed
        raise run.failed
    comment_tokens = [t for t in tokens if t.type == "COMMENT"]
    stmt_lines = set()
    for s in statements if comment_tokens else ():  # the lines a trailing comment may be on
        stmt_lines.update(range(s.span.line, s.span.end_line + 1))
    comments = tuple(
        ast.Comment(str(t).rstrip(), t.line, t.line in stmt_lines,
                    Span(source.path, t.line, t.column, t.end_line, t.end_column))
        for t in comment_tokens
    )
    blank = tuple(i for i, line in enumerate(text.split("\n")[:-1], 1) if not line.strip())
    return ast.Recipe(tuple(statements), comments, blank, Span.of_file(source.path))


# ----------------------------------------------------------------------------- syntax errors

_WHAT = {
    "WORD": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted string such as "NAME"',
    "RANGE": "a layer range such as 0..3",
    "MULTIPLIER": "a multiplier such as x1.5",
    "_NL": "the end of the line",
    "BOUND_KW": "`floor`, `ceiling` or `pin`",
    "SOLVER_NAME": "`optimal` or `greedy`",
    "SWITCH": "`on`, `off` or `auto`",
    "NGL_WORD": "`all`, `auto` or a number of layers",
    "OUTSIDE": "`outside budget`",
}

# What a name means after each statement keyword, for messages a person understands.
_WORD_IN = {
    "base": "an FTYPE such as Q4_K_M",
    "ladder": "a type name such as Q4_K",
    "arch": "an architecture such as llama",
    "floor": "a selector such as attn_* or a type name such as Q4_K",
    "ceiling": "a selector such as attn_* or a type name such as Q4_K",
    "pin": "a selector such as attn_* or a type name such as Q4_K",
    "target": "a hardware profile such as cuda",
    "tie": "a role such as attn_q (or `auto`)",
    "budget": "a unit such as GiB, MB or bpw",
    "mtp": "a type name such as Q6_K",
    "serve": "a type name such as q8_0",
    "depth": None,
}


def _describe(name: str, keyword: str | None) -> str:
    if name == "WORD" and keyword in _WORD_IN:
        return _WORD_IN[keyword] or ""
    if name in _WHAT:
        return _WHAT[name]
    try:
        value = lark_parser().get_terminal(name).pattern.value
    except KeyError:
        return name.lower()
    return f"`{value}`"


def _literal(name: str) -> str | None:
    try:
        term = lark_parser().get_terminal(name)
    except KeyError:
        return None
    return term.pattern.value if term.pattern.type == "str" else None


def _expected_words(names) -> list[str]:
    words = []
    for n in sorted(names):
        lit = _literal(n)
        if lit:
            words.append(lit)
        elif n in ("BOUND_KW", "SOLVER_NAME", "SWITCH", "NGL_WORD"):
            pattern = lark_parser().get_terminal(n).pattern.value
            words.extend(re.findall(r"[a-z\-]+", pattern))
    return words


def _join(phrases: list[str]) -> str:
    phrases = list(dict.fromkeys(phrases))
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _syntax_error(source: SourceFile, text: str, exc: UnexpectedInput) -> DiagnosticError:
    line, col = exc.line or 1, exc.column or 1
    line_text = text.split("\n")[line - 1] if line - 1 < text.count("\n") else ""
    first = line_text.split("#", 1)[0].split()
    keyword = first[0] if first else None
    if isinstance(exc, UnexpectedToken):
        expected = set(exc.expected) or set(exc.accepts or ())
        found = exc.token
        word = str(found) if found.type != "_NL" else ""
        width = max(1, len(word))
    else:
        expected = set(getattr(exc, "allowed", None) or ())
        m = re.match(r"[^\s#]+", text[exc.pos_in_stream:]) if isinstance(exc, UnexpectedCharacters) else None
        word = m.group(0) if m else ""
        width = max(1, len(word))
    span = Span(source.path, line, col, line, col + width)
    at_start = not line_text[: col - 1].strip()
    if at_start and word:
        guess = did_you_mean(word, STATEMENT_KEYWORDS)
        return error("P002", f"unknown keyword `{word}`: a statement starts with one of "
                     + ", ".join(STATEMENT_KEYWORDS), span,
                     hint=f"did you mean `{guess}`?" if guess else "see the language reference in grammar/README.md")
    if keyword not in STATEMENT_KEYWORDS:
        keyword = None
    want = _join([d for n in sorted(expected, key=lambda n: (n == "_NL", n)) if (d := _describe(n, keyword))])
    want = want or "something else"
    if word:
        got = f"`{word}`"
    else:
        got = "the end of the line"
    hint = None
    literals = _expected_words(expected)
    if word and literals:
        guess = did_you_mean(word, literals)
        if guess:
            hint = f"did you mean `{guess}`?"
    if keyword == "budget" and "WORD" in expected and not word:
        want = "a unit such as GiB, MB or bpw after the number"
    return error("P001", f"expected {want}, found {got}", span, hint=hint)


_WORDY = re.compile(r"[A-Za-z0-9_.*?\-]")


def _all_words() -> list[str]:
    return sorted({w for t in lark_parser().terminals for w in _expected_words([t.name])})


def _glued_word(source: SourceFile, text: str, tokens: list[Token], error_at) -> DiagnosticError | None:
    """A keyword or number glued to the next word (`floors`, `optimall`) is one unknown word.

    Lark's lexer matches `floor` inside `floors`; this finds such words so they are reported,
    not silently split in two. A number glued to its unit (`24GiB`) is allowed.
    """
    toks = [t for t in tokens if t.type not in ("_NL", "COMMENT")]
    # The tokens are recorded in order, without whitespace: a word is glued to the next one
    # exactly when that one starts where it ends.
    pairs = [(a, b) for a, b in zip(toks, toks[1:]) if a.end_pos == b.start_pos]
    if error_at is not None:  # the token that ends where the error is, glued or not
        glued = {id(a): b for a, b in pairs}
        pairs = [(t, glued.get(id(t))) for t in toks]
    lines = text.split("\n") if pairs else []
    for tok, nxt in pairs:
        end = (tok.end_line, tok.end_column)
        at_error = error_at is not None and tuple(error_at) == end
        if nxt is None and not at_error:
            continue
        if tok.type == "NUMBER" and nxt is not None and nxt.type == "WORD":
            continue
        line = lines[end[0] - 1]
        before, after = line[end[1] - 2: end[1] - 1], line[end[1] - 1: end[1]]
        if not (_WORDY.match(before or " ") and _WORDY.match(after or " ")):
            continue
        m = re.match(r"[A-Za-z0-9_.*?\-]+", line[tok.column - 1:])
        word = m.group(0)
        span = Span(source.path, tok.line, tok.column, tok.line, tok.column + len(word))
        at_start = not line[: tok.column - 1].strip()
        if at_start:
            guess = did_you_mean(word, STATEMENT_KEYWORDS)
            return error("P002", f"unknown keyword `{word}`", span,
                         hint=f"did you mean `{guess}`?" if guess else None)
        guess = did_you_mean(word, _all_words())
        return error("P001", f"unexpected `{word}`: not a word this statement takes", span,
                     hint=f"did you mean `{guess}`?" if guess else None)
    return None
