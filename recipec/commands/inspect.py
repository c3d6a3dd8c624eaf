"""Write the manifest of a model GGUF, or the summary of one or more imatrices, as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipec.diagnostics import DiagnosticError, error
from recipec.exitcodes import exit_code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `recipec inspect`."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="a model GGUF (first shard), or imatrix files (GGUF, .dat, summary JSON)")
    parser.add_argument("-o", "--output", metavar="OUT.json", help="write here instead of stdout")
    parser.add_argument("--model", metavar="M",
                        help="with imatrices: report coverage against this model (GGUF or manifest)")


def _as_model(path: str):
    """ModelInfo when PATH is a model (GGUF or manifest), None when it should be an imatrix."""
    from recipec.gguffile import sniff
    from recipec.loaders import load_model, manifest_to_info

    kind = sniff(path, "U002")
    if kind == "gguf":
        try:
            return load_model(path)
        except DiagnosticError as exc:
            if exc.diagnostics[0].code == "M104":
                return None
            raise
    if kind == "json":
        from recipec.loaders.limits import read_json

        try:
            data = read_json(path, "M103", "a manifest", "")
        except DiagnosticError:
            return None  # reported by the imatrix reader
        if isinstance(data, dict) and str(data.get("schema", "")).startswith("recipec.manifest/"):
            return manifest_to_info(data, path)
    return None


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise error("E401", f"{output}: cannot write: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Inspect the files and write the JSON; return the exit code (coverage warnings do not count)."""
    from recipec.imatrix import coverage, merge
    from recipec.loaders import dumps_manifest, dumps_summary, load_imatrix, load_model
    from recipec.report import print_text

    models = [_as_model(f) for f in args.files]
    if any(m is not None for m in models):
        if len(args.files) > 1:
            raise error("U001", "give one model (its first shard finds the others), or only imatrices",
                        hint="recipec inspect MODEL.gguf -o MODEL.manifest.json")
        if args.model:
            raise error("U001", "--model goes with imatrix files, not with a model")
        _write(dumps_manifest(models[0]), args.output)
        return exit_code(())
    model = load_model(args.model) if args.model else None
    stats = merge(load_imatrix(f, model) for f in args.files)
    diags = []
    if model is not None:
        where = args.files[0] if len(args.files) == 1 else f"{len(args.files)} merged imatrices"
        diags = coverage(stats, model, where)
        if diags:
            print_text(diags, sys.stderr)
    _write(dumps_summary(stats), args.output)
    return exit_code(diags)
