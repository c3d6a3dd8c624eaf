"""Lark parse -> frozen AST nodes (reshaping only; no semantics), built inline while Lark parses.

The parser calls each rule's method as it reduces the rule (Lark's LALR `transformer=`), so no
parse tree is built and walked. Lark passes such methods no positions; each node's span comes
from the tokens of the parse run, which recipec.parser records in order (`Run.tokens`: every
token the parser reads, and comments, not whitespace): when LALR reduces a rule it has read one
token past it (the lookahead), so the rule ends at the last token before that one, and it starts
at its first child or at the keywords written before it.
"""

from __future__ import annotations

from functools import wraps

from lark import Token, Transformer

from recipec import ast
from recipec.diagnostics import DiagnosticError, error
from recipec.source import Span

_SKIPPED = frozenset({"COMMENT"})  # recorded tokens that are no part of any rule


class Run:
    """One parse run: its file, the tokens read so far, and the first error a rule raised."""

    __slots__ = ("file", "tokens", "failed")

    def __init__(self, file: str) -> None:
        self.file = file
        self.tokens: list[Token] = []
        self.failed: DiagnosticError | None = None


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1,
                tok.end_column or tok.column or 1)


def _last(tokens: list[Token]) -> int:
    """The index of the last token of the rule being reduced (skipping the lookahead and comments)."""
    i = len(tokens) - 2
    while i > 0 and tokens[i].type in _SKIPPED:
        i -= 1
    return i


def _line_start(tokens: list[Token], i: int) -> int:
    """The index of the first token of the line of token I (a statement starts its line)."""
    while i > 0 and tokens[i - 1].type != "_NL":
        i -= 1
    return i


def _rule(method):
    """A rule method `(self, run, items)` as Lark calls it, `(items)`. Once a rule has raised a
    diagnostic, the rest of the parse only checks the syntax: the error is raised after it, so a
    syntax error later in the file is still the one reported (as when the tree was built first)."""

    @wraps(method)
    def call(self, items):
        run = self.current()
        if run is None:
            raise RuntimeError("recipec's Lark parser parses through recipec.parser.parse()")
        if run.failed is not None:
            return None
        try:
            return method(self, run, items)
        except DiagnosticError as exc:
            run.failed = exc
            return None

    return call


