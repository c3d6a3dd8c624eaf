"""Lark parse tree -> frozen AST nodes (reshaping only; no semantics)."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from recipec import ast
from recipec.diagnostics import error
from recipec.source import Span


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1,
                tok.end_column or tok.column or 1)


@v_args(meta=True)
class ToAst(Transformer):
    """Builds ast nodes; every node gets the span of the text it came from."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    # --- helpers -------------------------------------------------------------------------
    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _word(self, tok: Token) -> ast.Word:
        return ast.Word(str(tok), _tok_span(self.file, tok))

    def _number(self, tok: Token) -> ast.Number:
        return ast.Number(str(tok), _tok_span(self.file, tok))

    # --- file ----------------------------------------------------------------------------
    def start(self, meta, items):
        return list(items)

    # --- statements ----------------------------------------------------------------------
    def recipe_stmt(self, meta, items):
        return ast.RecipeName(str(items[0])[1:-1], self._span(meta))

    def extends_stmt(self, meta, items):
        return ast.Extends(str(items[0])[1:-1], self._span(meta))

    def errors_stmt(self, meta, items):
        return ast.Errors(str(items[0])[1:-1], self._span(meta))

    def arch_stmt(self, meta, items):
        return ast.Arch(tuple(self._word(t) for t in items), self._span(meta))

    def base_stmt(self, meta, items):
        return ast.Base(self._word(items[0]), self._span(meta))

    def ladder_stmt(self, meta, items):
        return ast.Ladder(tuple(self._word(t) for t in items), self._span(meta))

    def budget_amount(self, meta, items):
        return ast.BudgetAmount(self._number(items[0]), self._word(items[1]), self._span(meta))

    def budget_fit(self, meta, items):
        device, unit, ctx, kv, *options = items
        fields = {}
        for name, value in options:
            fields.update(value if name == "overhead" else {"parallel": value})
        return ast.BudgetFit(self._number(device), self._word(unit), self._number(ctx),
                             self._word(kv), span=self._span(meta), **fields)

    def fit_parallel(self, meta, items):
        return ("parallel", self._number(items[0]))

    def fit_overhead(self, meta, items):
        return ("overhead", {"overhead": self._number(items[0]), "overhead_unit": self._word(items[1])})

    def bound_stmt(self, meta, items):
        kind, *selectors = items
        *sels, last = selectors
        span = self._span(meta)
        if not sels or last.layers is not None:
            at = last.span
            where = Span(self.file, at.end_line, at.end_col, at.end_line, at.end_col)
            raise error("P001", "expected a type name such as Q4_K after the selector", where,
                        hint=f"write `{kind} {' '.join(str(s) for s in selectors)} Q4_K`")
        return ast.Bound(str(kind), tuple(sels), ast.Word(last.role, last.span), span)

    def tie_auto(self, meta, items):
        return ast.Tie((), True, self._span(meta))

    def tie_roles(self, meta, items):
        return ast.Tie(tuple(self._word(t) for t in items), False, self._span(meta))

    def depth_stmt(self, meta, items):
        layers, mult = items
        return ast.Depth(layers, str(mult)[1:], self._span(meta))

    def mtp_keep(self, meta, items):
        return ast.Mtp("keep", self._word(items[0]), len(items) > 1, self._span(meta))

    def mtp_optimise(self, meta, items):
        return ast.Mtp("optimise", self._word(items[0]) if items else None, False, self._span(meta))

    def mtp_drop(self, meta, items):
        return ast.Mtp("drop", None, False, self._span(meta))

    def solver_stmt(self, meta, items):
        return ast.Solver(str(items[0]), self._span(meta))

    def target_stmt(self, meta, items):
        return ast.Target(self._word(items[0]), self._span(meta))

    def _serve(self, setting, meta, items):
        value = str(items[0])
        if value.startswith('"'):
            value = value[1:-1]
        return ast.Serve(setting, value, self._span(meta))

    def serve_ctx(self, meta, items):
        return self._serve("ctx", meta, items)

    def serve_flash_attn(self, meta, items):
        return self._serve("flash-attn", meta, items)

    def serve_cache_type(self, meta, items):
        return self._serve("cache-type", meta, items)

    def serve_spec_mtp(self, meta, items):
        return self._serve("spec", meta, items)

    def serve_mmproj(self, meta, items):
        return self._serve("mmproj", meta, items)

    def serve_ngl(self, meta, items):
        return self._serve("ngl", meta, items)

    # --- selectors -----------------------------------------------------------------------
    def selector(self, meta, items):
        role = items[0]
        layers = items[1] if len(items) > 1 else None
        return ast.Selector(str(role), layers, self._span(meta))

    def first_layers(self, meta, items):
        return ast.LayerFilter("first", _int(self.file, items[0]), None, self._span(meta))

    def last_layers(self, meta, items):
        return ast.LayerFilter("last", _int(self.file, items[0]), None, self._span(meta))

    def layer_range(self, meta, items):
        a, b = str(items[0]).split("..")
        return ast.LayerFilter("range", int(a), int(b), self._span(meta))

    def one_layer(self, meta, items):
        return ast.LayerFilter("one", _int(self.file, items[0]), None, self._span(meta))

    def layer_list(self, meta, items):
        layers = tuple(_int(self.file, t) for t in items)
        return ast.LayerFilter("list", None, None, self._span(meta), layers)

    def trunk_layers(self, meta, items):
        return ast.LayerFilter("trunk", None, None, self._span(meta))

    def mtp_layers(self, meta, items):
        return ast.LayerFilter("mtp", None, None, self._span(meta))


def _int(file: str, tok: Token) -> int:
    text = str(tok)
    if not text.isdigit():
        raise error("P005", f"expected a whole number of layers, not {text}", _tok_span(file, tok),
                    hint="layer counts and numbers are whole numbers, e.g. `first 2`")
    return int(text)
