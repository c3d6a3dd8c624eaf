"""The validated recipe: extends resolved, names canonical, a strict pydantic model."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict

from recipec import ast, ggml
from recipec.diagnostics import CODES, Diagnostic, DiagnosticError, did_you_mean
from recipec.parser import gc_paused, parse
from recipec.source import MAX_RECIPE_BYTES, SourceFile, Span

SIZE_UNITS: dict[str, int] = {
    "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
}
KV_CACHE_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "IQ4_NL", "Q5_0", "Q5_1")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, defer_build=True)


class LayerSpec(_Frozen):
    kind: Literal["first", "last", "range", "one", "list", "every", "trunk", "full-attention", "recurrent", "mtp"]
    a: Optional[int] = None  # every: the stride
    b: Optional[int] = None  # every: the first layer
    items: tuple[int, ...] = ()  # the layers of a `list`


class SelectorSpec(_Frozen):
    role: str  # a glob over roles
    layers: Optional[LayerSpec] = None
    text: str  # as written, for messages
    span: Span


class BoundRule(_Frozen):
    kind: Literal["floor", "ceiling", "pin"]
    selectors: tuple[SelectorSpec, ...]
    type: str  # canonical ggml type
    span: Span
    type_span: Span


class TieRule(_Frozen):
    roles: tuple[str, ...]
    span: Span


class DepthRule(_Frozen):
    layers: LayerSpec
    multiplier: float
    span: Span


class SizeBudget(_Frozen):
    kind: Literal["size"] = "size"
    bytes: int
    amount: float
    unit: str
    span: Span


class BpwBudget(_Frozen):
    kind: Literal["bpw"] = "bpw"
    bpw: float
    span: Span


class FitBudget(_Frozen):
    kind: Literal["fit"] = "fit"
    device_bytes: int
    device_text: str
    ctx: int
    kv_type: str
    parallel: int = 1
    overhead_bytes: int = 0
    span: Span


Budget = Union[SizeBudget, BpwBudget, FitBudget]


class MtpPolicy(_Frozen):
    policy: Literal["keep", "optimise", "drop"] = "optimise"
    type: Optional[str] = None
    outside_budget: bool = False
    span: Optional[Span] = None


class ServeSettings(_Frozen):
    ctx: Optional[int] = None
    flash_attn: Optional[Literal["on", "off", "auto"]] = None
    cache_type: Optional[str] = None
    spec_mtp: Optional[int] = None
    mmproj: Optional[str] = None
    ngl: Optional[str] = None
    spans: dict[str, Span] = {}


class Recipe(_Frozen):
    """A recipe as the compiler reads it: what each statement means, with where it was said."""

    name: str
    path: str
    sha256: str
    arch: tuple[str, ...] = ()
    base: Optional[str] = None
    ladder: Optional[tuple[str, ...]] = None
    budget: Optional[Budget] = None
    bounds: tuple[BoundRule, ...] = ()
    ties: tuple[TieRule, ...] = ()
    tie_auto: bool = False
    depth: tuple[DepthRule, ...] = ()
    mtp: MtpPolicy = MtpPolicy()
    solver: Literal["optimal", "greedy"] = "optimal"
    target: Optional[str] = None
    serve: ServeSettings = ServeSettings()
    errors: Optional[str] = None  # the measured error file, as a path from the working directory
    spans: dict[str, Span] = {}  # where each singleton statement was said (base, ladder, target …)


@dataclass(frozen=True)
class Loaded:
    """What `load` returns: the recipe (None if errors prevent it), diagnostics, sources and ASTs.

    A plain frozen record, not a model: the recipe in it is the validated pydantic value; the rest
    is built here from values already checked (a model would copy the statements once more)."""

    recipe: Optional[Recipe]
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]
    statements: tuple  # the effective AST statements, parents first (each with its span)
    own: dict[str, tuple]  # file -> that file's own statements (for per-file checks)


_IGNORE = re.compile(r"#\s*recipec:\s*ignore\[([A-Za-z0-9_,\s-]*)\]")


def ignored_codes(source: SourceFile) -> dict[int, set[str]]:
    """Line -> codes silenced there by `# recipec: ignore[CODE,…]`."""
    out: dict[int, set[str]] = {}
    for i, line in enumerate(source.text.splitlines(), 1):
        for m in _IGNORE.finditer(line):
            out.setdefault(i, set()).update(c.strip() for c in m.group(1).split(",") if c.strip())
    return out


def _ignore_col(line: str, code: str) -> int:
    """The 1-based column of CODE inside the line's `ignore[...]` list (1 when not found)."""
    word = re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(code)}(?![A-Za-z0-9_-])")
    for m in _IGNORE.finditer(line):
        hit = word.search(line, m.start(1), m.end(1))
        if hit:
            return hit.start() + 1
    return 1