class ToAst(Transformer):
    """Builds ast nodes; every node gets the span of the text it came from. CURRENT returns the
    parse run of the calling thread (one Lark parser, and so one ToAst, serves every thread)."""

    def __init__(self, current):
        super().__init__(visit_tokens=False)
        self.current = current

    # --- spans ---------------------------------------------------------------------------
    @staticmethod
    def _statement_span(run: Run) -> Span:
        tokens = run.tokens
        end = _last(tokens)
        a, b = tokens[_line_start(tokens, end)], tokens[end]
        return Span(run.file, a.line, a.column, b.end_line, b.end_column)

    @staticmethod
    def _span_from(run: Run, first: Token | None, keywords: int) -> Span:
        """The span of a rule that starts KEYWORDS tokens before its first kept token FIRST (at its
        last token when FIRST is None) and ends where the rule ends."""
        tokens = run.tokens
        end = _last(tokens)
        i = end
        if first is not None:
            while tokens[i] is not first:
                i -= 1
            i -= keywords
        a, b = tokens[i], tokens[end]
        return Span(run.file, a.line, a.column, b.end_line, b.end_column)

    @staticmethod
    def _word(run: Run, tok: Token) -> ast.Word:
        return ast.Word(str(tok), _tok_span(run.file, tok))

    @staticmethod
    def _number(run: Run, tok: Token) -> ast.Number:
        return ast.Number(_short(run.file, tok, str(tok)), _tok_span(run.file, tok))

    # --- file ----------------------------------------------------------------------------
    @_rule
    def start(self, run, items):
        return list(items)

    # --- statements ----------------------------------------------------------------------
    @_rule
    def recipe_stmt(self, run, items):
        return ast.RecipeName(str(items[0])[1:-1], self._statement_span(run))

    @_rule
    def extends_stmt(self, run, items):
        return ast.Extends(str(items[0])[1:-1], self._statement_span(run))

    @_rule
    def errors_stmt(self, run, items):
        return ast.Errors(str(items[0])[1:-1], self._statement_span(run))

    @_rule
    def arch_stmt(self, run, items):
        return ast.Arch(tuple(self._word(run, t) for t in items), self._statement_span(run))

    @_rule
    def base_stmt(self, run, items):
        return ast.Base(self._word(run, items[0]), self._statement_span(run))

    @_rule
    def ladder_stmt(self, run, items):
        return ast.Ladder(tuple(self._word(run, t) for t in items), self._statement_span(run))

    @_rule
    def budget_amount(self, run, items):
        return ast.BudgetAmount(self._number(run, items[0]), self._word(run, items[1]), self._statement_span(run))

    @_rule
    def budget_fit(self, run, items):
        device, unit, ctx, kv, *options = items
        fields = {}
        for name, value in options:
            fields.update(value if name == "overhead" else {"parallel": value})
        return ast.BudgetFit(self._number(run, device), self._word(run, unit), self._number(run, ctx),
                             self._word(run, kv), span=self._statement_span(run), **fields)

    @_rule
    def fit_parallel(self, run, items):
        return ("parallel", self._number(run, items[0]))

    @_rule
    def fit_overhead(self, run, items):
        return ("overhead", {"overhead": self._number(run, items[0]), "overhead_unit": self._word(run, items[1])})

    @_rule
    def bound_stmt(self, run, items):
        kind, *selectors = items
        *sels, last = selectors
        span = self._statement_span(run)
        if not sels or last.layers is not None:
            at = last.span
            where = Span(run.file, at.end_line, at.end_col, at.end_line, at.end_col)
            raise error("P001", "expected a type name such as Q4_K after the selector", where,
                        hint=f"write `{kind} {' '.join(str(s) for s in selectors)} Q4_K`")
        return ast.Bound(str(kind), tuple(sels), ast.Word(last.role, last.span), span)

    @_rule
    def tie_auto(self, run, items):
        return ast.Tie((), True, self._statement_span(run))

    @_rule
    def tie_roles(self, run, items):
        return ast.Tie(tuple(self._word(run, t) for t in items), False, self._statement_span(run))

    @_rule
    def depth_stmt(self, run, items):
        layers, mult = items
        return ast.Depth(layers, _short(run.file, mult, str(mult)[1:]), self._statement_span(run))

    @_rule
    def mtp_keep(self, run, items):
        return ast.Mtp("keep", self._word(run, items[0]), len(items) > 1, self._statement_span(run))

    @_rule
    def mtp_optimise(self, run, items):
        return ast.Mtp("optimise", self._word(run, items[0]) if items else None, False, self._statement_span(run))

    @_rule
    def mtp_drop(self, run, items):
        return ast.Mtp("drop", None, False, self._statement_span(run))

    @_rule
    def solver_stmt(self, run, items):
        return ast.Solver(str(items[0]), self._statement_span(run))

    @_rule
    def target_stmt(self, run, items):
        return ast.Target(self._word(run, items[0]), self._statement_span(run))

    def _serve(self, run, setting, items):
        value = str(items[0])
        if value.startswith('"'):
            value = value[1:-1]
        return ast.Serve(setting, value, self._statement_span(run))

    @_rule
    def serve_ctx(self, run, items):
        _short(run.file, items[0], str(items[0]))
        return self._serve(run, "ctx", items)

    @_rule
    def serve_flash_attn(self, run, items):
        return self._serve(run, "flash-attn", items)

    @_rule
    def serve_cache_type(self, run, items):
        return self._serve(run, "cache-type", items)

    @_rule
    def serve_spec_mtp(self, run, items):
        _short(run.file, items[0], str(items[0]))
        return self._serve(run, "spec", items)

    @_rule
    def serve_mmproj(self, run, items):
        return self._serve(run, "mmproj", items)

    @_rule
    def serve_ngl(self, run, items):
        if items[0].type == "NUMBER":
            _short(run.file, items[0], str(items[0]))
        return self._serve(run, "ngl", items)

    # --- selectors -----------------------------------------------------------------------
    @_rule
    def selector(self, run, items):
        role = items[0]
        layers = items[1] if len(items) > 1 else None
        end = layers.span if layers is not None else _tok_span(run.file, role)
        span = Span(run.file, role.line, role.column, end.end_line, end.end_col)
        return ast.Selector(str(role), layers, span)

    @_rule
    def first_layers(self, run, items):
        return ast.LayerFilter("first", _int(run.file, items[0]), None, self._span_from(run, items[0], 1))

    @_rule
    def last_layers(self, run, items):
        return ast.LayerFilter("last", _int(run.file, items[0]), None, self._span_from(run, items[0], 1))

    @_rule
    def layer_range(self, run, items):
        a, b = _short(run.file, items[0], str(items[0])).split("..")
        return ast.LayerFilter("range", int(a), int(b), self._span_from(run, items[0], 0))

    @_rule
    def one_layer(self, run, items):
        return ast.LayerFilter("one", _int(run.file, items[0]), None, self._span_from(run, items[0], 0))

    @_rule
    def layer_list(self, run, items):
        layers = tuple(_int(run.file, t) for t in items)
        return ast.LayerFilter("list", None, None, self._span_from(run, items[0], 0), layers)

    @_rule
    def every_layers(self, run, items):
        start = _int(run.file, items[1]) if len(items) > 1 else 0
        return ast.LayerFilter("every", _int(run.file, items[0]), start, self._span_from(run, items[0], 1))

    @_rule
    def trunk_layers(self, run, items):
        return ast.LayerFilter("trunk", None, None, self._span_from(run, None, 0))

    @_rule
    def full_attention_layers(self, run, items):
        return ast.LayerFilter("full-attention", None, None, self._span_from(run, None, 0))

    @_rule
    def recurrent_layers(self, run, items):
        return ast.LayerFilter("recurrent", None, None, self._span_from(run, None, 0))

    @_rule
    def mtp_layers(self, run, items):
        return ast.LayerFilter("mtp", None, None, self._span_from(run, None, 0))


def _int(file: str, tok: Token) -> int:
    text = _short(file, tok, str(tok))
    if not text.isdigit():
        raise error("P005", f"expected a whole number of layers, not {text}", _tok_span(file, tok),
                    hint="layer counts and numbers are whole numbers, e.g. `first 2`")
    return int(text)


# The longest number a recipe may write (digits and point): every real value fits in far fewer,
# and a longer one is refused before anything converts it (no 400-digit float, no int of 10^5 digits).
MAX_NUMBER_CHARS = 24


def _short(file: str, tok: Token, text: str) -> str:
    """TEXT, the number written at TOK, or P005 when it is longer than MAX_NUMBER_CHARS."""
    if len(text) > MAX_NUMBER_CHARS:
        raise error("P005", f"the number {text[:12]}… is {len(text):,} characters long: numbers in a recipe "
                    f"are at most {MAX_NUMBER_CHARS}", _tok_span(file, tok),
                    hint="write the value with fewer digits")
    return text
