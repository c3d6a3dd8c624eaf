"""Write a release's card (README.md) and its pictures (images/) from its plans and metrics.

The release is a directory `recipec compile A.recipe B.recipe … -o DIR` wrote; metrics come from
its eval.sh (metrics/VARIANT.json), file sizes from the GGUFs when they exist. Exit 0 when the
card was written, 2 when DIR is not a release or cannot be written.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("release", metavar="DIR", help="the release directory")
    parser.add_argument("--gguf-dir", metavar="DIR",
                        help="where the GGUFs are, as DIR/VARIANT/FILE (default: the release directory)")


def run(args) -> int:
    """Write DIR/README.md and DIR/images/; return the exit code."""
    import sys

    from recipec.exitcodes import EXIT_OK
    from recipec.release.card import write_card
    from recipec.report import print_text

    release = write_card(args.release, args.gguf_dir)
    print_text(release.warnings, sys.stderr)
    measured = sum(m.metrics is not None for m in release.members)
    print(f"wrote {args.release}/README.md: {len(release.members)} variants, {measured} measured",
          file=sys.stderr)
    return EXIT_OK