# Limits on what `extends` may do (README "Limits"): a parent is a regular file of at most
# MAX_RECIPE_BYTES, read once however many recipes extend it, at most MAX_EXTENDS_DEPTH extends
# from the recipe given (so a chain holds at most MAX_EXTENDS_DEPTH + 1 files).
MAX_EXTENDS_DEPTH = 32


def _read(path: str, span: Span | None, code: str) -> SourceFile:
    try:
        return SourceFile.read(path, limit=MAX_RECIPE_BYTES)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise DiagnosticError(Diagnostic(code, f"cannot read recipe {path}: {why}", span,
                                         hint="check the path")) from None


def _first_statement_line(text: str) -> int:
    """The 1-based line of TEXT's first line that is neither blank nor a comment (0: none)."""
    for i, line in enumerate(text.split("\n"), 1):
        bare = line.strip()
        if bare and not bare.startswith("#"):
            return i
    return 0


def _parse_parent(src: SourceFile, via: Span) -> ast.Recipe:
    """Parse a recipe named by `extends`; a file that is not a recipe at all (binary data, or a
    first line that is no statement) is P008 at the extends line, quoting nothing of the file."""
    why = None
    if "\x00" in src.text:
        why = "it holds binary data (a NUL byte), not recipe text"
    else:
        try:
            return parse(src)
        except DiagnosticError as exc:
            d = exc.diagnostics[0]
            if not (d.span and d.span.file == src.path and d.span.line == _first_statement_line(src.text)):
                raise
            why = "its first statement is not a recipe statement"
    raise DiagnosticError(Diagnostic("P008", f"cannot read recipe {src.path}: {why}", via,
                                     hint=f"extends names a recipe file (`recipec lint {src.path}` says "
                                          "what is wrong with a recipe)"))


