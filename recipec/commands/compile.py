"""Compile a recipe against a model into a plan and the quantization kit.

Runs lint -> resolve -> rules (self-checked) -> emit and writes DIR/plan.lock.json,
DIR/tensor-types.txt and the rest of the kit atomically: nothing is written on any error.
`--check` writes nothing and exits 1 when the files in DIR are not what compile would write.
"""

from __future__ import annotations

import sys

from recipec.exitcodes import EXIT_OK, exit_code
from recipec.output import differing, report_check, write_atomically
from recipec.report import print_text


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("recipe", metavar="RECIPE", nargs="+",
                        help="a recipe; several (or a FILE.release naming them) make a release: "
                             "one kit per recipe under DIR/NAME/")
    parser.add_argument("--model", metavar="M", help="GGUF (first shard) or manifest JSON "
                        "(default for a release file: the model it names)")
    parser.add_argument("--stock", action="append", default=[], metavar="FTYPE",
                        help="a release: also llama-quantize's own FTYPE mix, measured as a reference (repeat)")
    parser.add_argument("--errors", metavar="F", help="measured error file (recipec measure); "
                        "overrides the recipe's `errors` statement")
    parser.add_argument("--allow-imatrix-mismatch", action="store_true",
                        help="accept an imatrix made for another model (I107 becomes a warning)")
    parser.add_argument("--imatrix", action="append", default=[], metavar="I",
                        help="imatrix (GGUF, .dat or summary JSON); repeat to merge several")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="where the kit is written")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when DIR differs from what would be written")


def write_kit(files: dict[str, str], out_dir: str, check: bool, redo: str) -> int:
    """Write FILES into OUT_DIR (all or nothing), or with CHECK compare them; the exit code."""
    if check:
        return report_check(out_dir, differing(out_dir, files), redo)
    write_atomically(out_dir, files)
    return EXIT_OK


def run(args) -> int:
    from recipec.api import compile_recipe, render_plan
    from recipec.report import shown

    if len(args.recipe) > 1 or args.stock or args.recipe[0].endswith(".release") or args.model is None:
        from recipec.release.build import compile_release, release_args

        release = release_args(args)
        return release if isinstance(release, int) else compile_release(release)
    args.recipe = args.recipe[0]
    compiled = compile_recipe(args.recipe, args.model, args.imatrix, args.errors,
                              allow_imatrix_mismatch=args.allow_imatrix_mismatch)
    diags = list(compiled.diagnostics)
    rendered = render_plan(compiled.plan) if compiled.plan is not None else None
    if rendered is not None:
        diags += rendered.diagnostics
    print_text(diags, sys.stderr, compiled.sources)
    if rendered is None or not rendered.files or exit_code(diags) != EXIT_OK:
        return exit_code(diags)
    rc = write_kit(rendered.files, args.output, args.check, f"recipec compile {args.recipe} ... -o {args.output}")
    if rc == EXIT_OK and not args.check:
        t = compiled.plan.totals
        print(f"wrote {shown(args.output, newlines=False)} ({len(rendered.files)} files): "
              f"{t.file_bytes} bytes, {t.bpw:.3f} bpw, "
              f"solver {t.solver}, gap {100 * t.gap:.3f} %", file=sys.stderr)
    return rc
