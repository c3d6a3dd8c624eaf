"""Compare two plans: per-tensor type and byte changes, grouped by role and layers, and the totals.

Exit 0 when no tensor changed, 1 when some did, 2 when a plan cannot be read or the plans are
of different models (V404; `--force` compares them anyway, with a warning).
"""

from __future__ import annotations

import sys

from recipec import jsonio
from recipec.exitcodes import exit_code
from recipec.report import print_text, shown


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("plan_a", metavar="PLAN_A", help="the old plan.lock.json")
    parser.add_argument("plan_b", metavar="PLAN_B", help="the new plan.lock.json")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--force", action="store_true", help="compare plans of different models anyway")


def run(args) -> int:
    """Print the differences from PLAN_A to PLAN_B; return the exit code."""
    from recipec.plan import Plan
    from recipec.plandiff import diff_dict, format_text, model_mismatch

    a, b = Plan.load(args.plan_a), Plan.load(args.plan_b)
    diags = model_mismatch(a, b, force=args.force)
    print_text(diags, sys.stderr)
    if exit_code(diags):
        return exit_code(diags)
    d = diff_dict(a, b)
    if args.format == "json":
        sys.stdout.write(jsonio.dumps(d))
    else:
        sys.stdout.write(shown(format_text(a, b)))
    return exit_code(diags, changed=bool(d["changed"]))