class _Chain:
    """The extends graph of one load: each file read and parsed once (memoised by real path),
    cycles and chains deeper than MAX_EXTENDS_DEPTH stopped with a diagnostic."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceFile] = {}
        self.own: dict[str, tuple] = {}
        self.done: dict[str, list] = {}  # real path -> the statements it contributes as a parent

    def statements(self, p: str, via: Span | None, stack: tuple[str, ...]) -> list:
        real = os.path.realpath(p)
        if real in stack:
            raise DiagnosticError(Diagnostic("P007", f"recipes extend each other in a cycle: {p}", via,
                                             hint="remove one of the extends statements"))
        if via is not None and real in self.done:
            return self.done[real]
        if len(stack) > MAX_EXTENDS_DEPTH:
            raise DiagnosticError(Diagnostic(
                "P008", f"cannot read recipe {p}: more than {MAX_EXTENDS_DEPTH} extends in a row",
                via, hint="extend a recipe nearer the root of the chain"))
        src = _read(p, via, "P008" if via else "P009")
        tree = parse(src) if via is None else _parse_parent(src, via)
        self.sources[src.path] = src
        self.own[src.path] = tree.statements
        inherited: list = []
        for s in tree.statements:
            if isinstance(s, ast.Extends):
                parent = os.path.normpath(os.path.join(os.path.dirname(p), s.path))
                inherited = _merge(inherited, self.statements(parent, s.span, stack + (real,)))
        mine = [s for s in tree.statements if not isinstance(s, ast.Extends)]
        if via is not None:  # a parent's name is not the child's
            mine = [s for s in mine if not isinstance(s, ast.RecipeName)]
        merged = _merge(inherited, mine)
        if via is not None:
            self.done[real] = merged
        return merged


def load(path: str) -> Loaded:
    """Read, parse and validate the recipe at PATH (with the recipes it extends)."""
    with gc_paused():
        return _load(path)


def _load(path: str) -> Loaded:
    graph = _Chain()
    sources, own = graph.sources, graph.own
    diags: list[Diagnostic] = []

    try:
        statements = graph.statements(path, None, ())
    except DiagnosticError as exc:
        return Loaded(recipe=None, diagnostics=tuple(exc.diagnostics), sources=sources,
                      statements=(), own=own)
    top = sources.get(str(path))
    first = own.get(str(path), ())
    if not first or not isinstance(first[0], ast.RecipeName):
        where = first[0].span if first else Span.of_file(str(path))
        diags.append(Diagnostic("P006", 'the first statement must be `recipe "NAME"`', where,
                                hint='start the file with `recipe "my-recipe"`'))
    recipe = _build(path, top, statements, diags)
    for src in sources.values():
        for line, codes in ignored_codes(src).items():
            for c in sorted(codes):
                if c not in CODES:
                    col = _ignore_col(src.line(line), c)
                    guess = did_you_mean(c, CODES)
                    diags.append(Diagnostic("L013", f"unknown diagnostic code {c} in an ignore comment",
                                            Span(src.path, line, max(col, 1)),
                                            hint=f"did you mean {guess}?" if guess else None))
    return Loaded(recipe=recipe, diagnostics=tuple(diags), sources=sources,
                  statements=tuple(statements), own=own)


def _key(s) -> tuple | None:
    """Statements with the same key override each other (the later wins)."""
    if isinstance(s, (ast.RecipeName, ast.Arch, ast.Base, ast.Ladder, ast.Solver, ast.Target, ast.Mtp, ast.Errors)):
        return (type(s).__name__,)
    if isinstance(s, (ast.BudgetAmount, ast.BudgetFit)):
        return ("budget",)
    if isinstance(s, ast.Serve):
        return ("serve", s.setting)
    if isinstance(s, ast.Bound):
        return ("bound", s.kind, s.selectors)
    if isinstance(s, ast.Depth):
        return ("depth", s.layers)
    return None


def _merge(parent: list, child: list) -> list:
    """Parent statements, then the child's; a child statement replaces the parent's of the same key.

    A statement without a key (a tie) replaces only itself: a parent reached twice (two extends of
    one file, or of two files that extend it) contributes it once."""
    if not parent:  # nothing to replace (a recipe that extends none)
        return list(child)
    keys = {_merge_key(s) for s in child}
    return [s for s in parent if _merge_key(s) not in keys] + list(child)


def _merge_key(s) -> tuple:
    key = _key(s)
    return ("same", s) if key is None else key


# ----------------------------------------------------------------------------- building


def _type(w: ast.Word, diags: list[Diagnostic]) -> str | None:
    t = ggml.canonical_type(w.text)
    if t is None:
        guess = did_you_mean(w.text, ggml.TYPE_NAMES)
        diags.append(Diagnostic("P003", f"`{w.text}` is not a ggml type name", w.span,
                                hint=f"did you mean {guess}?" if guess else "types are names such as Q4_K, IQ4_XS, Q8_0"))
    return t


# The largest layer number (or count) a filter may name; no GGUF model has near this many blocks.
MAX_LAYER = 65_535


def _layers(f: ast.LayerFilter | None, diags: list[Diagnostic]) -> LayerSpec | None:
    if f is None:
        return None
    big = max((n for n in (f.a, f.b, *f.items) if n is not None), default=0)
    if big > MAX_LAYER:
        diags.append(Diagnostic("P005", f"layer {big} in `{f}` is past the largest layer number a filter may "
                                        f"name ({MAX_LAYER})", f.span,
                                hint="write `@trunk` for every trunk layer; `recipec roles --model M` lists a model's layers"))
        return LayerSpec(kind="trunk")
    if f.kind == "every" and f.a == 0:
        diags.append(Diagnostic("P005", f"`{f}` has a stride of 0", f.span, hint="write `every 1` for every layer"))
    if f.kind == "range" and f.a > f.b:
        diags.append(Diagnostic("P005", f"layer range {f.a}..{f.b} is empty: the start is after the end",
                                f.span, hint=f"write {f.b}..{f.a}"))
    if f.kind in ("first", "last") and f.a == 0:
        diags.append(Diagnostic("P005", f"`{f}` selects no layer", f.span, hint="count at least 1 layer"))
    if f.kind == "list":
        twice = sorted({n for n in f.items if f.items.count(n) > 1})
        if twice:
            diags.append(Diagnostic("P005", f"layer list `{f}` names layer {twice[0]} twice", f.span,
                                    hint="write `" + ",".join(map(str, dict.fromkeys(f.items))) + "`"))
    return LayerSpec(kind=f.kind, a=f.a, b=f.b, items=f.items)


# Limits on the values a recipe may write (README "Limits"); numbers are at most
# transformer.MAX_NUMBER_CHARS characters long before any of these is checked.
MAX_BYTES = 1 << 50  # sizes: budgets, devices, overheads (1 PiB)
MAX_CTX = 2**31 - 1  # context lengths: llama.cpp's int32
MAX_PARALLEL = 4096  # `parallel` sequences
MAX_SPEC_MTP = 1024  # `serve spec mtp` draft tokens
MAX_NGL = 1_000_000  # `serve ngl` layers (999 is the usual "all")
MAX_MULTIPLIER = 1000.0  # `depth … xM`


def _whole(n: ast.Number, lo: int, hi: int, what: str, diags: list[Diagnostic]) -> int | None:
    """N as a whole number in LO..HI, else P005 at N (None)."""
    if not n.is_int or not lo <= int(n.text) <= hi:
        diags.append(Diagnostic("P005", f"{what} takes a whole number from {lo:,} to {hi:,}, not {n.text}", n.span))
        return None
    return int(n.text)


def _size(n: ast.Number, unit: ast.Word, diags: list[Diagnostic], what: str) -> int | None:
    if unit.text not in SIZE_UNITS:
        guess = did_you_mean(unit.text, list(SIZE_UNITS) + (["bpw"] if what == "budget" else []))
        diags.append(Diagnostic("P010", f"`{unit.text}` is not a size unit ({what})", unit.span,
                                hint=f"did you mean {guess}?" if guess else "units: B KiB MiB GiB TiB KB MB GB TB, or bpw"))
        return None
    value = int(round(n.value * SIZE_UNITS[unit.text]))
    if value <= 0:
        diags.append(Diagnostic("P005", f"a {what} of {n.text} {unit.text} is not positive", n.span))
    elif value > MAX_BYTES:
        diags.append(Diagnostic("P005", f"a {what} of {n.text} {unit.text} is past 1 PiB, the largest size a "
                                f"recipe may give", n.span, hint="write the size in GiB or TiB"))
        return None
    return value


def _budget_amount(s: ast.BudgetAmount, diags: list[Diagnostic]) -> Budget | None:
    """`budget N UNIT` or `budget N bpw` (None when the amount is invalid)."""
    if s.unit.text == "bpw":
        if not 0 < s.amount.value <= 32:
            diags.append(Diagnostic("P005", f"{s.amount.text} bpw is not between 0 and 32", s.amount.span))
        return BpwBudget(bpw=s.amount.value, span=s.span)
    b = _size(s.amount, s.unit, diags, "budget")
    return SizeBudget(bytes=b, amount=s.amount.value, unit=s.unit.text, span=s.span) if b else None


def _budget_fit(s: ast.BudgetFit, diags: list[Diagnostic]) -> FitBudget | None:
    """`budget fit DEVICE ctx N kv T [parallel P] [overhead O]` (None when a value is invalid)."""
    dev = _size(s.device, s.device_unit, diags, "device size")
    over = _size(s.overhead, s.overhead_unit, diags, "overhead") if s.overhead else 0
    kv = s.kv.text.upper()
    if kv not in KV_CACHE_TYPES:
        guess = did_you_mean(s.kv.text, KV_CACHE_TYPES)
        diags.append(Diagnostic("P003", f"`{s.kv.text}` is not a KV cache type llama.cpp offers", s.kv.span,
                                hint=f"did you mean {guess.lower()}?" if guess else "cache types: " + " ".join(k.lower() for k in KV_CACHE_TYPES)))
    ctx = _whole(s.ctx, 1, MAX_CTX, "`ctx`", diags)
    parallel = _whole(s.parallel, 1, MAX_PARALLEL, "`parallel`", diags) if s.parallel is not None else 1
    if not (dev and ctx and parallel) or over is None:
        return None
    return FitBudget(device_bytes=dev, device_text=f"{s.device.text} {s.device_unit.text}", ctx=ctx,
                     kv_type=kv, parallel=parallel, overhead_bytes=over or 0, span=s.span)


def _serve(s: ast.Serve, diags: list[Diagnostic]) -> tuple[str, object]:
    """A `serve` setting as (ServeSettings field, value); invalid values become None."""
    key = s.setting.replace("-", "_").replace("spec", "spec_mtp")
    value: object = s.value
    limits = {"ctx": (1, MAX_CTX), "spec_mtp": (1, MAX_SPEC_MTP), "ngl": (0, MAX_NGL)}
    if key in limits and not (key == "ngl" and s.value in ("all", "auto")):
        lo, hi = limits[key]
        value = int(s.value) if s.value.isdigit() and len(s.value) <= 24 else None
        if value is None or not lo <= value <= hi:
            diags.append(Diagnostic("P005", f"`serve {s.setting}` takes a whole number from {lo:,} to {hi:,}, "
                                    f"not {s.value}", s.span))
            value = None
        elif key == "ngl":
            value = s.value
    if key == "cache_type":
        if s.value.upper() not in KV_CACHE_TYPES:
            diags.append(Diagnostic("P003", f"`{s.value}` is not a KV cache type llama.cpp offers", s.span,
                                    hint="cache types: " + " ".join(k.lower() for k in KV_CACHE_TYPES)))
        value = s.value.lower()
    return key, value


def _build(path: str, src: SourceFile | None, statements: list, diags: list[Diagnostic]) -> Recipe:
    fields: dict = {"bounds": [], "ties": [], "depth": [], "spans": {}}
    serve: dict = {"spans": {}}
    for s in statements:
        if isinstance(s, ast.RecipeName):
            fields["name"] = s.name
        elif isinstance(s, ast.Arch):
            fields["arch"] = tuple(w.text.lower() for w in s.names)
            fields["spans"]["arch"] = s.span
        elif isinstance(s, ast.Base):
            ft = ggml.canonical_ftype(s.ftype.text)
            if ft is None:
                guess = did_you_mean(s.ftype.text, ggml.FTYPE_NAMES)
                diags.append(Diagnostic("P004", f"`{s.ftype.text}` is not a llama-quantize FTYPE", s.ftype.span,
                                        hint=f"did you mean {guess}?" if guess else "FTYPEs are names such as Q4_K_M, IQ4_XS, Q8_0"))
            fields["base"] = ft
            fields["spans"]["base"] = s.ftype.span
        elif isinstance(s, ast.Ladder):
            types = [_type(w, diags) for w in s.types]
            fields["ladder"] = tuple(t for t in types if t)
            fields["spans"]["ladder"] = s.span
            fields["spans"].update({f"ladder:{t}": w.span for t, w in zip(types, s.types) if t})
        elif isinstance(s, ast.BudgetAmount):
            fields["budget"] = _budget_amount(s, diags)
        elif isinstance(s, ast.BudgetFit):
            fields["budget"] = _budget_fit(s, diags)
        elif isinstance(s, ast.Bound):
            t = _type(s.type, diags)
            sels = tuple(SelectorSpec(role=x.role, layers=_layers(x.layers, diags), text=str(x), span=x.span)
                         for x in s.selectors)
            if t:
                fields["bounds"].append(BoundRule(kind=s.kind, selectors=sels, type=t, span=s.span, type_span=s.type.span))
        elif isinstance(s, ast.Tie):
            if s.auto:
                fields["tie_auto"] = True
                fields["spans"]["tie_auto"] = s.span
            else:
                fields["ties"].append(TieRule(roles=tuple(w.text for w in s.roles), span=s.span))
        elif isinstance(s, ast.Depth):
            m = float(s.multiplier)
            if not 0 < m <= MAX_MULTIPLIER:
                diags.append(Diagnostic("P005", f"a depth multiplier must be above 0 and at most x{MAX_MULTIPLIER:g}, "
                                        f"not x{s.multiplier}", s.span))
                m = 1.0
            fields["depth"].append(DepthRule(layers=_layers(s.layers, diags), multiplier=m, span=s.span))
        elif isinstance(s, ast.Mtp):
            t = _type(s.type, diags) if s.type else None
            fields["mtp"] = MtpPolicy(policy=s.policy, type=t, outside_budget=s.outside_budget, span=s.span)
        elif isinstance(s, ast.Solver):
            fields["solver"] = s.name
            fields["spans"]["solver"] = s.span
        elif isinstance(s, ast.Errors):
            fields["errors"] = os.path.join(os.path.dirname(s.span.file), s.path)
            fields["spans"]["errors"] = s.span
        elif isinstance(s, ast.Target):
            fields["target"] = s.profile.text.lower()
            fields["spans"]["target"] = s.profile.span
        elif isinstance(s, ast.Serve):
            key, value = _serve(s, diags)
            serve[key] = value
            serve["spans"][key] = s.span
    fields["bounds"] = tuple(fields["bounds"])
    fields["ties"] = tuple(fields["ties"])
    fields["depth"] = tuple(fields["depth"])
    fields.setdefault("name", "")
    text = src.text if src else ""
    return Recipe(path=str(path), sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                  serve=ServeSettings(**serve), **fields)
