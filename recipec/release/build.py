"""Compiling a release: several recipes against one model and imatrix, read once.

`recipec compile A.recipe B.recipe … --model M --imatrix I -o REL` writes REL/A/, REL/B/ (each the
kit `recipec compile` writes for one recipe), then release.json, quantize-all.sh and eval.sh, then
the release card. Every recipe is compiled before anything is written: an error in any writes nothing.
`--stock FTYPE` adds llama-quantize's own FTYPE mix as a variant named FTYPE (a reference point,
marked `stock` in release.json); `recipec compile FILE.release -o REL` reads the recipes, stock
mixes, model and imatrix from a release file (releasefile.py).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.exitcodes import EXIT_OK, exit_code
from recipec.output import differing, report_check, write_atomically
from recipec.report import print_text
from recipec.release.releasefile import (is_release_file, missing_inputs, read_release_file, source_of,
                                         variant_name)
from recipec.release.scripts import Variant, render_release

if TYPE_CHECKING:
    from recipec.api import Compiled, Preloaded


@dataclass(frozen=True)
class ReleaseArgs:
    """What `recipec compile` was given for a release."""

    recipes: Sequence[str]
    model: str
    imatrix: Sequence[str]
    output: str
    errors: str | None = None
    allow_imatrix_mismatch: bool = False
    check: bool = False
    stock: Sequence[str] = ()  # FTYPEs whose stock mix is compiled as a reference variant


STOCK_PREFIX = "stock:"  # the recipe path a stock mix's plan records (it has no recipe file)


def stock_recipe(ftype: str) -> str:
    """The recipe of llama-quantize's own mix for FTYPE: a plain `base FTYPE`."""
    return f'recipe "{ftype}"\nbase {ftype}\n'


def release_args(args) -> ReleaseArgs | int:
    """The release the `compile` command line asks for: recipes and `--stock` FTYPEs, or one
    release file (its model and imatrix unless `--model`/`--imatrix` are given); else the exit code
    of the diagnostics printed."""

    files = [r for r in args.recipe if is_release_file(r)]
    recipes, stock, model, imatrix = list(args.recipe), list(args.stock), args.model, list(args.imatrix)
    try:
        if files and len(args.recipe) > 1:
            raise DiagnosticError(Diagnostic("U001", f"a release file is compiled alone: {', '.join(args.recipe)}",
                                             hint="name the other recipes in the release file (`variant PATH`)"))
        if files:
            rf = read_release_file(files[0])
            missing = missing_inputs(rf, model is None, not imatrix)
            if missing:
                raise DiagnosticError(missing)
            recipes, stock = [p for p, _ in rf.variants], [f for f, _ in rf.stock] + stock
            model = model or (rf.model[0] if rf.model else None)
            imatrix = imatrix or [p for p, _ in rf.imatrix]
        if model is None:
            where = f"{files[0]} names no model" if files else "compile needs the model"
            raise DiagnosticError(Diagnostic("U006" if files else "U001", f"{where}: give --model M",
                                             hint="or add `model PATH` to the release file" if files else None))
    except DiagnosticError as exc:
        print_text(exc.diagnostics, sys.stderr, source_of(files[0]) if files else None)
        return exit_code(exc.diagnostics)
    return ReleaseArgs(recipes, model, imatrix, args.output, args.errors, args.allow_imatrix_mismatch,
                       args.check, tuple(stock))


