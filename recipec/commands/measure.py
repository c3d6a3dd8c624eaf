"""Measure every quantized tensor's error at every type with the real llama-quantize: an error file."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from recipec.diagnostics import error
from recipec.exitcodes import exit_code


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return v


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `recipec measure`."""
    from recipec.defaults import DEFAULT_MIN_ROWS, DEFAULT_ROW_FRACTION, DEFAULT_TYPES

    parser.add_argument("model", metavar="MODEL.gguf", help="the model GGUF (first shard of a split model)")
    parser.add_argument("--imatrix", metavar="I", help="its imatrix (GGUF or .dat): errors are weighted by it")
    parser.add_argument("-o", "--output", required=True, metavar="ERRORS.json", help="the error file to write")
    parser.add_argument("--types", nargs="+", metavar="T", default=list(DEFAULT_TYPES),
                        help=f"types to measure (default: {' '.join(DEFAULT_TYPES)})")
    parser.add_argument("--row-fraction", type=_fraction, default=DEFAULT_ROW_FRACTION, metavar="F",
                        help="share of each tensor's rows sampled (default 1/32)")
    parser.add_argument("--min-rows", type=_positive, default=DEFAULT_MIN_ROWS, metavar="N",
                        help=f"at least N rows per tensor, or all of them (default {DEFAULT_MIN_ROWS})")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="row sampling seed (default 0)")
    parser.add_argument("--llama-quantize", metavar="PATH",
                        help="the llama-quantize binary (default: $LLAMA_QUANTIZE, else on PATH)")
    parser.add_argument("--work", metavar="DIR",
                        help="cache of samples and per-type results (default: ERRORS.json.work)")
    _add_probe_arguments(parser)


def _add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    from recipec.defaults import DEFAULT_CTX, DEFAULT_GRANULARITY, DEFAULT_HIGH_TYPE, DEFAULT_PROBE_TYPE, GRANULARITIES

    g = parser.add_argument_group("KLD probes (fit alpha with the real llama-perplexity)")
    g.add_argument("--kld", metavar="TEXT", help="a text file: run the KLD probes on it and fit alpha")
    g.add_argument("--probe", choices=GRANULARITIES, default=DEFAULT_GRANULARITY,
                   help=f"one probe per role, role x depth band, or tensor (default {DEFAULT_GRANULARITY})")
    g.add_argument("--probe-type", default=DEFAULT_PROBE_TYPE, metavar="T",
                   help=f"the type a probe gives its group (default {DEFAULT_PROBE_TYPE}; measured too)")
    g.add_argument("--high-type", default=DEFAULT_HIGH_TYPE, metavar="T",
                   help=f"the type of every other tensor (default {DEFAULT_HIGH_TYPE})")
    g.add_argument("--llama-perplexity", metavar="PATH",
                   help="the llama-perplexity binary (default: $LLAMA_PERPLEXITY, else beside llama-quantize, "
                        "else on PATH)")
    g.add_argument("--ctx", type=_positive, default=DEFAULT_CTX, metavar="N",
                   help=f"context of each evaluated chunk (default {DEFAULT_CTX})")
    g.add_argument("--chunks", type=_positive, metavar="N", help="evaluate the first N chunks only (default: all)")
    g.add_argument("--threads", type=_positive, metavar="N", help="llama-perplexity threads (default: its own)")


def _binary(arg: str | None) -> str:
    found = arg or os.environ.get("LLAMA_QUANTIZE") or shutil.which("llama-quantize")
    if not found:
        raise error("U003", "llama-quantize not found (no --llama-quantize, no $LLAMA_QUANTIZE, not on PATH)",
                    hint="build llama.cpp's llama-quantize and pass it with --llama-quantize PATH")
    return found


def run(args: argparse.Namespace) -> int:
    """Measure and write the error file; notes (types not measured, the probes' fit) go to stderr."""
    from recipec.measure import Options, Sampling, load_inputs, measure, write_errors
    from recipec.report import print_text

    work = Path(args.work) if args.work else Path(args.output).with_name(Path(args.output).name + ".work")
    quantize = _binary(args.llama_quantize)
    types = tuple(args.types) + ((args.probe_type,) if args.kld else ())
    popts = _probe_options(args, quantize) if args.kld else None
    opts = Options(llama_quantize=quantize, work=work, types=types,
                   sampling=Sampling(args.row_fraction, args.min_rows, args.seed))
    inputs = load_inputs(args.model, args.imatrix)
    errors, notes = measure(inputs, opts)
    if popts is not None:
        from recipec.measure.probes import probe

        errors, more = probe(inputs, errors, popts, quantize, work)
        notes += more
    write_errors(errors, args.output)
    if notes:
        print_text(notes, sys.stderr)
    fitted = f", alpha for {len(errors.alpha)} keys from {len(errors.probes) - 3} probes" if popts else ""
    print(f"measure: wrote {args.output} ({len(errors.tensors)} tensors, {len(errors.protocol.types)} types{fitted})",
          file=sys.stderr)
    return exit_code(notes)


def _probe_options(args: argparse.Namespace, quantize: str):
    from recipec.measure.perplexity import find_binary
    from recipec.measure.probes import ProbeOptions, check_types

    popts = ProbeOptions(text=Path(args.kld), llama_perplexity=find_binary(args.llama_perplexity, quantize),
                         granularity=args.probe, probe_type=args.probe_type, high_type=args.high_type,
                         ctx=args.ctx, chunks=args.chunks, threads=args.threads)
    check_types(popts)  # before the t² runs
    if not Path(args.kld).is_file():
        raise error("U002", f"--kld {args.kld}: no such file", hint="give the text the probes run on")
    return popts
