"""AST -> canonical recipe text (`recipec fmt`), guarded like black: equivalent and stable."""

from __future__ import annotations

from recipec import ast
from recipec.diagnostics import error
from recipec.parser import parse
from recipec.source import SourceFile

KEYWORD_WIDTH = 8  # `ceiling` + one space: the column where every statement's arguments start


def _words(items) -> str:
    return " ".join(w.text if isinstance(w, ast.Word) else str(w) for w in items)


def format_statement(s: ast.Statement) -> str:
    """One statement in canonical form (no comment, no newline)."""
    if isinstance(s, ast.RecipeName):
        return f'recipe "{s.name}"'
    if isinstance(s, ast.Extends):
        return _kw("extends", f'"{s.path}"')
    if isinstance(s, ast.Errors):
        return _kw("errors", f'"{s.path}"')
    if isinstance(s, ast.Arch):
        return _kw("arch", _words(s.names))
    if isinstance(s, ast.Base):
        return _kw("base", s.ftype.text)
    if isinstance(s, ast.Ladder):
        return _kw("ladder", _words(s.types))
    if isinstance(s, ast.BudgetAmount):
        return _kw("budget", f"{s.amount.text} {s.unit.text}")
    if isinstance(s, ast.BudgetFit):
        text = f"fit {s.device.text} {s.device_unit.text} ctx {s.ctx.text} kv {s.kv.text}"
        if s.parallel is not None:
            text += f" parallel {s.parallel.text}"
        if s.overhead is not None:
            text += f" overhead {s.overhead.text} {s.overhead_unit.text}"
        return _kw("budget", text)
    if isinstance(s, ast.Bound):
        return _kw(s.kind, f"{_words(s.selectors)} {s.type.text}")
    if isinstance(s, ast.Tie):
        return _kw("tie", "auto" if s.auto else _words(s.roles))
    if isinstance(s, ast.Depth):
        return _kw("depth", f"{s.layers} x{s.multiplier}")
    if isinstance(s, ast.Mtp):
        if s.policy == "keep":
            return _kw("mtp", f"keep {s.type.text}" + (" outside budget" if s.outside_budget else ""))
        if s.policy == "optimise":
            return _kw("mtp", "optimise" + (f" floor {s.type.text}" if s.type else ""))
        return _kw("mtp", "drop")
    if isinstance(s, ast.Solver):
        return _kw("solver", s.name)
    if isinstance(s, ast.Target):
        return _kw("target", s.profile.text)
    if isinstance(s, ast.Serve):
        value = {"spec": f"mtp {s.value}", "mmproj": f'"{s.value}"'}.get(s.setting, s.value)
        return _kw("serve", f"{s.setting} {value}")
    raise TypeError(f"no format for {type(s).__name__}")


def _kw(keyword: str, rest: str) -> str:
    return keyword.ljust(KEYWORD_WIDTH - 1) + " " + rest


def format_recipe(recipe: ast.Recipe) -> str:
    """The canonical text of RECIPE: statements aligned, comments kept, one blank line at most."""
    items: list[tuple[int, int, str]] = []  # (line, order, text)
    trailing = {c.line: c.text for c in recipe.comments if c.trailing}
    for s in recipe.statements:
        text = format_statement(s)
        if s.span.line in trailing:
            text += "  " + trailing[s.span.line]
        items.append((s.span.line, 1, text))
    for c in recipe.comments:
        if not c.trailing:
            items.append((c.line, 0, c.text))
    for line in recipe.blank_lines:
        items.append((line, 2, ""))
    out: list[str] = []
    for _, _, text in sorted(items):
        if text == "" and (not out or out[-1] == ""):
            continue
        out.append(text)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def format_source(source: SourceFile) -> str:
    """Format SOURCE, checking that the result means the same and is stable (else X001)."""
    tree = parse(source)
    text = format_recipe(tree)
    again = parse(SourceFile(source.path, text))
    if again.statements != tree.statements or [c.text for c in again.comments] != [c.text for c in tree.comments]:
        raise error("X001", "internal error: formatting changed the meaning of the recipe",
                    tree.span, hint="please report this recipe; the file was left unchanged")
    if format_recipe(again) != text:
        raise error("X001", "internal error: formatting is not stable in one pass",
                    tree.span, hint="please report this recipe; the file was left unchanged")
    return text