def duplicate_variants(recipes: Sequence[str], stock: Sequence[str] = ()) -> list[Diagnostic]:
    """U004 for each variant name two or more recipes (or stock mixes) would make (their kits would collide)."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in recipes:
        by_name[variant_name(path)].append(path)
    for ftype in stock:
        by_name[ftype].append(STOCK_PREFIX + ftype)
    return [Diagnostic("U004", f"variant {name!r} is made by {len(paths)} recipes: {', '.join(paths)}",
                       hint="rename one recipe file: a variant is named after its recipe file "
                            "(a stock mix after its FTYPE)")
            for name, paths in sorted(by_name.items()) if len(paths) > 1]


def _bad_names(recipes: Sequence[str]) -> list[Diagnostic]:
    """U001 for a recipe whose variant name cannot be a directory of the release."""
    bad = [p for p in recipes if not variant_name(p) or variant_name(p).startswith(".")
           or variant_name(p) in ("metrics", "images") or any(ord(c) < 32 for c in variant_name(p))]
    return [Diagnostic("U001", f"{p}: {variant_name(p)!r} cannot name a variant of a release",
                       hint="rename the recipe file (not hidden, not `metrics` or `images`, "
                            "no control characters)") for p in bad]


def _compile_stock(ftype: str, args: ReleaseArgs, pre: "Preloaded") -> "Compiled":
    """FTYPE's stock mix compiled like a recipe; its plan, spans and sources name `stock:FTYPE`
    instead of the temporary file it was read from (the same bytes wherever it is compiled)."""
    from recipec.api import Compiled, compile_recipe

    shown = STOCK_PREFIX + ftype
    with tempfile.TemporaryDirectory(prefix="recipec-stock-") as tmp:
        path = os.path.join(tmp, f"{ftype}.recipe")
        with open(path, "w", encoding="utf-8") as f:
            f.write(stock_recipe(ftype))
        c = compile_recipe(path, args.model, args.imatrix, args.errors,
                           allow_imatrix_mismatch=args.allow_imatrix_mismatch, preloaded=pre)
    diags = tuple(dataclasses.replace(d, span=dataclasses.replace(d.span, file=shown))
                  if d.span is not None and d.span.file == path else d for d in c.diagnostics)
    sources = {shown if k == path else k: dataclasses.replace(v, path=shown) if k == path else v
               for k, v in c.sources.items()}
    plan = c.plan
    if plan is not None:
        recipe = plan.inputs.recipe.model_copy(update={"path": shown})
        plan = plan.model_copy(update={"inputs": plan.inputs.model_copy(update={"recipe": recipe})})
    return Compiled(diags, sources, c.resolution, plan)


def _bad_stock(stock: Sequence[str]) -> list[Diagnostic]:
    """U001 for a `--stock` value that is not a llama-quantize FTYPE."""
    from recipec.ggml import canonical_ftype

    return [Diagnostic("U001", f"--stock {f!r}: not a llama-quantize FTYPE", hint="e.g. --stock Q4_K_M")
            for f in stock if canonical_ftype(f) is None]


def compile_variants(args: ReleaseArgs) -> tuple[list[Variant], dict[str, dict[str, str]], int]:
    """Every recipe (then every stock mix) compiled and rendered against the inputs, read once;
    (variants, kits, exit code)."""
    from recipec.api import Preloaded, compile_recipe, load_inputs, render_plan

    try:
        pre = Preloaded(*load_inputs(args.model, args.imatrix))
    except DiagnosticError as exc:
        print_text(exc.diagnostics, sys.stderr)
        return [], {}, exit_code(exc.diagnostics)
    variants, kits, worst = [], {}, EXIT_OK
    todo = [(variant_name(p), False, p) for p in args.recipes] + [(f, True, f) for f in args.stock]
    for name, stock, what in todo:
        compiled = (_compile_stock(what, args, pre) if stock else
                    compile_recipe(what, args.model, args.imatrix, args.errors,
                                   allow_imatrix_mismatch=args.allow_imatrix_mismatch, preloaded=pre))
        diags = list(compiled.diagnostics)
        rendered = render_plan(compiled.plan) if compiled.plan is not None else None
        if rendered is not None:
            diags += rendered.diagnostics
        print_text(diags, sys.stderr, compiled.sources)
        rc = exit_code(diags)
        if rendered is None or not rendered.files or rc != EXIT_OK:
            worst = max(worst, rc if rc != EXIT_OK else 2)
            continue
        kits[name] = rendered.files
        variants.append(Variant(name, compiled.plan, rendered.files["plan.lock.json"], stock))
    return variants, kits, worst


def _check(out_dir: str, kits: dict[str, dict[str, str]], release: dict[str, str], redo: str) -> int:
    changed = [f"{name}/{f}" for name, files in kits.items() for f in differing(os.path.join(out_dir, name), files)]
    return report_check(out_dir, changed + differing(out_dir, release), redo)


def compile_release(args: ReleaseArgs) -> int:
    """Compile, check or write the release; the exit code (diagnostics printed on stderr)."""
    from recipec.ggml import canonical_ftype
    from recipec.release.card import write_card

    args = dataclasses.replace(args, stock=tuple(canonical_ftype(f) or f for f in args.stock))
    pre_errors = duplicate_variants(args.recipes, args.stock) + _bad_names(args.recipes) + _bad_stock(args.stock)
    if pre_errors:
        print_text(pre_errors, sys.stderr)
        return exit_code(pre_errors)
    variants, kits, rc = compile_variants(args)
    if rc != EXIT_OK:
        print(f"{args.output}: nothing written (a recipe did not compile)", file=sys.stderr)
        return rc
    try:
        release = render_release(variants)
        if args.check:
            redo = " ".join([*args.recipes, *(f"--stock {f}" for f in args.stock)])
            return _check(args.output, kits, release, f"recipec compile {redo} ... -o {args.output}")
        for name, files in kits.items():
            write_atomically(os.path.join(args.output, name), files)
        write_atomically(args.output, release)
        write_card(args.output)
    except DiagnosticError as exc:
        print_text(exc.diagnostics, sys.stderr)
        return exit_code(exc.diagnostics)
    for v in variants:
        t = v.plan.totals
        print(f"wrote {args.output}/{v.name}: {t.file_bytes} bytes, {t.bpw:.3f} bpw", file=sys.stderr)
    print(f"wrote {args.output}: {len(variants)} variants, release.json, quantize-all.sh, eval.sh, bench-mtp.sh, "
          "README.md", file=sys.stderr)
    return EXIT_OK
