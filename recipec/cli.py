"""The command line: `run(argv) -> int`, one module per command under recipec/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from recipec import __version__
from recipec.diagnostics import Diagnostic, DiagnosticError

# Exit codes (the contract): 0 clean; 1 findings; 2 usage, unreadable input or internal error.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

# The explicit command registry: name -> module under recipec.commands (add_arguments, run).
COMMANDS: dict[str, str] = {
    "lint": "lint",
    "fmt": "fmt",
    "inspect": "inspect",
    "compile": "compile",
    "explain": "explain",
    "simulate": "simulate",
    "verify": "verify",
    "diff": "diff",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors are diagnostics too, exit 2
        raise DiagnosticError(Diagnostic("U001", message, hint=f"see `{self.prog} --help`"))


def _available() -> dict[str, object]:
    mods = {}
    for name, mod in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(f"recipec.commands.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"recipec.commands.{mod}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recipec", description="Compile llama.cpp quantization recipes.")
    parser.add_argument("--version", action="version", version=f"recipec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, mod in _available().items():
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        p = sub.add_parser(name, help=doc, description=doc)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Run recipec with ARGV (without the program name); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_ERROR
        if not getattr(args, "_run", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return int(args._run(args))
    except DiagnosticError as exc:
        from recipec.report import print_text

        print_text(exc.diagnostics, sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("recipec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception:  # the last line of defence: a bug, reported as one
        from recipec.report import print_text

        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        print_text([Diagnostic("X001", f"internal error: {detail}",
                               hint="please report this with the recipe and command")], sys.stderr)
        return EXIT_ERROR


def main() -> None:
    sys.exit(run())
