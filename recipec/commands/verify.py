"""Check a quantized GGUF (all shards) against its plan.lock.json, tensor by tensor.

Every tensor's type, shape and bytes are compared; tensors missing from the file or not in the
plan are listed. Exit 0 when the file is what the plan says, 1 when it differs, 2 when a file
cannot be read.
"""

from __future__ import annotations

import sys

from recipec import jsonio
from recipec.exitcodes import exit_code
from recipec.report import shown

JSON_SCHEMA = "recipec.verify/1"


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("plan", metavar="PLAN", help="plan.lock.json written by `recipec compile`")
    parser.add_argument("gguf", metavar="GGUF", nargs="+", help="the quantized file (every shard of a split file)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args) -> int:
    """Compare the files with the plan; print the differences; return the exit code."""
    from recipec.plan import Plan
    from recipec.verify import verify

    plan = Plan.load(args.plan)
    diffs = verify(plan, args.gguf)
    if args.format == "json":
        doc = {"schema": JSON_SCHEMA, "plan": args.plan, "files": list(args.gguf), "ok": not diffs,
               "tensors": len(plan.tensors),
               "differences": [{"name": d.name, "kind": d.kind, "planned": d.planned, "found": d.found}
                               for d in diffs]}
        sys.stdout.write(jsonio.dumps(doc))
    else:
        for d in diffs:
            sys.stdout.write(shown(f"{d}\n"))
    if diffs:
        names = len({d.name for d in diffs})
        print(f"recipec verify: V401 {names} of {len(plan.tensors)} tensor(s) differ from the plan", file=sys.stderr)
    else:
        print(f"recipec verify: all {len(plan.tensors)} tensors match the plan", file=sys.stderr)
    return exit_code((), changed=bool(diffs))
