"""Write the recipe of an existing quantized GGUF (or of a rule list run on a model).

The recipe is `base FTYPE` (the stock llama-quantize mix closest to the file) plus only the
tensors where the file differs, as `pin` statements merged by role and layer range, and an
`mtp keep` for an MTP block of one type. It compiles back to exactly the file's type for every
tensor. With `-o` it is written to OUT.recipe, else to stdout; a summary goes to stderr.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from recipec.diagnostics import Diagnostic, DiagnosticError, error
from recipec.exitcodes import exit_code
from recipec.report import print_text

if TYPE_CHECKING:  # imported when the command runs: it reads GGUFs (numpy, gguf)
    from recipec import importer


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("file", metavar="FILE",
                        help="a quantized GGUF (first shard of a split one), or a rule list / command line")
    parser.add_argument("--model", metavar="M", help="for a rule list: the model it runs on (GGUF or manifest)")
    parser.add_argument("--ftype", metavar="F", help="for a rule list: the run's FTYPE (else the one on a pasted "
                        "command line); for a GGUF: the base to write instead of the closest stock mix")
    parser.add_argument("--name", help="the recipe's name (default: the file's name)")
    parser.add_argument("-o", "--output", metavar="OUT.recipe", help="write the recipe here (default: stdout)")


def _ftype(name: str | None) -> str | None:
    from recipec import ggml

    if name is None:
        return None
    canon = ggml.canonical_ftype(name)
    if canon is None or canon in ggml.RULE_DISABLING_FTYPES:
        raise error("U001", f"`{name}` is not a quantized llama-quantize FTYPE", hint="e.g. --ftype Q4_K_M")
    return ggml.FTYPE_ALIASES.get(canon, canon)


def _import(args) -> importer.Imported:
    """The recipe of ARGS.file: a quantized GGUF or a rule list run on --model."""
    from recipec import importer
    from recipec.gguffile import sniff

    ftype = _ftype(args.ftype)
    kind = sniff(args.file, "U002")
    if kind == "json":
        raise error("U001", f"{args.file} is JSON: import reads the quantized GGUF itself (a manifest does "
                    "not record whether the file was made with an imatrix) or a rule list",
                    hint="recipec import FILE.gguf")
    if kind == "gguf":
        if args.model:
            raise error("U001", "--model is for rule lists: a GGUF is its own model",
                        hint=f"recipec import {args.file}")
        return importer.import_gguf(args.file, name=args.name, ftype=ftype)
    if not args.model:
        raise error("U001", f"{args.file} is not a GGUF, so it is read as a rule list: give --model",
                    hint=f"recipec import {args.file} --model MODEL.gguf")
    return importer.import_rules(args.file, args.model, name=args.name, ftype=ftype)


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as exc:
        raise DiagnosticError(Diagnostic("E401", f"cannot write {path}: {exc.strerror or exc}",
                                         hint="check the directory's permissions")) from None


def run(args) -> int:
    """Import FILE; write the recipe; print a one-line summary to stderr."""
    got = _import(args)
    print_text(got.diagnostics, sys.stderr, got.sources)
    if args.output:
        if os.path.isdir(args.output):
            raise error("U001", f"{args.output} is a directory; -o takes the recipe's file name")
        _write(args.output, got.text)
    else:
        sys.stdout.write(got.text)
    extra = f", mtp keep {got.mtp_keep}" if got.mtp_keep else ""
    print(f"recipec import: base {got.base}, {got.differing} of {got.quantized} quantized tensors differ "
          f"from its stock mix: {len(got.pins)} pin statement(s){extra}"
          + ("; made with an imatrix: compile with --imatrix" if got.imatrix else ""), file=sys.stderr)
    return exit_code(got.diagnostics)
