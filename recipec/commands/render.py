"""Re-render the kit of a compiled plan from plan.lock.json alone (no recipe, model or imatrix).

The files are byte-identical to what `compile` wrote for that plan, so a fixed or newer
template can be re-applied to committed plans. `--check` writes nothing and exits 1 when DIR
differs.
"""

from __future__ import annotations

import sys

from recipec.commands.compile import write_kit
from recipec.exitcodes import EXIT_OK, exit_code
from recipec.report import print_text


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("plan", metavar="PLAN", help="plan.lock.json written by `recipec compile`")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="where the kit is written")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when DIR differs from what would be written")


def run(args) -> int:
    from recipec.api import load_plan, render_plan
    from recipec.report import shown

    plan, diags = load_plan(args.plan)
    rendered = render_plan(plan) if plan is not None else None
    if rendered is not None:
        diags += rendered.diagnostics
    print_text(diags, sys.stderr)
    if rendered is None or exit_code(diags) != EXIT_OK:
        return exit_code(diags)
    rc = write_kit(rendered.files, args.output, args.check, f"recipec render {args.plan} -o {args.output}")
    if rc == EXIT_OK and not args.check:
        print(f"wrote {shown(args.output, newlines=False)} ({len(rendered.files)} files) "
              f"from {shown(args.plan, newlines=False)}", file=sys.stderr)
    return rc
